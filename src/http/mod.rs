//! HTTP plumbing shared by every surface: route paths, request ids, security headers, CSRF,
//! strict form parsing and client metadata.

pub mod cors;
pub mod csrf;
pub mod form;
pub mod limit;
pub mod middleware;
pub mod routes;

use actix_web::{HttpMessage, HttpRequest};

use crate::audit::RequestMeta;

/// The request id given to this request by [`middleware::request_id`].
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Who is asking, for the audit trail and the throttles.
pub fn request_meta(req: &HttpRequest, trust_forwarded: bool) -> RequestMeta {
    let info = req.connection_info();
    let ip = if trust_forwarded {
        info.realip_remote_addr().map(str::to_string)
    } else {
        req.peer_addr().map(|a| a.ip().to_string())
    };
    let ip = ip.map(|ip| strip_port(&ip).chars().take(64).collect());
    RequestMeta {
        ip,
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
    }
}

fn strip_port(addr: &str) -> &str {
    // "[::1]:443" or "1.2.3.4:80" -> the address; a bare IPv6 address stays whole.
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => addr,
    }
}
