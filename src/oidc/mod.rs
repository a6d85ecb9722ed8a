//! OpenID Connect / OAuth 2.x front-end of each tenant's issuer `{public_url}/t/{tenant}`:
//! discovery, authorization (with the consent page), token, userinfo, JWKS, introspection,
//! revocation and RP-initiated logout. Handlers are thin; codes, grants and consents live in
//! `grants`, keys in `keys`, clients in `clients`.

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod discovery;
pub mod end_session;
pub mod error;
pub mod introspect;
pub mod jwks;
pub mod revoke;
pub mod token;
pub mod tokens;
pub mod userinfo;

use actix_web::web;

use crate::http::cors;
use crate::http::routes;

/// Routes registered inside the tenant scope (`/t/{tenant}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::DISCOVERY, web::get().to(discovery::get))
        .route(routes::OAUTH_METADATA, web::get().to(discovery::get))
        .route(routes::AUTHORIZE, web::get().to(authorize::get))
        .route(routes::AUTHORIZE, web::post().to(authorize::post))
        .route(routes::CONSENT, web::post().to(authorize::consent))
        .route(routes::TOKEN, web::post().to(token::post))
        .route(routes::USERINFO, web::get().to(userinfo::handle))
        .route(routes::USERINFO, web::post().to(userinfo::handle))
        .route(routes::JWKS, web::get().to(jwks::get))
        .route(routes::INTROSPECT, web::post().to(introspect::post))
        .route(routes::REVOKE, web::post().to(revoke::post))
        .route(routes::END_SESSION, web::get().to(end_session::get))
        .route(routes::END_SESSION, web::post().to(end_session::post));
    for path in [
        routes::DISCOVERY,
        routes::OAUTH_METADATA,
        routes::TOKEN,
        routes::USERINFO,
        routes::JWKS,
        routes::INTROSPECT,
        routes::REVOKE,
    ] {
        cfg.route(
            path,
            web::method(actix_web::http::Method::OPTIONS).to(cors::preflight),
        );
    }
}
