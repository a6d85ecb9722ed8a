//! The OAuth wire errors: JSON bodies (RFC 6749 §5.2) from the token, introspection and
//! revocation endpoints, Bearer challenges (RFC 6750 §3) from UserInfo. Authorization-endpoint
//! errors travel in a redirect instead (see `authorize`), or, when the client or redirect URI
//! cannot be trusted, as the HTML error page. Every `DomainError` maps here in one place.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::error::DomainError;

#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Sent as `WWW-Authenticate` (401 responses).
    pub challenge: Option<String>,
    /// Sent as `Retry-After` (429 and 503 responses).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            challenge: None,
            retry_after: None,
        }
    }

    /// Too many requests (RFC 6585 §4); RFC 6749 has no code of its own for it, so the body
    /// says `temporarily_unavailable`, the code it has for overload.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "too many requests, try again later",
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// The same error, its description replaced when it is a 429 (to say which limit).
    pub fn explained(mut self, why: &str) -> Self {
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            self.description = why.to_string();
        }
        self
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }

    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", d)
    }

    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", d)
    }

    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unauthorized_client", d)
    }

    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "unsupported_grant_type", d)
    }

    /// RFC 6749 §5.2: 401 with a challenge for the scheme the client tried (Basic).
    pub fn invalid_client(d: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_client", d);
        e.challenge = Some("Basic realm=\"plinto\", charset=\"UTF-8\"".into());
        e
    }

    /// RFC 6750 §3.1 `invalid_token` (401, Bearer challenge).
    pub fn invalid_token(d: impl Into<String>) -> Self {
        let d = d.into();
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_token", d.clone());
        e.challenge = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            d.replace(['"', '\\'], "'")
        ));
        e
    }

    /// RFC 6750 §3: no credentials at all: a bare challenge and no error code in the body.
    pub fn bearer_missing() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "an access token is required",
        );
        e.challenge = Some("Bearer".into());
        e
    }

    pub fn not_found(d: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request", d)
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if let Some(c) = &self.challenge
            && let Ok(v) = HeaderValue::from_str(c)
        {
            res.insert_header((header::WWW_AUTHENTICATE, v));
        }
        match self.retry_after {
            Some(secs) => {
                res.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            None if self.status == StatusCode::SERVICE_UNAVAILABLE => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            None => {}
        }
        res.json(json!({ "error": self.error, "error_description": self.description }))
    }
}

impl From<DomainError> for OAuthError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { message, .. } => Self::invalid_request(message),
            DomainError::NotFound(what) => Self::invalid_request(format!("{what} not found")),
            DomainError::Conflict(m) => Self::invalid_request(m),
            DomainError::Stale(what) => Self::invalid_request(format!("{what} has changed")),
            DomainError::Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "storage is unavailable, try again",
                )
            }
            DomainError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "an unexpected error happened",
                )
            }
        }
    }
}

impl From<crate::ratelimit::Refusal> for OAuthError {
    fn from(r: crate::ratelimit::Refusal) -> Self {
        match r {
            crate::ratelimit::Refusal::Limited { retry_after } => Self::rate_limited(retry_after),
            crate::ratelimit::Refusal::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the service is temporarily unavailable, try again",
            ),
        }
    }
}

impl From<crate::http::form::FormError> for OAuthError {
    fn from(e: crate::http::form::FormError) -> Self {
        Self::invalid_request(e.to_string())
    }
}

impl From<crate::crypto::KeyError> for OAuthError {
    fn from(e: crate::crypto::KeyError) -> Self {
        DomainError::from(e).into()
    }
}

pub type OAuthResult = Result<HttpResponse, OAuthError>;
