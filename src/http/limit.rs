//! The blanket per-IP rate limit (see [`crate::ratelimit`]) on the routes that have no
//! better key: the browser pages and protocol endpoints a browser is sent to. It fails open,
//! and answers in the format of the route's protocol. Not limited here: the cacheable public
//! documents and operations endpoints (not at all: a reverse proxy's business), and the
//! authenticated back-channel endpoints, which limit per credential once they know the caller
//! and per address only for failed authentications.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use super::routes;
use crate::ratelimit::{Kind, Refusal};
use crate::state::AppState;

/// Public documents any number of clients may fetch as often as they like.
fn public_document(path: &str) -> bool {
    path == routes::HEALTH
        || path == routes::READY
        || path.starts_with("/static/")
        || path.starts_with("/.well-known/")
        || [
            routes::DISCOVERY,
            routes::OAUTH_METADATA,
            routes::JWKS,
            routes::SAML_METADATA,
        ]
        .iter()
        .any(|r| path.ends_with(r))
}

/// Endpoints a client calls with a credential: limited per credential by their handlers.
fn back_channel(path: &str) -> bool {
    [
        routes::TOKEN,
        routes::INTROSPECT,
        routes::REVOKE,
        routes::USERINFO,
    ]
    .iter()
    .any(|r| path.ends_with(r))
        || speaks_scim(path)
        || crate::admin::api::is_api_path(path)
}

fn exempt(path: &str) -> bool {
    public_document(path) || back_channel(path)
}

/// Set once Plinto has said that it seems to run behind a proxy it does not trust.
static PROXY_WARNED: AtomicBool = AtomicBool::new(false);

/// Requests that carry `X-Forwarded-For` or `Forwarded` while the trust setting is off come
/// through a proxy: every client behind it then shares the proxy's address (its limits, its
/// audit entries). Say so once per process, at the first such request.
fn warn_if_behind_proxy(req: &ServiceRequest, trust_forwarded: bool) {
    if trust_forwarded || PROXY_WARNED.load(Ordering::Relaxed) {
        return;
    }
    let headers = req.headers();
    if !(headers.contains_key("x-forwarded-for") || headers.contains_key("forwarded")) {
        return;
    }
    if !PROXY_WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            peer = ?req.peer_addr().map(|a| a.ip()),
            "requests carry X-Forwarded-For / Forwarded but PLINTO_TRUST_FORWARDED_HEADERS is \
             off: Plinto sees the proxy's address for every client behind it, so they share \
             one set of per-address rate limits and audit addresses. Behind a trusted reverse \
             proxy or load balancer, set PLINTO_TRUST_FORWARDED_HEADERS=true"
        );
    }
}

/// An error the HTTP layer answers itself (before or instead of the route's handler), in the
/// format of the route's protocol: the SCIM error schema, OAuth JSON, or the HTML page.
pub fn wire_error(
    path: &str,
    status: actix_web::http::StatusCode,
    message: &str,
) -> actix_web::HttpResponse {
    if crate::admin::api::is_api_path(path) {
        use crate::admin::api::problem::{Kind, Problem};
        Problem::new(Kind::of_status(status), message).error_response()
    } else if speaks_scim(path) {
        crate::scim::error::ScimError::new(status, None, message).error_response()
    } else if speaks_json(path) || back_channel(path) {
        crate::oidc::error::OAuthError::new(status, "invalid_request", message).error_response()
    } else {
        let title = status.canonical_reason().unwrap_or("Error");
        crate::ui::error::error_page(status, title, message)
    }
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
    if let Some(state) = req.app_data::<web::Data<AppState>>() {
        warn_if_behind_proxy(&req, state.config.trust_forwarded_headers);
    }
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
