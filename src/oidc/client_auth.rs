//! Client authentication at the token, introspection and revocation endpoints (RFC 6749
//! §2.3, OpenID Connect Core §9): `client_secret_basic`, `client_secret_post`,
//! `private_key_jwt` (RFC 7523) and `none`. A client registered with an explicit method must
//! use it; one registered without accepts both secret methods (see
//! [`clients::auth_methods`]). Anything else is `invalid_client` (401).

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use entity::{client, tenant};
use josekit::jwk::Jwk;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::error::OAuthError;
use crate::clients;
use crate::http::form::Form;
use crate::keys;
use crate::state::AppState;

pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock difference tolerated between the client and Plinto (on `exp` and `nbf`).
const CLOCK_SKEW_SECS: i64 = 60;

fn bad(d: &str) -> OAuthError {
    OAuthError::invalid_client(d)
}

/// `application/x-www-form-urlencoded` decoding of one Basic credential part (RFC 6749 §2.3.1).
fn form_decode(s: &str) -> Option<String> {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| bad("malformed Authorization header"))?;
    let Some((scheme, b64)) = value.split_once(' ') else {
        return Err(bad("malformed Authorization header"));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad(
            "only Basic client authentication is accepted in the header",
        ));
    }
    let decoded = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| bad("malformed Basic credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| bad("malformed Basic credentials"))?;
    match (form_decode(id), form_decode(secret)) {
        (Some(id), Some(secret)) if !id.is_empty() => Ok(Some((id, secret))),
        _ => Err(bad("malformed Basic credentials")),
    }
}

async fn load(
    state: &AppState,
    tenant: &tenant::Model,
    client_id: &str,
) -> Result<client::Model, OAuthError> {
    state
        .client(tenant.id, client_id)
        .await?
        .ok_or_else(|| bad("client authentication failed"))
}

fn method_must_be(client: &client::Model, method: &str) -> Result<(), OAuthError> {
    let accepted = clients::auth_methods(client);
    if accepted.contains(&method) {
        Ok(())
    } else {
        Err(bad(&format!(
            "this client authenticates with {}, not {method}",
            accepted.join(" or ")
        )))
    }
}

/// Who is calling. `token_endpoint` is the URL client assertions must be addressed to.
pub async fn authenticate(
    state: &AppState,
    tenant: &tenant::Model,
    req: &HttpRequest,
    form: &Form,
    token_endpoint: &str,
) -> Result<client::Model, OAuthError> {
    let basic = basic_credentials(req)?;
    let form_secret = form.opt("client_secret");
    let assertion = form.opt("client_assertion");
    let methods = [basic.is_some(), form_secret.is_some(), assertion.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    let form_id = form.opt("client_id");
    if let Some((id, secret)) = basic {
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the Authorization header",
            ));
        }
        let client = load(state, tenant, &id).await?;
        method_must_be(&client, "client_secret_basic")?;
        if !clients::verify_secret(&state.keys.client_secret, &client, &secret) {
            return Err(bad("client authentication failed"));
        }
        return Ok(client);
    }
    if let Some(secret) = form_secret {
        let id = form_id.ok_or_else(|| bad("client_id is missing"))?;
        let client = load(state, tenant, id).await?;
        method_must_be(&client, "client_secret_post")?;
        if !clients::verify_secret(&state.keys.client_secret, &client, secret) {
            return Err(bad("client authentication failed"));
        }
        return Ok(client);
    }
    if let Some(assertion) = assertion {
        if form.text("client_assertion_type") != JWT_BEARER_ASSERTION {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {JWT_BEARER_ASSERTION}"
            )));
        }
        return private_key_jwt(state, tenant, assertion, form_id, token_endpoint).await;
    }
    let Some(id) = form_id else {
        return Err(bad("client authentication is required"));
    };
    let client = load(state, tenant, id).await?;
    method_must_be(&client, "none")?;
    Ok(client)
}

/// The claims of a JWT, read before its signature is checked (to find the client and key).
fn unverified_claims(jwt: &str) -> Option<serde_json::Map<String, Value>> {
    let mut parts = jwt.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The client's JWK Set: registered inline, or fetched from its `jwks_uri` (cached 5 minutes).
async fn client_jwks(state: &AppState, client: &client::Model) -> Result<Value, OAuthError> {
    if let Some(inline) = &client.jwks {
        return serde_json::from_str(inline).map_err(|_| bad("the client's JWK Set is invalid"));
    }
    let Some(uri) = &client.jwks_uri else {
        return Err(bad("the client has no keys"));
    };
    let cache_key = format!("client-jwks:{}", client.client_id);
    if let Ok(Some(cached)) = state.cache.get(&cache_key).await
        && let Ok(v) = serde_json::from_str(&cached)
    {
        return Ok(v);
    }
    let res = state.http.get(uri).send().await.map_err(|e| {
        tracing::warn!(client_id = %client.client_id, error = %e, "cannot fetch jwks_uri");
        bad("the client's jwks_uri cannot be fetched")
    })?;
    if !res.status().is_success() {
        return Err(bad("the client's jwks_uri cannot be fetched"));
    }
    let text = res
        .text()
        .await
        .map_err(|_| bad("the client's jwks_uri cannot be fetched"))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|_| bad("the client's JWK Set is invalid"))?;
    let _ = state
        .cache
        .set(&cache_key, &text, std::time::Duration::from_secs(300))
        .await;
    Ok(v)
}

async fn private_key_jwt(
    state: &AppState,
    tenant: &tenant::Model,
    assertion: &str,
    form_id: Option<&str>,
    token_endpoint: &str,
) -> Result<client::Model, OAuthError> {
    let claims = unverified_claims(assertion).ok_or_else(|| bad("malformed client assertion"))?;
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    if iss.is_empty() || iss != sub {
        return Err(bad(
            "the assertion's iss and sub must both be the client_id",
        ));
    }
    if form_id.is_some_and(|f| f != sub) {
        return Err(OAuthError::invalid_request(
            "client_id does not match the client assertion",
        ));
    }
    let client = load(state, tenant, sub).await?;
    method_must_be(&client, "private_key_jwt")?;

    let header =
        josekit::jwt::decode_header(assertion).map_err(|_| bad("malformed client assertion"))?;
    let alg = header
        .claim("alg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let kid = header
        .claim("kid")
        .and_then(Value::as_str)
        .map(str::to_string);
    let jwks = client_jwks(state, &client).await?;
    let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
    let verified = keys.iter().any(|k| {
        if kid.is_some() && k.get("kid").and_then(Value::as_str) != kid.as_deref() {
            return false;
        }
        if k.get("alg")
            .and_then(Value::as_str)
            .is_some_and(|a| a != alg)
        {
            return false;
        }
        // An assertion without `kid` (authlib's default) may be verified by any of the keys;
        // josekit insists on a matching `kid` when the key has one, so it is dropped here.
        let mut k = k.clone();
        if kid.is_none()
            && let Some(m) = k.as_object_mut()
        {
            m.remove("kid");
        }
        let Ok(jwk) = Jwk::from_bytes(k.to_string()) else {
            return false;
        };
        keys::verifier_for(&alg, &jwk)
            .is_some_and(|v| josekit::jwt::decode_with_verifier(assertion, v.as_ref()).is_ok())
    });
    if !verified {
        return Err(bad("the client assertion's signature does not verify"));
    }

    let now = state.now().timestamp();
    let issuer = state.config.issuer(&tenant.slug);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == token_endpoint || *a == issuer,
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .any(|a| a == token_endpoint || a == issuer),
        _ => false,
    };
    if !aud_ok {
        return Err(bad(
            "the client assertion is not addressed to this token endpoint",
        ));
    }
    // At most the client's maximum lifetime ahead (one hour by default: authlib's), plus skew.
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let max = clients::max_assertion_lifetime_secs(&client);
    if exp.saturating_add(CLOCK_SKEW_SECS) <= now
        || exp > now.saturating_add(max).saturating_add(CLOCK_SKEW_SECS)
    {
        return Err(bad("the client assertion is expired or lives too long"));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECS)
    {
        return Err(bad("the client assertion is not valid yet"));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| bad("the client assertion needs a jti"))?;
    let ttl = Duration::seconds(exp.saturating_sub(now).saturating_add(CLOCK_SKEW_SECS))
        .to_std()
        .unwrap_or_default();
    let seen = state
        .cache
        .incr(
            &format!("assertion-jti:{}:{}", client.client_id, jti),
            ttl.max(std::time::Duration::from_secs(1)),
        )
        .await
        .map_err(crate::error::DomainError::from)?;
    if seen > 1 {
        return Err(bad("the client assertion was used before"));
    }
    Ok(client)
}
