//! `{issuer}/oauth2/introspect` (RFC 7662): an authenticated client of the tenant asks whether
//! a token is active. Access tokens (JWT) and refresh tokens are both understood; anything
//! else, or anything revoked or expired, is `{"active": false}`. A token is shown only to the
//! client it was issued to, or (access tokens) to a resource server named in its `aud`; to
//! any other client it is `{"active": false}` too, so a client learns nothing about tokens it
//! is not meant to see.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use entity::tenant;
use serde_json::{Value, json};

use super::error::OAuthError;
use super::token;
use super::tokens;
use crate::accounts::users;
use crate::grants;
use crate::http::cors;
use crate::ratelimit::Kind;
use crate::state::AppState;

async fn introspect(
    state: &AppState,
    tenant: &tenant::Model,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let form = token::read_form(req, body)?;
    let caller = token::client(state, tenant, req, &form, Kind::Introspection).await?;
    // A public client cannot prove who it is: it may not probe tokens (RFC 7662 §4).
    if caller.auth_method == "none" {
        return Err(OAuthError::invalid_client(
            "introspection needs a confidential client",
        ));
    }
    let Some(t) = form.opt("token") else {
        return Err(OAuthError::invalid_request("token is missing"));
    };
    if let Some(at) = tokens::check_access_token(state, tenant, t).await? {
        if !meant_for(&at.claims, &caller.client_id) {
            return Ok(json!({ "active": false }));
        }
        // A user's token dies with the user's account.
        let user_token = at.grant.as_ref().is_some_and(|g| g.user_id.is_some());
        if user_token && at.user.as_ref().is_none_or(|u| u.disabled) {
            return Ok(json!({ "active": false }));
        }
        let c = at.claims;
        let mut out = json!({ "active": true, "token_type": "Bearer" });
        for name in [
            "scope",
            "client_id",
            "sub",
            "exp",
            "iat",
            "iss",
            "aud",
            "jti",
            "auth_time",
        ] {
            if let Some(v) = c.get(name) {
                out[name] = v.clone();
            }
        }
        return Ok(out);
    }
    if let Some((refresh, grant)) =
        grants::refresh_token_grant(&state.db, state.now(), &state.keys.tokens, tenant.id, t)
            .await?
        // Refresh tokens are shown to the client that holds them, and to no other.
        && grant.client_id == caller.client_id
        // Without offline_access they end with the browser session.
        && grants::session_live(&state.db, state.now(), state.timeouts().idle, &grant, false).await?
    {
        let mut out = json!({
            "active": true,
            "scope": grant.scope,
            "client_id": grant.client_id,
            "iss": state.config.issuer(&tenant.slug),
            "iat": refresh.created_at.timestamp(),
            "exp": refresh.expires_at.timestamp(),
        });
        if let Some(uid) = grant.user_id
            && let Some(u) = users::find(&state.db, tenant.id, uid).await?
        {
            if u.disabled {
                return Ok(json!({ "active": false }));
            }
            out["sub"] = json!(u.sub);
        }
        return Ok(out);
    }
    Ok(json!({ "active": false }))
}

/// Whether `client_id` may see this access token: it was issued to it, or names it as an
/// audience (a resource server).
fn meant_for(claims: &serde_json::Map<String, Value>, client_id: &str) -> bool {
    let own = claims.get("client_id").and_then(Value::as_str) == Some(client_id);
    let audience = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => a.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    own || audience
}

pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tenant = match token::tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let mut res = match introspect(&state, &tenant, &req, &body).await {
        Ok(v) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(v),
        Err(e) => e.error_response(),
    };
    cors::allow(&state, &tenant, &req, &mut res).await;
    res
}
