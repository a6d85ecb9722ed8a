//! `{issuer}/oauth2/revoke` (RFC 7009). A refresh token revokes its whole grant (and with it
//! every access token issued under the grant); an access token goes on the deny list until it
//! expires. Tokens that are unknown or already dead get the same 200 as a successful
//! revocation (§2.2). A live token of another client is refused with `unauthorized_client`
//! (§2.1: the server verifies that the token was issued to the caller) and stays active.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use entity::tenant;
use serde_json::Value;

use super::error::OAuthError;
use super::token;
use super::tokens;
use crate::grants;
use crate::http::cors;
use crate::ratelimit::Kind;
use crate::state::AppState;

fn not_yours() -> OAuthError {
    OAuthError::unauthorized_client("the token was not issued to this client")
}

async fn revoke(
    state: &AppState,
    tenant: &tenant::Model,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(), OAuthError> {
    let form = token::read_form(req, body)?;
    let client = token::client(state, tenant, req, &form, Kind::Introspection).await?;
    let Some(t) = form.opt("token") else {
        return Err(OAuthError::invalid_request("token is missing"));
    };
    let now = state.now();
    if let Some((_, grant)) =
        grants::refresh_token_grant(&state.db, now, &state.keys.tokens, tenant.id, t).await?
    {
        if grant.client_id != client.client_id {
            return Err(not_yours());
        }
        grants::revoke_grant(&state.db, now, grant.id).await?;
        return Ok(());
    }
    if let Some(at) = tokens::check_access_token(state, tenant, t).await? {
        let c = at.claims;
        if c.get("client_id").and_then(Value::as_str) != Some(&client.client_id) {
            return Err(not_yours());
        }
        let jti = c.get("jti").and_then(Value::as_str);
        let exp = c
            .get("exp")
            .and_then(Value::as_i64)
            .and_then(|e| DateTime::<Utc>::from_timestamp(e, 0));
        if let (Some(jti), Some(exp)) = (jti, exp) {
            grants::revoke_access_token(&state.db, tenant.id, jti, exp).await?;
        }
    }
    Ok(())
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
    let mut res = match revoke(&state, &tenant, &req, &body).await {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => e.error_response(),
    };
    cors::allow(&state, &tenant, &req, &mut res).await;
    res
}
