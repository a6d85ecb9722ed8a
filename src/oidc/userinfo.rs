//! `{issuer}/oauth2/userinfo` (OpenID Connect Core §5.3): GET or POST, the access token in the
//! `Authorization: Bearer` header or (POST) the `access_token` form field (RFC 6750 §2.1, §2.2).
//! Errors are RFC 6750 Bearer challenges.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use entity::tenant;
use serde_json::Value;

use super::claims;
use super::error::OAuthError;
use super::token;
use super::tokens;
use crate::http::cors;
use crate::http::form::Form;
use crate::state::AppState;

fn bearer_header(req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    let Some(v) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| OAuthError::invalid_request("malformed Authorization header"))?;
    match v.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(OAuthError::bearer_missing()),
    }
}

async fn claims_of(
    state: &AppState,
    tenant: &tenant::Model,
    req: &HttpRequest,
    body: &[u8],
) -> Result<serde_json::Map<String, Value>, OAuthError> {
    let meta = crate::http::request_meta(req, state.config.trust_forwarded_headers);
    state
        .may_try_credentials(tenant, meta.ip.as_deref())
        .await
        .map_err(|r| OAuthError::from(r).explained(crate::ratelimit::AUTH_FAILURES))?;
    let header_token = bearer_header(req)?;
    let body_token = if req.method() == actix_web::http::Method::POST && !body.is_empty() {
        if token::is_form(req) {
            Form::parse(body)?.opt("access_token").map(str::to_string)
        } else {
            None
        }
    } else {
        None
    };
    let token = match (header_token, body_token) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "send the access token in one place only",
            ));
        }
        (Some(t), None) | (None, Some(t)) => t,
        (None, None) => return Err(OAuthError::bearer_missing()),
    };
    let Some(at) = tokens::check_access_token(state, tenant, &token).await? else {
        state.credentials_failed(tenant, meta.ip.as_deref()).await;
        return Err(OAuthError::invalid_token(
            "the access token is invalid, expired or revoked",
        ));
    };
    // Limited per client the token was issued to, never by the caller's address.
    let client_id = at.claims.get("client_id").and_then(Value::as_str);
    state
        .limit(
            Some(tenant),
            crate::ratelimit::Kind::Userinfo,
            client_id.unwrap_or("unknown"),
        )
        .await?;
    let scope = at.claims.get("scope").and_then(Value::as_str).unwrap_or("");
    let scopes: Vec<&str> = scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        let mut e = OAuthError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token lacks the openid scope",
        );
        e.challenge = Some("Bearer error=\"insufficient_scope\", scope=\"openid\"".into());
        return Err(e);
    }
    let Some(user) = at.user.filter(|u| !u.disabled) else {
        return Err(OAuthError::invalid_token("the user is no longer active"));
    };
    let grant = at.grant;
    let request: Option<Value> = grant
        .and_then(|g| g.claims)
        .and_then(|c| serde_json::from_str(&c).ok());
    Ok(claims::for_user(
        &user,
        &scopes,
        claims::requested(request.as_ref(), "userinfo"),
    ))
}

pub async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tenant = match token::tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let mut res = match claims_of(&state, &tenant, &req, &body).await {
        Ok(c) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(c),
        Err(e) => e.error_response(),
    };
    cors::allow(&state, &tenant, &req, &mut res).await;
    res
}
