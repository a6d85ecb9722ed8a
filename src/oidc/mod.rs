//! OpenID Connect / OAuth 2.x front-end. So far: the JWKS of each tenant. The authorization,
//! token, userinfo and discovery endpoints are not built yet, and discovery is not published
//! until they are (it must advertise exactly what is implemented).

pub mod jwks;

use actix_web::web;

use crate::http::routes;

/// Routes registered inside the tenant scope (`/t/{tenant}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::JWKS, web::get().to(jwks::get));
}
