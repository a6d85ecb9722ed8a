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
    /// The caller's precondition (a version it read earlier) no longer holds: someone changed
    /// the resource in between.
    #[error("{0} has changed")]
    Stale(&'static str),
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

/// Whether a failed query failed because the database could not be reached (a 503 that a
/// retry may fix) rather than because of the query: decided on the driver's error kind and
/// SQLSTATE, not on message text.
fn is_connection_error(e: &sea_orm::RuntimeErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let sea_orm::RuntimeErr::SqlxError(e) = e else {
        return false;
    };
    match e.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL: class 08 (connection exception), 57P0x (server shutting down,
            // connection terminated, cannot connect now). SQLite: BUSY (5) and LOCKED (6),
            // possibly as extended codes.
            code.starts_with("08")
                || code.starts_with("57P")
                || code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
        }),
        _ => false,
    }
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

/// What a writer expects of the stored row before it changes it (e.g. "its representation
/// still has the ETag I read"): checked on the row read inside the write's transaction, so
/// that two writers never both pass. `None`: no expectation.
pub type Expect<'a, M> = Option<&'a (dyn Fn(&M) -> bool + Send + Sync)>;

/// [`DomainError::Stale`] unless the expectation holds for `row`.
pub fn expect<M>(expect: Expect<'_, M>, row: &M, what: &'static str) -> DomainResult<()> {
    match expect {
        Some(f) if !f(row) => Err(DomainError::Stale(what)),
        _ => Ok(()),
    }
}
