//! The admin REST API under `{public_url}/api/v1`: thin handlers over the same domain
//! services as the CLI. JSON in and out, RFC 9457 problems, cursor pagination, ETags with
//! `If-Match`, JSON Merge Patch. See the README's "Admin API" section.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::http::routes;
use crate::state::AppState;

pub mod audit;
pub mod auth;
pub mod clients;
pub mod docs;
pub mod idempotency;
pub mod keys;
pub mod openapi;
pub mod problem;
pub mod scim_tokens;
pub mod tenants;
pub mod users;

use problem::{Kind, Problem};

pub type ApiResult = Result<HttpResponse, Problem>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    let not_allowed = || web::to(method_not_allowed);
    cfg.service(
        web::scope(routes::ADMIN_API)
            .app_data(web::QueryConfig::default().error_handler(|e, _| bad_query(e).into()))
            .app_data(web::PathConfig::default().error_handler(|_, _| {
                Problem::new(Kind::NotFound, "there is nothing at this address").into()
            }))
            .route(routes::ADMIN_OPENAPI, web::get().to(docs::openapi_json))
            .route(routes::ADMIN_DOCS, web::get().to(docs::page))
            .service(
                web::resource(routes::ADMIN_TENANTS)
                    .route(web::get().to(tenants::list))
                    .route(web::post().to(tenants::create))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_TENANT)
                    .route(web::get().to(tenants::get))
                    .route(web::patch().to(tenants::patch))
                    .route(web::delete().to(tenants::delete))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_USERS)
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_USER)
                    .route(web::get().to(users::get))
                    .route(web::patch().to(users::patch))
                    .route(web::delete().to(users::delete))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_USER_DISABLE)
                    .route(web::post().to(users::disable))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_USER_ENABLE)
                    .route(web::post().to(users::enable))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_USER_RESET_MFA)
                    .route(web::post().to(users::reset_mfa))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_USER_SESSIONS)
                    .route(web::get().to(users::sessions))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_USER_SESSION)
                    .route(web::delete().to(users::revoke_session))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_CLIENTS)
                    .route(web::get().to(clients::list))
                    .route(web::post().to(clients::create))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_CLIENT)
                    .route(web::get().to(clients::get))
                    .route(web::patch().to(clients::patch))
                    .route(web::delete().to(clients::delete))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_CLIENT_SECRET)
                    .route(web::post().to(clients::rotate_secret))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_SCIM_TOKENS)
                    .route(web::get().to(scim_tokens::list))
                    .route(web::post().to(scim_tokens::create))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_SCIM_TOKEN)
                    .route(web::delete().to(scim_tokens::revoke))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_KEYS)
                    .route(web::get().to(keys::list))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_KEYS_ROTATE)
                    .route(web::post().to(keys::rotate))
                    .default_service(not_allowed()),
            )
            .service(
                web::resource(routes::ADMIN_AUDIT_EVENTS)
                    .route(web::get().to(audit::list))
                    .default_service(not_allowed()),
            )
            .default_service(web::to(not_found)),
    );
}

async fn not_found() -> ApiResult {
    Err(Problem::new(
        Kind::NotFound,
        "there is nothing at this address",
    ))
}

async fn method_not_allowed() -> ApiResult {
    Err(Problem::new(
        Kind::MethodNotAllowed,
        "this address does not accept that method",
    ))
}

fn bad_query(e: actix_web::error::QueryPayloadError) -> Problem {
    Problem::field(Kind::BadRequest, "query", e.to_string())
}

/// Whether a request path belongs to the admin API (for errors the framework answers itself).
pub fn is_api_path(path: &str) -> bool {
    path == routes::ADMIN_API || path.starts_with(&format!("{}/", routes::ADMIN_API))
}

/// A JSON request body as `T`: `application/json` (or, with `merge_patch`,
/// `application/merge-patch+json` too). Malformed JSON is a 400; well-formed JSON that does
/// not fit (unknown field, wrong type, missing field) a 422 naming the field.
pub fn json_body<T: DeserializeOwned>(
    req: &HttpRequest,
    body: &[u8],
    merge_patch: bool,
) -> Result<T, Problem> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let ok = match ct.as_deref() {
        Some("application/json") => true,
        Some("application/merge-patch+json") => merge_patch,
        _ => false,
    };
    if !ok {
        let expected = if merge_patch {
            "application/merge-patch+json or application/json"
        } else {
            "application/json"
        };
        return Err(Problem::new(
            Kind::UnsupportedMediaType,
            format!("send the body as {expected}"),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            Kind::BadRequest,
            format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    // A struct would also be read from an array of its fields: only an object is one.
    if !value.is_object() {
        return Err(Problem::field(Kind::Invalid, "body", "send a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| body_problem(&e))
}

fn body_problem(e: &serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let path = e.path().to_string();
    let field = if path == "." {
        "body".to_string()
    } else {
        path
    };
    Problem::field(Kind::Invalid, field, data_message(e.inner()))
}

/// serde's message without its "at line x column y" suffix.
fn data_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The strong ETag of a representation: a hash of its JSON.
pub fn etag_of<T: Serialize>(v: &T) -> String {
    let json = serde_json::to_vec(v).unwrap_or_default();
    let digest = Sha256::digest(&json);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// The `If-Match` header: `None` when absent.
pub struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    pub fn of(req: &HttpRequest) -> Self {
        let tags: Vec<String> = req
            .headers()
            .get_all(header::IF_MATCH)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if req.headers().contains_key(header::IF_MATCH) {
            Self(Some(tags))
        } else {
            Self(None)
        }
    }

    pub fn present(&self) -> bool {
        self.0.is_some()
    }

    /// RFC 9110 §13.1.1: `*` or one of the tags, compared strongly (a weak tag never matches).
    pub fn matches(&self, etag: &str) -> bool {
        match &self.0 {
            None => true,
            Some(tags) => tags.iter().any(|t| t == "*" || t == etag),
        }
    }

    pub fn check(&self, etag: &str) -> Result<(), Problem> {
        if self.matches(etag) {
            Ok(())
        } else {
            Err(Problem::new(
                Kind::PreconditionFailed,
                "the resource has changed since it was read: its ETag does not match If-Match",
            ))
        }
    }
}

/// A resource with its ETag.
pub fn resource<T: Serialize>(status: actix_web::http::StatusCode, v: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag_of(v)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v)
}

/// A list or any body without an ETag.
pub fn json<T: Serialize>(v: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v)
}

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

/// `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(raw: Option<&str>) -> Result<u64, Problem> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(Problem::field(
                Kind::BadRequest,
                "limit",
                format!("use a whole number from 1 to {MAX_LIMIT}"),
            )),
        },
    }
}

/// An opaque cursor: the position after which the next page starts.
pub fn encode_cursor(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position.as_bytes())
}

pub fn decode_cursor<T: std::str::FromStr>(raw: Option<&str>) -> Result<Option<T>, Problem> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(raw.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<T>().ok())
        .map(Some)
        .ok_or_else(|| {
            Problem::field(
                Kind::BadRequest,
                "cursor",
                "not a cursor from a next link of this list",
            )
        })
}

/// The absolute URL of an API path.
pub fn url(state: &AppState, path: &str) -> String {
    format!("{}{}{}", state.config.public_url(), routes::ADMIN_API, path)
}

/// The absolute URL of an API path with a query.
pub fn link(state: &AppState, path: &str, query: &[(&str, String)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        q.append_pair(k, v);
    }
    format!("{}?{}", url(state, path), q.finish())
}

/// The `next` link of a cursor page: `path` with `limit`, the cursor after `last` and the
/// filters that were given; `None` on the last page.
pub fn next_page(
    state: &AppState,
    path: &str,
    more: bool,
    last: Option<String>,
    limit: u64,
    filters: &[(&str, &Option<String>)],
) -> Option<String> {
    let last = last.filter(|_| more)?;
    let mut params = vec![
        ("limit", limit.to_string()),
        ("cursor", encode_cursor(&last)),
    ];
    for (k, v) in filters {
        if let Some(v) = v {
            params.push((k, v.clone()));
        }
    }
    Some(link(state, path, &params))
}

/// A `201 Created` resource with its ETag and `Location`.
pub fn created<T: Serialize>(state: &AppState, path: &str, v: &T) -> HttpResponse {
    let mut res = resource(actix_web::http::StatusCode::CREATED, v);
    if let Ok(location) = header::HeaderValue::from_str(&url(state, path)) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    res
}

const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path parameter filled in, e.g. `fill(ADMIN_USERS, &[("tenant", "acme")])`.
pub fn fill(route: &str, params: &[(&str, &str)]) -> String {
    let mut out = route.to_string();
    for (k, v) in params {
        let encoded = percent_encoding::utf8_percent_encode(v, SEGMENT).to_string();
        out = out.replace(&format!("{{{k}}}"), &encoded);
    }
    out
}
