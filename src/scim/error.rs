//! The SCIM wire error (RFC 7644 §3.12): `{"schemas":[Error], "status":"400", "scimType":…,
//! "detail":…}` as `application/scim+json`. Every `DomainError` maps here in one place.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::error::DomainError;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const CONTENT_TYPE: &str = "application/scim+json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
    /// Sent as `Retry-After` (429 and 503).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:?}: {}", self.status, self.scim_type, self.detail)
    }
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, d: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: d.into(),
            retry_after: None,
        }
    }

    /// 400 with a `scimType`.
    pub fn bad(scim_type: &'static str, d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), d)
    }

    pub fn invalid_syntax(d: impl Into<String>) -> Self {
        Self::bad("invalidSyntax", d)
    }

    pub fn invalid_value(d: impl Into<String>) -> Self {
        Self::bad("invalidValue", d)
    }

    pub fn invalid_filter(d: impl Into<String>) -> Self {
        Self::bad("invalidFilter", d)
    }

    pub fn not_found(d: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, d)
    }

    pub fn uniqueness(d: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), d)
    }

    /// The one answer to every authentication failure: byte-identical whatever the cause.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "a valid SCIM bearer token is required",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            None,
            "this endpoint does not support the method",
        )
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            "the resource has changed: its version does not match If-Match",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the request is larger than the maximum of {limit} bytes"),
        )
    }

    /// The error as a JSON body (also used inside Bulk responses).
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(obj)) = (self.scim_type, body.as_object_mut()) {
            obj.insert("scimType".into(), t.into());
        }
        body
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, CONTENT_TYPE))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scim\""));
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
        res.body(self.body().to_string())
    }
}

impl From<DomainError> for ScimError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid { field, message } => {
                Self::invalid_value(format!("{field}: {message}"))
            }
            DomainError::NotFound(what) => Self::not_found(format!("{what} not found")),
            DomainError::Conflict(m) => Self::uniqueness(m),
            DomainError::Stale(_) => Self::precondition_failed(),
            DomainError::Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    "storage is unavailable, try again",
                )
            }
            DomainError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "an unexpected error happened",
                )
            }
        }
    }
}

impl From<sea_orm::DbErr> for ScimError {
    fn from(e: sea_orm::DbErr) -> Self {
        DomainError::from(e).into()
    }
}

impl From<crate::ratelimit::Refusal> for ScimError {
    fn from(r: crate::ratelimit::Refusal) -> Self {
        match r {
            crate::ratelimit::Refusal::Limited { retry_after } => Self {
                retry_after: Some(retry_after),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    None,
                    "too many requests, try again later",
                )
            },
            crate::ratelimit::Refusal::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the service is temporarily unavailable, try again",
            ),
        }
    }
}

impl From<super::schema::SchemaError> for ScimError {
    fn from(e: super::schema::SchemaError) -> Self {
        Self::bad(e.scim_type, e.detail)
    }
}

impl From<super::patch::PatchError> for ScimError {
    fn from(e: super::patch::PatchError) -> Self {
        Self::bad(e.scim_type, e.detail)
    }
}

pub type ScimResult<T> = Result<T, ScimError>;
