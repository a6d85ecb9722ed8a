//! `Idempotency-Key`s of admin API callers: the first request with a key runs, a retry with
//! the same key and the same request gets the first answer again, for [`TTL_HOURS`]. The
//! answer is stored encrypted: it may hold a secret that is shown only once.

use chrono::{DateTime, Duration, Utc};
use entity::admin_idempotency_key as row;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use crate::crypto::SubKey;
use crate::error::{DomainError, DomainResult};

pub const TTL_HOURS: i64 = 24;

/// An answer as stored: status, the headers that matter, the body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug)]
pub enum Reserved {
    /// The first request with this key: run it, then [`complete`] or [`release`].
    First,
    /// The first request with this key is still running.
    Running,
    /// The key was used for another request.
    OtherRequest,
    /// The first request's answer.
    Done(Answer),
}

/// Claim `key_hash` for the request `request_hash`, or say what became of it.
pub async fn reserve(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    key_hash: &str,
    request_hash: &str,
    actor: &str,
) -> DomainResult<Reserved> {
    row::Entity::delete_many()
        .filter(row::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    let inserted = row::ActiveModel {
        key_hash: Set(key_hash.to_string()),
        request_hash: Set(request_hash.to_string()),
        actor: Set(actor.chars().take(128).collect()),
        status: Set(0),
        response: Set(None),
        created_at: Set(now),
        expires_at: Set(now + Duration::hours(TTL_HOURS)),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(_) => return Ok(Reserved::First),
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) => {}
        Err(e) => return Err(e.into()),
    }
    let Some(found) = row::Entity::find_by_id(key_hash.to_string())
        .one(db)
        .await?
    else {
        // Released between the insert and this read: the caller may retry.
        return Ok(Reserved::Running);
    };
    if !crate::crypto::ct_eq(found.request_hash.as_bytes(), request_hash.as_bytes()) {
        return Ok(Reserved::OtherRequest);
    }
    match (found.status, found.response) {
        (0, _) | (_, None) => Ok(Reserved::Running),
        (_, Some(sealed)) => {
            let plain = crate::keys::decrypt(key, &sealed)?;
            let answer = serde_json::from_slice(&plain).map_err(DomainError::internal)?;
            Ok(Reserved::Done(answer))
        }
    }
}

/// Store the first request's answer.
pub async fn complete(
    db: &impl ConnectionTrait,
    key: &SubKey,
    key_hash: &str,
    answer: &Answer,
) -> DomainResult<()> {
    let plain = serde_json::to_vec(answer).map_err(DomainError::internal)?;
    let sealed = crate::keys::encrypt(key, &plain)?;
    row::Entity::update_many()
        .col_expr(row::Column::Status, Expr::value(i32::from(answer.status)))
        .col_expr(row::Column::Response, Expr::value(sealed))
        .filter(row::Column::KeyHash.eq(key_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Forget a key whose first request failed: a retry runs again.
pub async fn release(db: &impl ConnectionTrait, key_hash: &str) -> DomainResult<()> {
    row::Entity::delete_many()
        .filter(row::Column::KeyHash.eq(key_hash))
        .filter(row::Column::Status.eq(0))
        .exec(db)
        .await?;
    Ok(())
}
