//! CORS for the endpoints browsers call directly (discovery, JWKS, token, userinfo,
//! introspection, revocation): an `Origin` is allowed when one of the tenant's clients
//! registered it. No credentials (cookies) are ever allowed cross-origin.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use entity::tenant;

use crate::clients;
use crate::error::DomainError;
use crate::state::AppState;

/// Whether `origin` is registered by a client of the tenant.
pub async fn origin_allowed(
    state: &AppState,
    tenant: &tenant::Model,
    origin: &str,
) -> Result<bool, DomainError> {
    Ok(clients::list_for_tenant(&state.db, tenant.id)
        .await?
        .iter()
        .any(|c| clients::list(&c.cors_origins).iter().any(|o| o == origin)))
}

fn request_origin(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
}

/// Add the CORS response headers when the request's origin is allowed (to success and error
/// responses alike, so that a browser app can read the error).
pub async fn allow(
    state: &AppState,
    tenant: &tenant::Model,
    req: &HttpRequest,
    res: &mut HttpResponse,
) {
    let headers = res.headers_mut();
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = request_origin(req) else {
        return;
    };
    match origin_allowed(state, tenant, origin).await {
        Ok(true) => {
            if let Ok(v) = HeaderValue::from_str(origin) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("WWW-Authenticate"),
                );
            }
        }
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "CORS origin check failed"),
    }
}

/// `OPTIONS` (preflight) on a CORS-enabled endpoint.
pub async fn preflight(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    res.insert_header((header::VARY, "Origin"));
    let Ok(Some(tenant)) = state.tenant(&path).await else {
        return res.finish();
    };
    if let Some(origin) = request_origin(&req)
        && matches!(origin_allowed(&state, &tenant, origin).await, Ok(true))
    {
        res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_string()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
            .insert_header((
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Authorization, Content-Type, DPoP",
            ))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
    }
    res.finish()
}
