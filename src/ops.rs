//! Operations endpoints: `/health` (the process answers) and `/ready` (its database and, when
//! configured, Redis answer).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

pub async fn health() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "status": "ok" }))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let database = match state.db.ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            "unreachable"
        }
    };
    let cache = if state.cache.is_redis() {
        match state.cache.ping().await {
            Ok(()) => "ok",
            Err(e) => {
                tracing::warn!(error = %e, "readiness: redis unreachable");
                "unreachable"
            }
        }
    } else {
        "in-process"
    };
    let ready = database == "ok" && cache != "unreachable";
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": database,
        "cache": cache,
    });
    let mut res = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

pub async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../static/plinto.css"))
}
