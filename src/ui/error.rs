//! The HTML error page: the one wire error of the hosted pages.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::error::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("csrf")]
    Csrf,
    #[error("service unavailable")]
    Unavailable,
    /// Too many requests: try again after this many seconds.
    #[error("rate limited")]
    RateLimited(u64),
    #[error("internal error")]
    Internal,
}

impl UiError {
    pub fn tenant_not_found() -> Self {
        Self::NotFound("There is no such tenant here. Check the address you were given.".into())
    }
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// Render the error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    let body = ErrorPage { title, message }
        .render()
        .unwrap_or_else(|_| format!("{title}: {message}"));
    let mut res = HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    res
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        match self {
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            UiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            UiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            UiError::NotFound(m) => ("Not found", m.as_str()),
            UiError::BadRequest(m) => ("Bad request", m.as_str()),
            UiError::Csrf => (
                "Form expired",
                "This form expired or was sent from another site. Go back, reload the page and try again.",
            ),
            UiError::Unavailable => (
                "Temporarily unavailable",
                "The service cannot reach its storage right now. Please try again in a moment.",
            ),
            UiError::Internal => (
                "Something went wrong",
                "An unexpected error happened. Please try again later.",
            ),
            UiError::RateLimited(secs) => {
                let mut res = error_page(
                    self.status_code(),
                    "Too many requests",
                    &format!(
                        "You sent too many requests. Try again in {}.",
                        crate::ui::wait_words(*secs)
                    ),
                );
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
                return res;
            }
        };
        error_page(self.status_code(), title, message)
    }
}

impl From<DomainError> for UiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { message, .. } => UiError::BadRequest(message),
            DomainError::NotFound(what) => UiError::NotFound(format!("The {what} was not found.")),
            DomainError::Conflict(m) => UiError::BadRequest(m),
            DomainError::Stale(what) => UiError::BadRequest(format!("The {what} has changed.")),
            DomainError::Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable");
                UiError::Unavailable
            }
            DomainError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                UiError::Internal
            }
        }
    }
}

impl From<crate::ratelimit::Refusal> for UiError {
    fn from(r: crate::ratelimit::Refusal) -> Self {
        match r {
            crate::ratelimit::Refusal::Limited { retry_after } => UiError::RateLimited(retry_after),
            crate::ratelimit::Refusal::Unavailable => UiError::Unavailable,
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        tracing::error!(error = %e, "template rendering failed");
        UiError::Internal
    }
}

impl From<crate::crypto::KeyError> for UiError {
    fn from(e: crate::crypto::KeyError) -> Self {
        DomainError::from(e).into()
    }
}

impl From<crate::http::form::FormError> for UiError {
    fn from(e: crate::http::form::FormError) -> Self {
        UiError::BadRequest(format!("{e}."))
    }
}
