//! The blanket per-IP rate limit on every route but the operations endpoints (see
//! [`crate::ratelimit`]): it fails open, and answers in the format of the route's protocol.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use super::routes;
use crate::ratelimit::{Kind, Refusal};
use crate::state::AppState;

fn exempt(path: &str) -> bool {
    path == routes::HEALTH || path == routes::READY || path.starts_with("/static/")
}

/// Whether the route answers in JSON (OAuth, discovery) rather than HTML.
fn speaks_json(path: &str) -> bool {
    let html_oauth = [routes::AUTHORIZE, routes::END_SESSION, routes::CONSENT]
        .iter()
        .any(|r| path.ends_with(r));
    (path.contains("/oauth2/") && !html_oauth) || path.contains("/.well-known/")
}

/// Whether the route is SCIM's (the SCIM error schema).
fn speaks_scim(path: &str) -> bool {
    path.contains("/scim/")
}

pub async fn per_ip(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let refusal = match req.app_data::<web::Data<AppState>>() {
        Some(state) if !exempt(req.path()) => {
            let meta = super::request_meta(req.request(), state.config.trust_forwarded_headers);
            let ip = meta.ip.as_deref().unwrap_or("unknown");
            state.limit(None, Kind::Ip, ip).await.err()
        }
        _ => None,
    };
    let Some(Refusal::Limited { retry_after }) = refusal else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let res = if speaks_scim(req.path()) {
        crate::scim::error::ScimError::from(Refusal::Limited { retry_after }).error_response()
    } else if speaks_json(req.path()) {
        crate::oidc::error::OAuthError::rate_limited(retry_after).error_response()
    } else {
        crate::ui::UiError::RateLimited(retry_after).error_response()
    };
    Ok(req.into_response(res).map_into_right_body())
}
