//! Browser sessions: a random id in a cookie, only its keyed hash in the database, idle and
//! absolute timeouts, revocable.

use chrono::{DateTime, Duration, Utc};
use entity::{session, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;

use crate::audit::{self, RequestMeta};
use crate::crypto::{self, SubKey};
use crate::error::{DomainError, DomainResult};

/// How often `last_seen_at` is written at most (idle timeouts are far longer).
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// How long a sign-in or re-authentication lets the session make sensitive changes (the
/// address, factors, passkeys, recovery codes) without proving the user again ("sudo mode").
pub const REAUTH_WINDOW: Duration = Duration::minutes(5);

/// When the user last proved who they are in this session.
pub fn authenticated_at(session: &session::Model) -> DateTime<Utc> {
    session.auth_at.unwrap_or(session.created_at)
}

/// Whether the session proved its user within [`REAUTH_WINDOW`].
pub fn recently_authenticated(session: &session::Model, now: DateTime<Utc>) -> bool {
    let at = authenticated_at(session);
    at <= now + Duration::seconds(1) && now - at <= REAUTH_WINDOW
}

/// The user proved who they are again in this session (password, passkey or second factor).
pub async fn reauthenticated(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    session_id: Uuid,
) -> DomainResult<()> {
    session::Entity::update_many()
        .col_expr(session::Column::AuthAt, Expr::value(now))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

/// A session cookie value: shown to the browser once, never stored.
#[derive(Clone)]
pub struct SessionToken(pub String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

pub async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    timeouts: Timeouts,
    user: &user::Model,
    meta: &RequestMeta,
    amr: &str,
) -> DomainResult<(SessionToken, session::Model)> {
    let token = crypto::random_token(32)?;
    let model = session::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(user.tenant_id),
        user_id: Set(user.id),
        token_hash: Set(key.hash_hex(token.as_bytes())),
        ip: Set(meta.ip.clone()),
        user_agent: Set(meta
            .user_agent
            .clone()
            .map(|ua| ua.chars().take(512).collect())),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(now + timeouts.absolute),
        revoked_at: Set(None),
        amr: Set(amr.to_string()),
        mfa_at: Set(amr.split(' ').any(|m| m == "mfa").then_some(now)),
        auth_at: Set(Some(now)),
    }
    .insert(db)
    .await?;
    Ok((SessionToken(token), model))
}

/// The live session and its user for a cookie value, or `None` if the session is unknown,
/// revoked, expired (idle or absolute), of another tenant, or its user is disabled.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    timeouts: Timeouts,
    tenant_id: Uuid,
    token: &str,
) -> DomainResult<Option<(session::Model, user::Model)>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let found = session::Entity::find()
        .filter(session::Column::TokenHash.eq(key.hash_hex(token.as_bytes())))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    let Some((session, Some(user))) = found else {
        return Ok(None);
    };
    let live = session.revoked_at.is_none()
        && session.tenant_id == tenant_id
        && now < session.expires_at
        && now < session.last_seen_at + timeouts.idle
        && !user.disabled;
    if !live {
        return Ok(None);
    }
    let session = if now - session.last_seen_at >= TOUCH_EVERY {
        let mut active: session::ActiveModel = session.into();
        active.last_seen_at = Set(now);
        active.update(db).await?
    } else {
        session
    };
    Ok(Some((session, user)))
}

/// The user's sessions that are still live, newest first.
pub async fn list_live(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    timeouts: Timeouts,
    user_id: Uuid,
) -> DomainResult<Vec<session::Model>> {
    Ok(session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .filter(session::Column::LastSeenAt.gt(now - timeouts.idle))
        .order_by_desc(session::Column::CreatedAt)
        .all(db)
        .await?)
}

/// End one of the user's sessions. `NotFound` if it is not theirs or already ended.
pub async fn revoke(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user: &user::Model,
    session_id: Uuid,
    reason: &'static str,
    meta: &RequestMeta,
) -> DomainResult<()> {
    revoke_by(
        db,
        now,
        user,
        session_id,
        reason,
        &audit::user_actor(user.id),
        meta,
    )
    .await
}

/// [`revoke`] by someone else (an operator): `actor` is recorded as the one who ended it.
pub async fn revoke_by(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user: &user::Model,
    session_id: Uuid,
    reason: &'static str,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<()> {
    let result = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::UserId.eq(user.id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(DomainError::NotFound("session"));
    }
    audit::record(
        db,
        now,
        audit::Event::new(reason, actor.to_string(), meta)
            .tenant(user.tenant_id)
            .target(format!("session:{session_id}")),
    )
    .await
}

/// End every session of a user, except `keep`.
pub async fn revoke_all(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> DomainResult<u64> {
    let mut query = session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(now))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        query = query.filter(session::Column::Id.ne(keep));
    }
    Ok(query.exec(db).await?.rows_affected)
}

/// Record a second factor proven in a live session (step-up): its `amr` and `mfa_at`.
pub async fn upgrade(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    session_id: Uuid,
    amr: &str,
) -> DomainResult<()> {
    session::Entity::update_many()
        .col_expr(session::Column::Amr, Expr::value(amr))
        .col_expr(session::Column::MfaAt, Expr::value(now))
        .col_expr(session::Column::AuthAt, Expr::value(now))
        .filter(session::Column::Id.eq(session_id))
        .filter(session::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}
