//! `GET {issuer}/oauth2/jwks`: the tenant's published public keys (RFC 7517).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::error::DomainError;
use crate::http::cors;
use crate::state::AppState;

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    match jwks(&state, &req, &path).await {
        Ok(Some(res)) => res,
        Ok(None) => HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "error": "not_found", "error_description": "unknown tenant" })),
        Err(e) => {
            let unavailable = matches!(e, DomainError::Unavailable(_));
            tracing::warn!(error = %e, "jwks failed");
            let mut res = if unavailable {
                HttpResponse::ServiceUnavailable()
            } else {
                HttpResponse::InternalServerError()
            };
            res.insert_header((header::CACHE_CONTROL, "no-store"))
                .json(json!({ "error": "temporarily_unavailable" }))
        }
    }
}

async fn jwks(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
) -> Result<Option<HttpResponse>, DomainError> {
    let Some(tenant) = state.tenant(slug).await? else {
        return Ok(None);
    };
    let published = state
        .key_cache
        .published(&state.db, state.now(), tenant.id, state.key_retention())
        .await?;
    let mut res = HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .body(published.jwks.clone());
    cors::allow(state, &tenant, req, &mut res).await;
    Ok(Some(res))
}
