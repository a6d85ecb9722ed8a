//! `{issuer}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0) and the RFC 8414
//! authorization server metadata: exactly what is implemented, built from the same constants
//! as the router.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::claims;
use super::error::{OAuthError, OAuthResult};
use crate::clients;
use crate::http::cors;
use crate::http::routes;
use crate::keys::Alg;
use crate::state::AppState;

pub fn document(issuer: &str) -> Value {
    let url = |route: &str| format!("{issuer}{route}");
    let algs: Vec<&str> = Alg::ALL.iter().map(|a| a.as_str()).collect();
    let confidential: Vec<&str> = clients::AUTH_METHODS
        .iter()
        .copied()
        .filter(|m| *m != "none")
        .collect();
    let client_auth_algs = [
        "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA",
    ];
    json!({
        "issuer": issuer,
        "authorization_endpoint": url(routes::AUTHORIZE),
        "token_endpoint": url(routes::TOKEN),
        "userinfo_endpoint": url(routes::USERINFO),
        "jwks_uri": url(routes::JWKS),
        "introspection_endpoint": url(routes::INTROSPECT),
        "revocation_endpoint": url(routes::REVOKE),
        "end_session_endpoint": url(routes::END_SESSION),
        "scopes_supported": clients::DEFAULT_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "grant_types_supported": clients::GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": clients::AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": client_auth_algs,
        "introspection_endpoint_auth_methods_supported": confidential,
        "introspection_endpoint_auth_signing_alg_values_supported": client_auth_algs,
        "revocation_endpoint_auth_methods_supported": clients::AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": client_auth_algs,
        "claims_supported": claims::SUPPORTED,
        "acr_values_supported": crate::mfa::ACR_VALUES,
        "claim_types_supported": ["normal"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page", "popup", "touch", "wap"],
        "authorization_response_iss_parameter_supported": true,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    })
}

async fn respond(state: &AppState, req: &HttpRequest, slug: &str) -> OAuthResult {
    let tenant = state
        .tenant(slug)
        .await?
        .ok_or_else(|| OAuthError::not_found("unknown tenant"))?;
    // The document depends only on the issuer: rendered once per tenant and process.
    let body = state
        .memo
        .discovery
        .get_or_load(&tenant.slug, state.now(), || async {
            let doc = document(&state.config.issuer(&tenant.slug)).to_string();
            Ok::<_, OAuthError>(Some(bytes::Bytes::from(doc)))
        })
        .await?
        .unwrap_or_default();
    let mut res = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(body);
    cors::allow(state, &tenant, req, &mut res).await;
    Ok(res)
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> OAuthResult {
    respond(&state, &req, &path).await
}
