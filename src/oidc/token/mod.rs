//! `POST {issuer}/oauth2/token` (RFC 6749 §3.2): client authentication, then one file per
//! grant type. Responses carry `Cache-Control: no-store`; errors follow RFC 6749 §5.2.

mod authorization_code;
mod client_credentials;
mod refresh_token;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use entity::{client, tenant};
use serde::Serialize;

use super::client_auth;
use super::error::OAuthError;
use super::tokens::{self, AccessToken, IdToken};
use crate::clients;
use crate::grants;
use crate::http::cors;
use crate::http::form::Form;
use crate::http::routes;
use crate::state::AppState;

/// RFC 6749 §5.1.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// What the tokens of a user's grant are made of.
pub struct UserGrant<'a> {
    pub user: &'a entity::user::Model,
    pub grant: &'a entity::grant::Model,
    pub scope: &'a str,
    pub nonce: Option<&'a str>,
    pub with_refresh: bool,
}

/// The tokens of a user's grant: an access token for `scope`, an ID token when `scope` has
/// `openid`, and a fresh refresh token when `with_refresh`.
pub async fn for_user_grant(
    state: &AppState,
    tenant: &tenant::Model,
    client: &client::Model,
    g: UserGrant<'_>,
) -> Result<TokenResponse, OAuthError> {
    let UserGrant {
        user,
        grant,
        scope,
        nonce,
        with_refresh,
    } = g;
    let (access_token, expires_in) = tokens::access_token(
        state,
        tenant,
        client,
        AccessToken {
            sub: &user.sub,
            scope,
            grant_id: Some(grant.id),
            auth_time: grant.auth_time,
            session_id: grant.session_id,
        },
    )
    .await?;
    let id_token = if scope.split(' ').any(|s| s == "openid") {
        let t = IdToken {
            user,
            grant,
            scope,
            nonce,
            access_token: Some(&access_token),
        };
        Some(tokens::id_token(state, tenant, client, t).await?)
    } else {
        None
    };
    let refresh_token = if with_refresh {
        let ttl = chrono::Duration::seconds(state.config.refresh_token_ttl_secs as i64);
        Some(
            grants::issue_refresh_token(&state.db, state.now(), &state.keys.tokens, ttl, grant.id)
                .await?,
        )
    } else {
        None
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        scope: scope.to_string(),
        refresh_token,
        id_token,
    })
}

/// Scopes that only make sense for a user.
pub const USER_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

/// Whether the body is `application/x-www-form-urlencoded`.
pub fn is_form(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The form of an OAuth endpoint that takes `application/x-www-form-urlencoded` bodies.
pub fn read_form(req: &HttpRequest, body: &[u8]) -> Result<Form, OAuthError> {
    if !is_form(req) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form = Form::parse(body)?;
    if let Some(p) = form.repeated() {
        return Err(OAuthError::invalid_request(format!(
            "the parameter {p} is repeated"
        )));
    }
    Ok(form)
}

/// The tenant of an OAuth endpoint, or a JSON 404.
pub async fn tenant(state: &AppState, slug: &str) -> Result<tenant::Model, OAuthError> {
    state
        .tenant(slug)
        .await?
        .ok_or_else(|| OAuthError::not_found("unknown tenant"))
}

/// Authenticate the calling client for an endpoint of this tenant and count the request
/// against the client's `limit` (a failed authentication counts against the address).
pub async fn client(
    state: &AppState,
    tenant: &tenant::Model,
    req: &HttpRequest,
    form: &Form,
    limit: crate::ratelimit::Kind,
) -> Result<client::Model, OAuthError> {
    let token_endpoint = format!("{}{}", state.config.issuer(&tenant.slug), routes::TOKEN);
    let meta = crate::http::request_meta(req, state.config.trust_forwarded_headers);
    state
        .may_try_credentials(tenant, meta.ip.as_deref())
        .await
        .map_err(|r| OAuthError::from(r).explained(crate::ratelimit::AUTH_FAILURES))?;
    let res = client_auth::authenticate(state, tenant, req, form, &token_endpoint).await;
    if res.as_ref().is_err_and(|e| e.error == "invalid_client") {
        state.credentials_failed(tenant, meta.ip.as_deref()).await;
    }
    let client = res?;
    state.limit(Some(tenant), limit, &client.client_id).await?;
    Ok(client)
}

async fn exchange(
    state: &AppState,
    tenant: &tenant::Model,
    req: &HttpRequest,
    body: &[u8],
) -> Result<TokenResponse, OAuthError> {
    let form = read_form(req, body)?;
    let client = client(state, tenant, req, &form, crate::ratelimit::Kind::Token).await?;
    let Some(grant_type) = form.opt("grant_type") else {
        return Err(OAuthError::invalid_request("grant_type is missing"));
    };
    if !clients::GRANT_TYPES.contains(&grant_type) {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {grant_type} is not supported"
        )));
    }
    if !clients::list(&client.grant_types)
        .iter()
        .any(|g| g == grant_type)
    {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {grant_type} grant"
        )));
    }
    match grant_type {
        "authorization_code" => authorization_code::exchange(state, tenant, &client, &form).await,
        "refresh_token" => refresh_token::exchange(state, tenant, &client, &form).await,
        _ => client_credentials::exchange(state, tenant, &client, &form).await,
    }
}

pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tenant = match tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let mut res = match exchange(&state, &tenant, &req, &body).await {
        Ok(tokens) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(tokens),
        Err(e) => {
            tracing::info!(error = e.error, description = %e.description, "token request refused");
            e.error_response()
        }
    };
    cors::allow(&state, &tenant, &req, &mut res).await;
    res
}
