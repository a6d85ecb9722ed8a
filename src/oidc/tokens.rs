//! Minting and checking the JWTs of the OpenID Provider: access tokens (RFC 9068, `at+jwt`)
//! and ID tokens (OpenID Connect Core §2). Both are signed with the client's
//! `id_token_signed_response_alg` by the tenant's active key of that algorithm.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use entity::{client, grant, tenant, user};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};
use uuid::Uuid;

use super::claims;
use crate::error::DomainResult;
use crate::grants;
use crate::keys::{self, Alg};
use crate::state::AppState;

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

pub fn client_alg(client: &client::Model) -> Alg {
    Alg::parse(&client.id_token_signed_response_alg).unwrap_or(Alg::Rs256)
}

/// What an access token is about.
pub struct AccessToken<'a> {
    pub sub: &'a str,
    pub scope: &'a str,
    pub grant_id: Option<Uuid>,
    pub auth_time: Option<DateTime<Utc>>,
    pub session_id: Option<Uuid>,
}

/// A signed access token, its `jti` and lifetime in seconds.
pub async fn access_token(
    state: &AppState,
    tenant: &tenant::Model,
    client: &client::Model,
    at: AccessToken<'_>,
) -> DomainResult<(String, i64)> {
    let now = state.now();
    let ttl = state.config.access_token_ttl_secs as i64;
    let issuer = state.config.issuer(&tenant.slug);
    let mut c = Map::new();
    c.insert("iss".into(), json!(issuer));
    c.insert("sub".into(), json!(at.sub));
    c.insert("aud".into(), json!(issuer));
    c.insert("client_id".into(), json!(client.client_id));
    c.insert("scope".into(), json!(at.scope));
    c.insert("jti".into(), json!(grants::access_token_id(at.grant_id)?));
    c.insert("iat".into(), json!(now.timestamp()));
    c.insert(
        "exp".into(),
        json!((now + Duration::seconds(ttl)).timestamp()),
    );
    if let Some(t) = at.auth_time {
        c.insert("auth_time".into(), json!(t.timestamp()));
    }
    if let Some(sid) = at.session_id {
        c.insert("sid".into(), json!(sid.to_string()));
    }
    let jwt = keys::sign(
        &state.db,
        &state.key_cache,
        &state.keys.signing,
        state.key_scope(tenant.id),
        client_alg(client),
        ACCESS_TOKEN_TYP,
        c,
    )
    .await?;
    Ok((jwt, ttl))
}

/// `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the hash of the access token,
/// with the hash of the signing algorithm (SHA-512 for EdDSA over Ed25519).
pub fn at_hash(alg: Alg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        Alg::Rs256 | Alg::Es256 => Sha256::digest(access_token.as_bytes()).to_vec(),
        Alg::EdDsa => Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// What an ID token is about.
pub struct IdToken<'a> {
    pub user: &'a user::Model,
    pub grant: &'a grant::Model,
    /// The scope of this token response (a refresh may narrow the grant's).
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub access_token: Option<&'a str>,
}

pub async fn id_token(
    state: &AppState,
    tenant: &tenant::Model,
    client: &client::Model,
    t: IdToken<'_>,
) -> DomainResult<String> {
    let now = state.now();
    let alg = client_alg(client);
    let scopes: Vec<&str> = t.scope.split(' ').collect();
    let claims_request: Option<Value> = t
        .grant
        .claims
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok());
    let mut c = claims::for_user(
        t.user,
        &scopes,
        claims::requested(claims_request.as_ref(), "id_token"),
    );
    c.insert("iss".into(), json!(state.config.issuer(&tenant.slug)));
    c.insert("aud".into(), json!(client.client_id));
    c.insert("azp".into(), json!(client.client_id));
    c.insert("iat".into(), json!(now.timestamp()));
    c.insert(
        "exp".into(),
        json!((now + Duration::seconds(state.config.id_token_ttl_secs as i64)).timestamp()),
    );
    if let Some(auth_time) = t.grant.auth_time {
        c.insert("auth_time".into(), json!(auth_time.timestamp()));
    }
    if let Some(nonce) = t.nonce {
        c.insert("nonce".into(), json!(nonce));
    }
    // RFC 8176 methods of the sign-in behind the grant, and the level they reach.
    let amr: Vec<&str> = t.grant.amr.split(' ').filter(|m| !m.is_empty()).collect();
    c.insert("amr".into(), json!(amr));
    c.insert("acr".into(), json!(crate::mfa::acr_of(&t.grant.amr)));
    if let Some(sid) = t.grant.session_id {
        c.insert("sid".into(), json!(sid.to_string()));
    }
    if let Some(at) = t.access_token {
        c.insert("at_hash".into(), json!(at_hash(alg, at)));
    }
    keys::sign(
        &state.db,
        &state.key_cache,
        &state.keys.signing,
        state.key_scope(tenant.id),
        alg,
        "JWT",
        c,
    )
    .await
}

/// A JWT this tenant signed with a published key: its header and claims (see [`keys::verify`]).
pub async fn verified(
    state: &AppState,
    tenant: &tenant::Model,
    token: &str,
) -> DomainResult<Option<(josekit::jws::JwsHeader, Map<String, Value>)>> {
    keys::verify(
        &state.db,
        &state.key_cache,
        state.key_scope(tenant.id),
        token,
    )
    .await
}

/// A live access token of this tenant: signature, type, issuer and expiry checked, and neither
/// the token nor its grant revoked. `None` otherwise.
pub async fn check_access_token(
    state: &AppState,
    tenant: &tenant::Model,
    token: &str,
) -> DomainResult<Option<LiveToken>> {
    let now = state.now();
    let Some((header, c)) = verified(state, tenant, token).await? else {
        return Ok(None);
    };
    let typ_ok = header
        .token_type()
        .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP));
    let iss_ok = c.get("iss").and_then(Value::as_str) == Some(&state.config.issuer(&tenant.slug));
    let exp_ok = c
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp > now.timestamp());
    let Some(jti) = c.get("jti").and_then(Value::as_str) else {
        return Ok(None);
    };
    if !(typ_ok && iss_ok && exp_ok) {
        return Ok(None);
    }
    // A deleted client's tokens die with it: at once for tokens under a grant (the grant is
    // revoked), within the read-cache TTL on other nodes for the rest.
    let Some(client_id) = c.get("client_id").and_then(Value::as_str) else {
        return Ok(None);
    };
    if state.client(tenant.id, client_id).await?.is_none() {
        return Ok(None);
    }
    let (grant, user) = match grants::grant_of_access_token(jti) {
        Some(grant_id) => match grants::live_grant_with_user(&state.db, grant_id).await? {
            Some((grant, user)) => (Some(grant), user),
            None => return Ok(None),
        },
        None => (None, None),
    };
    if grants::access_token_revoked(&state.db, jti).await? {
        return Ok(None);
    }
    Ok(Some(LiveToken {
        claims: c,
        grant,
        user,
    }))
}

/// A live access token: its claims and, for a user's token, its grant and user (read together).
pub struct LiveToken {
    pub claims: Map<String, Value>,
    pub grant: Option<grant::Model>,
    pub user: Option<user::Model>,
}

/// An ID token this tenant issued (for `id_token_hint`): signature and issuer checked; expiry
/// is not (a hint may be expired). Returns its claims.
pub async fn check_id_token_hint(
    state: &AppState,
    tenant: &tenant::Model,
    token: &str,
) -> DomainResult<Option<Map<String, Value>>> {
    let Some((header, c)) = verified(state, tenant, token).await? else {
        return Ok(None);
    };
    if header
        .token_type()
        .is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP))
    {
        return Ok(None);
    }
    let iss_ok = c.get("iss").and_then(Value::as_str) == Some(&state.config.issuer(&tenant.slug));
    Ok(iss_ok.then_some(c))
}
