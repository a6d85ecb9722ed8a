//! The caller of an admin API request: a bearer access token issued by Plinto (verified by the
//! same checker as UserInfo), turned into a [`Caller`] by [`crate::admin::access`].

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::tenant;
use serde_json::Value;

use super::problem::{Kind, Problem};
use crate::admin::access::{self, Caller, Refused};
use crate::audit::RequestMeta;
use crate::oidc::tokens;
use crate::state::AppState;

const CHALLENGE: &str = "Bearer realm=\"plinto-admin\"";

fn unauthorized(detail: &str, error: Option<&str>) -> Problem {
    let mut p = Problem::new(Kind::Unauthorized, detail);
    p.challenge = Some(match error {
        Some(e) => format!("{CHALLENGE}, error=\"{e}\""),
        None => CHALLENGE.to_string(),
    });
    p
}

fn invalid_token() -> Problem {
    unauthorized(
        "the access token is invalid, expired or revoked",
        Some("invalid_token"),
    )
}

/// The bearer token of the request.
fn bearer(req: &HttpRequest) -> Result<&str, Problem> {
    let Some(v) = req.headers().get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            "send an access token with the admin scope as Authorization: Bearer",
            None,
        ));
    };
    let v = v.to_str().map_err(|_| invalid_token())?;
    match v.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(unauthorized(
            "send an access token with the admin scope as Authorization: Bearer",
            None,
        )),
    }
}

/// The tenant a token claims to come from (its `iss`), before anything is verified: only to
/// know whose keys verify it.
fn claimed_tenant(state: &AppState, token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.as_bytes()).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let iss = claims.get("iss")?.as_str()?;
    let prefix = format!("{}/t/", state.config.public_url());
    let slug = iss.strip_prefix(&prefix)?;
    (!slug.is_empty() && !slug.contains('/')).then(|| slug.to_string())
}

/// Who is calling, and where the request came from (for audit events).
pub async fn caller(state: &AppState, req: &HttpRequest) -> Result<(Caller, RequestMeta), Problem> {
    let meta = crate::http::request_meta(req, state.config.trust_forwarded_headers);
    let token = bearer(req)?;
    // A token that names no tenant of ours counts against the bootstrap tenant's failures.
    let claimed = match claimed_tenant(state, token) {
        Some(slug) => state.tenant(&slug).await?,
        None => None,
    };
    let named = claimed.is_some();
    let Some(tenant) = (match claimed {
        Some(t) => Some(t),
        None => state.tenant(crate::tenants::DEFAULT_TENANT).await?,
    }) else {
        return Err(invalid_token());
    };
    state
        .may_try_credentials(&tenant, meta.ip.as_deref())
        .await
        .map_err(|r| {
            let mut p = Problem::from(r);
            if p.retry_after.is_some() {
                p.detail = crate::ratelimit::AUTH_FAILURES.into();
            }
            p
        })?;
    let checked = if named {
        tokens::check_access_token(state, &tenant, token).await?
    } else {
        None
    };
    let Some(at) = checked else {
        state.credentials_failed(&tenant, meta.ip.as_deref()).await;
        return Err(invalid_token());
    };
    let scope = at.claims.get("scope").and_then(Value::as_str).unwrap_or("");
    let client_id = at
        .claims
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    match access::caller(&tenant, scope, client_id, at.user.as_ref()) {
        Ok(c) => {
            state
                .limit(Some(&tenant), crate::ratelimit::Kind::Admin, &c.actor)
                .await?;
            Ok((c, meta))
        }
        Err(Refused::Scope) => {
            let mut p = Problem::new(
                Kind::Forbidden,
                "the access token lacks the admin or admin:read scope",
            );
            p.challenge = Some(format!(
                "{CHALLENGE}, error=\"insufficient_scope\", scope=\"{}\"",
                access::SCOPE_ADMIN_READ
            ));
            Err(p)
        }
        Err(Refused::NotAdmin) => Err(Problem::new(
            Kind::Forbidden,
            "the token's user is not an active administrator",
        )),
    }
}

/// A write needs the `admin` scope; `admin:read` is refused.
pub fn writes(caller: &Caller) -> Result<(), Problem> {
    if caller.write {
        Ok(())
    } else {
        let mut p = Problem::new(
            Kind::Forbidden,
            "the admin:read scope does not allow changes: use a token with the admin scope",
        );
        p.challenge = Some(format!(
            "{CHALLENGE}, error=\"insufficient_scope\", scope=\"{}\"",
            access::SCOPE_ADMIN
        ));
        Err(p)
    }
}

/// The tenant with this slug, if the caller reaches it; "not found" otherwise, as for a
/// tenant that does not exist.
pub async fn tenant(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> Result<tenant::Model, Problem> {
    match crate::tenants::find_by_slug(&state.db, slug).await? {
        Some(t) if caller.reaches(&t) => Ok(t),
        _ => Err(Problem::not_found("tenant")),
    }
}
