//! The one wire error of the admin API: RFC 9457 `application/problem+json`, with a stable
//! `type` URI per kind and, for invalid input, the fields at fault. Mapped from
//! [`DomainError`] here and nowhere else; database text never reaches a client.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::DomainError;

pub const CONTENT_TYPE: &str = "application/problem+json";
const TYPE_BASE: &str = "https://plinto.dev/problems/";

/// The kinds of problem, each with its `type` URI (`https://plinto.dev/problems/<slug>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Malformed JSON, a query parameter of the wrong form, a missing confirmation.
    BadRequest,
    /// Well-formed input that breaks a rule (unknown field, wrong type, invalid value).
    Invalid,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// The request was not received in time.
    Timeout,
    RateLimited,
    Unavailable,
    Internal,
}

impl Kind {
    fn slug(self) -> &'static str {
        match self {
            Kind::BadRequest => "bad-request",
            Kind::Invalid => "invalid",
            Kind::Unauthorized => "unauthorized",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::Conflict => "conflict",
            Kind::PreconditionFailed => "precondition-failed",
            Kind::PayloadTooLarge => "payload-too-large",
            Kind::Timeout => "timeout",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::RateLimited => "rate-limited",
            Kind::Unavailable => "unavailable",
            Kind::Internal => "internal",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::BadRequest => "Bad request",
            Kind::Invalid => "Invalid input",
            Kind::Unauthorized => "Authentication required",
            Kind::Forbidden => "Not allowed",
            Kind::NotFound => "Not found",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::Conflict => "Conflict",
            Kind::PreconditionFailed => "Precondition failed",
            Kind::PayloadTooLarge => "Request too large",
            Kind::Timeout => "Request timeout",
            Kind::UnsupportedMediaType => "Unsupported media type",
            Kind::RateLimited => "Too many requests",
            Kind::Unavailable => "Temporarily unavailable",
            Kind::Internal => "Internal error",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Kind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::Timeout => StatusCode::REQUEST_TIMEOUT,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The kind of a status the framework answered itself (404, 405, 413...).
    pub fn of_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Kind::Unauthorized,
            403 => Kind::Forbidden,
            404 => Kind::NotFound,
            405 => Kind::MethodNotAllowed,
            413 => Kind::PayloadTooLarge,
            415 => Kind::UnsupportedMediaType,
            429 => Kind::RateLimited,
            503 => Kind::Unavailable,
            408 => Kind::Timeout,
            400..=499 => Kind::BadRequest,
            _ => Kind::Internal,
        }
    }
}

/// One field at fault.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name (a JSON path such as `redirect_uris[0]` for nested ones; a query
    /// parameter's name for query input).
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProblemBody {
    /// A URI that names the kind of problem, e.g. `https://plinto.dev/problems/not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The invalid fields (invalid input only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub errors: Vec<FieldError>,
}

#[derive(Clone, Debug)]
pub struct Problem {
    pub kind: Kind,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// `WWW-Authenticate` of a 401 or 403.
    pub challenge: Option<String>,
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.slug(), self.detail)
    }
}

impl Problem {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            challenge: None,
            retry_after: None,
        }
    }

    pub fn field(kind: Kind, field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let field = field.into();
        let mut p = Self::new(kind, format!("{field}: {message}"));
        p.errors.push(FieldError { field, message });
        p
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(Kind::NotFound, format!("{what} not found"))
    }

    pub fn body(&self) -> ProblemBody {
        ProblemBody {
            kind: format!("{TYPE_BASE}{}", self.kind.slug()),
            title: self.kind.title().to_string(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
            errors: self.errors.clone(),
        }
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.kind.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.content_type(CONTENT_TYPE)
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(c) = &self.challenge {
            res.insert_header((header::WWW_AUTHENTICATE, c.clone()));
        }
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.body(serde_json::to_string(&self.body()).unwrap_or_default())
    }
}

impl From<DomainError> for Problem {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, message } => Self::field(Kind::Invalid, field, message),
            DomainError::NotFound(what) => Self::not_found(what),
            DomainError::Conflict(m) => Self::new(Kind::Conflict, m),
            DomainError::Stale(what) => Self::new(
                Kind::PreconditionFailed,
                format!(
                    "the {what} has changed since it was read: its ETag does not match If-Match"
                ),
            ),
            DomainError::Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable");
                let mut p = Self::new(Kind::Unavailable, "storage is unavailable, try again");
                p.retry_after = Some(5);
                p
            }
            DomainError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Self::new(Kind::Internal, "an unexpected error happened")
            }
        }
    }
}

impl From<crate::ratelimit::Refusal> for Problem {
    fn from(r: crate::ratelimit::Refusal) -> Self {
        match r {
            crate::ratelimit::Refusal::Limited { retry_after } => {
                let mut p = Self::new(Kind::RateLimited, "too many requests, slow down");
                p.retry_after = Some(retry_after);
                p
            }
            crate::ratelimit::Refusal::Unavailable => Self::new(
                Kind::Unavailable,
                "the rate limiter is unavailable, try again",
            ),
        }
    }
}

impl From<sea_orm::DbErr> for Problem {
    fn from(e: sea_orm::DbErr) -> Self {
        DomainError::from(e).into()
    }
}
