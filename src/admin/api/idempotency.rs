//! `Idempotency-Key` on POST: a retry of a create (or a secret rotation) with the same key
//! answers what the first request answered instead of doing it twice.

use std::future::Future;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use super::ApiResult;
use super::problem::{Kind, Problem};
use crate::admin::access::Caller;
use crate::admin::idempotency::{self, Answer, Reserved};
use crate::state::AppState;

pub const HEADER: &str = "Idempotency-Key";
/// Set on an answer given again for a retried request.
pub const REPLAYED: &str = "Idempotent-Replayed";
const KEPT: [header::HeaderName; 3] = [header::CONTENT_TYPE, header::ETAG, header::LOCATION];

fn key_of(req: &HttpRequest) -> Result<Option<String>, Problem> {
    let Some(v) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let bad = || {
        Problem::field(
            Kind::BadRequest,
            HEADER,
            "use 1 to 255 visible ASCII characters",
        )
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(bad());
    }
    Ok(Some(s.to_string()))
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

fn replay(answer: Answer) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    for (k, v) in &answer.headers {
        res.insert_header((k.as_str(), v.as_str()));
    }
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((REPLAYED, "true"))
        .body(answer.body)
}

/// Run `op` once per caller and key; without a key, just run it.
pub async fn once<F: Future<Output = ApiResult>>(
    state: &AppState,
    req: &HttpRequest,
    caller: &Caller,
    body: &[u8],
    op: F,
) -> ApiResult {
    let Some(key) = key_of(req)? else {
        return op.await;
    };
    let key_hash = sha256_hex(&[caller.actor.as_bytes(), key.as_bytes()]);
    let request_hash = sha256_hex(&[
        req.method().as_str().as_bytes(),
        req.path().as_bytes(),
        body,
    ]);
    let k = &state.keys.admin_idempotency;
    match idempotency::reserve(
        &state.db,
        state.now(),
        k,
        &key_hash,
        &request_hash,
        &caller.actor,
    )
    .await?
    {
        Reserved::First => {}
        Reserved::Running => {
            return Err(Problem::new(
                Kind::Conflict,
                "a request with this Idempotency-Key is still running; retry it later",
            ));
        }
        Reserved::OtherRequest => {
            return Err(Problem::field(
                Kind::Invalid,
                HEADER,
                "this key was used for a different request",
            ));
        }
        Reserved::Done(answer) => return Ok(replay(answer)),
    }
    let res = match op.await {
        Ok(res) if res.status().is_success() => res,
        other => {
            idempotency::release(&state.db, &key_hash).await?;
            return other;
        }
    };
    let status = res.status();
    let headers: Vec<(String, String)> = KEPT
        .iter()
        .filter_map(|h| {
            res.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(|v| (h.as_str().to_string(), v.to_string()))
        })
        .collect();
    let bytes = actix_web::body::to_bytes(res.into_body())
        .await
        .map_err(|_| Problem::new(Kind::Internal, "an unexpected error happened"))?;
    let answer = Answer {
        status: status.as_u16(),
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    idempotency::complete(&state.db, k, &key_hash, &answer).await?;
    let mut out = HttpResponse::build(status);
    for (k, v) in &answer.headers {
        out.insert_header((k.as_str(), v.as_str()));
    }
    Ok(out
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(answer.body))
}
