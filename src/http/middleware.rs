//! Request ids, security headers and access logs.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use super::RequestId;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Keep a caller's `X-Request-Id` when it is short and plain, else make one; put it on the
/// response, on the request's tracing span and in the request's extensions.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "http",
        request_id = %id,
        method = %req.method(),
        path = %req.path(),
    );
    let started = std::time::Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let status = res.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request"
        )
    });
    Ok(res)
}

/// The default Content-Security-Policy.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy of pages whose form ends in a redirect to a client (sign-in during an
/// authorization request, consent, RP-initiated logout): browsers apply `form-action` to every
/// hop of the redirect chain, so it is left out here, or the final hop to the client's
/// registered redirect URI would be blocked.
pub const CSP_FORM_REDIRECTS: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                                      frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every response (a handler's own value wins).
pub fn security_headers(https: bool) -> DefaultHeaders {
    let mut headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if https {
        headers = headers.add((
            "Strict-Transport-Security",
            "max-age=63072000; includeSubDomains",
        ));
    }
    headers
}

/// Whether a request's body missed its deadline ([`body_deadline`]).
#[derive(Clone, Default)]
struct BodyTimedOut(std::sync::Arc<std::sync::atomic::AtomicBool>);

/// The request's body stream, failing once `sleep` is over before the body is complete.
struct DeadlinePayload {
    inner: actix_web::dev::Payload,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
    timed_out: BodyTimedOut,
}

impl futures_core::Stream for DeadlinePayload {
    type Item = Result<bytes::Bytes, actix_web::error::PayloadError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::future::Future;
        use std::task::Poll;
        if let Poll::Ready(item) = std::pin::Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.timed_out
                .0
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Poll::Ready(Some(Err(actix_web::error::PayloadError::Io(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                ),
            ))));
        }
        Poll::Pending
    }
}

/// A client has `request_body_timeout_secs` after the request head to send its whole body
/// (actix-web itself times out only the head): a body that never finishes is answered
/// `408 Request Timeout` and its connection closed, instead of holding the connection and a
/// worker's attention for ever.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // A request that declares no body has none to wait for (most GETs): no timer for it.
    let headers = req.headers();
    let declares_body = headers.contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || headers
            .get(actix_web::http::header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    let state = req.app_data::<web::Data<crate::state::AppState>>();
    let Some(secs) = state
        .filter(|_| declares_body)
        .map(|s| s.config.request_body_timeout_secs)
    else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let timed_out = BodyTimedOut::default();
    let inner = req.take_payload();
    let stream = DeadlinePayload {
        inner,
        sleep: Box::pin(tokio::time::sleep(std::time::Duration::from_secs(secs))),
        timed_out: timed_out.clone(),
    };
    let boxed: std::pin::Pin<
        Box<dyn futures_core::Stream<Item = Result<bytes::Bytes, actix_web::error::PayloadError>>>,
    > = Box::pin(stream);
    req.set_payload(actix_web::dev::Payload::from(boxed));
    let path = req.path().to_string();
    let res = next.call(req).await?;
    if !timed_out.0.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(res.map_into_left_body());
    }
    let (req, _) = res.into_parts();
    let mut answer = super::limit::wire_error(
        &path,
        actix_web::http::StatusCode::REQUEST_TIMEOUT,
        "The request body did not arrive in time.",
    );
    answer
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    Ok(ServiceResponse::new(req, answer).map_into_right_body())
}
