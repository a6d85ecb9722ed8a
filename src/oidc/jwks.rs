//! `GET {issuer}/oauth2/jwks`: the tenant's published public keys (RFC 7517).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::Duration;
use serde_json::json;

use crate::error::DomainError;
use crate::state::AppState;
use crate::{keys, tenants};

pub async fn get(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    match jwks(&state, &path).await {
        Ok(Some(body)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
            .content_type("application/jwk-set+json")
            .body(body.to_string()),
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

async fn jwks(state: &AppState, slug: &str) -> Result<Option<serde_json::Value>, DomainError> {
    let Some(tenant) = tenants::find_by_slug(&state.db, slug).await? else {
        return Ok(None);
    };
    let retention = Duration::seconds(state.config.signing_key_retention_secs as i64);
    let published = keys::published(&state.db, state.now(), tenant.id, retention).await?;
    keys::jwks(&published).map(Some)
}
