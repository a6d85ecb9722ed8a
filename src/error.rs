//! The domain error: internal, never serialized to a client. Each protocol surface maps it
//! to its own wire format in one place (`ui::error` for HTML pages).

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule; the message is safe to show to the user.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule: the message is safe to show.
    #[error("{0}")]
    Conflict(String),
    /// The database (or the cache) cannot be reached: a 503, and retried later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else; logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<DbErr> for DomainError {
    fn from(e: DbErr) -> Self {
        match e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Self::Unavailable(e.to_string()),
            // A query that failed because the connection died is an outage too.
            DbErr::Exec(ref inner) | DbErr::Query(ref inner) if is_connection_error(inner) => {
                Self::Unavailable(e.to_string())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

fn is_connection_error(e: &sea_orm::RuntimeErr) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    [
        "connection",
        "broken pipe",
        "io error",
        "pool timed out",
        "database is locked",
        "terminating connection",
        "not currently accepting connections",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

impl From<crate::cache::CacheError> for DomainError {
    fn from(e: crate::cache::CacheError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

impl From<crate::crypto::KeyError> for DomainError {
    fn from(e: crate::crypto::KeyError) -> Self {
        Self::Internal(e.to_string())
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
