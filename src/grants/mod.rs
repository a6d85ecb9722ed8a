//! What the authorization server hands out and must be able to take back: authorization codes,
//! grants and their refresh-token families, remembered consents and revoked access tokens.
//!
//! Codes and refresh tokens are 256 random bits, stored only as a keyed hash. Redeeming a code
//! and rotating a refresh token are single conditional UPDATEs, so two nodes racing on the
//! same value cannot both win; the loser is treated as a replay and revokes the grant.

use chrono::{DateTime, Duration, Utc};
use entity::{authorization_code, consent, grant, refresh_token, revoked_token, session};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::crypto::{self, SubKey};
use crate::error::DomainResult;

/// Everything an authorization code stands for.
#[derive(Clone, Debug)]
pub struct NewCode {
    pub tenant_id: Uuid,
    pub client_id: String,
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub claims: Option<String>,
    pub auth_time: DateTime<Utc>,
    pub offline: bool,
    /// The session's `amr`.
    pub amr: String,
}

pub async fn issue_code(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    ttl: Duration,
    c: NewCode,
) -> DomainResult<String> {
    let code = crypto::random_token(32)?;
    authorization_code::ActiveModel {
        id: Set(Uuid::now_v7()),
        code_hash: Set(key.hash_hex(code.as_bytes())),
        tenant_id: Set(c.tenant_id),
        client_id: Set(c.client_id),
        user_id: Set(c.user_id),
        session_id: Set(c.session_id),
        grant_id: Set(Uuid::now_v7()),
        redirect_uri: Set(c.redirect_uri),
        scope: Set(c.scope),
        nonce: Set(c.nonce),
        code_challenge: Set(c.code_challenge),
        claims: Set(c.claims),
        auth_time: Set(c.auth_time),
        offline: Set(c.offline),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        redeemed_at: Set(None),
        amr: Set(c.amr),
    }
    .insert(db)
    .await?;
    Ok(code)
}

pub enum Redeemed {
    /// First use: the caller checks client, redirect URI and PKCE, then makes the grant.
    Fresh(Box<authorization_code::Model>),
    /// Used before: the grant it produced has been revoked.
    Replayed,
    /// Unknown, expired or another tenant's.
    Invalid,
}

/// Use a code once. A second use revokes the grant made from the first. Another client's code
/// is simply invalid: it can neither use nor burn it.
pub async fn redeem_code(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    tenant_id: Uuid,
    client_id: &str,
    code: &str,
) -> DomainResult<Redeemed> {
    let hash = key.hash_hex(code.as_bytes());
    let Some(found) = authorization_code::Entity::find()
        .filter(authorization_code::Column::CodeHash.eq(hash.as_str()))
        .filter(authorization_code::Column::TenantId.eq(tenant_id))
        .filter(authorization_code::Column::ClientId.eq(client_id))
        .one(db)
        .await?
    else {
        return Ok(Redeemed::Invalid);
    };
    if found.redeemed_at.is_some() {
        revoke_code_grant(db, now, &found).await?;
        return Ok(Redeemed::Replayed);
    }
    if found.expires_at <= now {
        return Ok(Redeemed::Invalid);
    }
    let won = authorization_code::Entity::update_many()
        .col_expr(authorization_code::Column::RedeemedAt, Expr::value(now))
        .filter(authorization_code::Column::Id.eq(found.id))
        .filter(authorization_code::Column::RedeemedAt.is_null())
        .exec(db)
        .await?
        .rows_affected
        == 1;
    if !won {
        revoke_code_grant(db, now, &found).await?;
        return Ok(Redeemed::Replayed);
    }
    Ok(Redeemed::Fresh(Box::new(found)))
}

fn grant_row(code: &authorization_code::Model, now: DateTime<Utc>) -> grant::ActiveModel {
    grant::ActiveModel {
        id: Set(code.grant_id),
        tenant_id: Set(code.tenant_id),
        client_id: Set(code.client_id.clone()),
        user_id: Set(Some(code.user_id)),
        session_id: Set(Some(code.session_id)),
        scope: Set(code.scope.clone()),
        claims: Set(code.claims.clone()),
        auth_time: Set(Some(code.auth_time)),
        offline: Set(code.offline),
        created_at: Set(now),
        revoked_at: Set(None),
        amr: Set(code.amr.clone()),
    }
}

/// Revoke the grant of a replayed code. The first use may not have written the grant yet:
/// then a revoked one is written in its place, and the first use finds it revoked.
async fn revoke_code_grant(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    code: &authorization_code::Model,
) -> DomainResult<()> {
    let mut tombstone = grant_row(code, now);
    tombstone.revoked_at = Set(Some(now));
    grant::Entity::insert(tombstone)
        .on_conflict_do_nothing_on([grant::Column::Id])
        .exec(db)
        .await?;
    revoke_grant(db, now, code.grant_id).await
}

/// The grant a redeemed code stands for; `None` if a replay revoked it in the meantime.
pub async fn grant_from_code(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    code: &authorization_code::Model,
) -> DomainResult<Option<grant::Model>> {
    grant::Entity::insert(grant_row(code, now))
        .on_conflict_do_nothing_on([grant::Column::Id])
        .exec(db)
        .await?;
    live_grant(db, code.grant_id).await
}

pub async fn find_grant(db: &impl ConnectionTrait, id: Uuid) -> DomainResult<Option<grant::Model>> {
    Ok(grant::Entity::find_by_id(id).one(db).await?)
}

/// A grant that still stands: not revoked.
pub async fn live_grant(db: &impl ConnectionTrait, id: Uuid) -> DomainResult<Option<grant::Model>> {
    Ok(find_grant(db, id).await?.filter(|g| g.revoked_at.is_none()))
}

/// A grant that is not revoked, with its user (one round trip).
pub async fn live_grant_with_user(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> DomainResult<Option<(grant::Model, Option<entity::user::Model>)>> {
    Ok(grant::Entity::find_by_id(id)
        .filter(grant::Column::RevokedAt.is_null())
        .find_also_related(entity::user::Entity)
        .one(db)
        .await?)
}

pub async fn revoke_grant(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    id: Uuid,
) -> DomainResult<()> {
    grant::Entity::update_many()
        .col_expr(grant::Column::RevokedAt, Expr::value(now))
        .filter(grant::Column::Id.eq(id))
        .filter(grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// End every grant of a user (their refresh tokens and access tokens die with them).
pub async fn revoke_user_grants(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user_id: Uuid,
) -> DomainResult<u64> {
    Ok(grant::Entity::update_many()
        .col_expr(grant::Column::RevokedAt, Expr::value(now))
        .filter(grant::Column::UserId.eq(user_id))
        .filter(grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// End the grants that live only as long as a browser session (not `offline_access`).
pub async fn revoke_session_grants(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    session_id: Uuid,
) -> DomainResult<u64> {
    Ok(grant::Entity::update_many()
        .col_expr(grant::Column::RevokedAt, Expr::value(now))
        .filter(grant::Column::SessionId.eq(session_id))
        .filter(grant::Column::Offline.eq(false))
        .filter(grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// How often a refresh writes the session's `last_seen_at` at most (as a browser request does).
const SESSION_TOUCH_EVERY: Duration = Duration::seconds(60);

/// Whether the browser session a grant lives by is still live: not revoked, within its
/// absolute lifetime, and not idle for `idle` or longer. A grant with `offline_access`, or
/// without a session, lives on its own (`true`). With `touch`, a live session counts this as
/// activity (a refresh keeps an idle session alive, as in Keycloak; the absolute lifetime
/// never moves).
pub async fn session_live(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    idle: Duration,
    g: &grant::Model,
    touch: bool,
) -> DomainResult<bool> {
    let Some(session_id) = g.session_id.filter(|_| !g.offline) else {
        return Ok(true);
    };
    let Some(s) = session::Entity::find_by_id(session_id).one(db).await? else {
        return Ok(false);
    };
    let live = s.revoked_at.is_none() && now < s.expires_at && now < s.last_seen_at + idle;
    if live && touch && now - s.last_seen_at >= SESSION_TOUCH_EVERY {
        session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::value(now))
            .filter(session::Column::Id.eq(session_id))
            .filter(session::Column::LastSeenAt.lt(now))
            .exec(db)
            .await?;
    }
    Ok(live)
}

pub async fn issue_refresh_token(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    ttl: Duration,
    grant_id: Uuid,
) -> DomainResult<String> {
    let token = crypto::random_token(32)?;
    refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set(key.hash_hex(token.as_bytes())),
        grant_id: Set(grant_id),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// A refresh token by its value, with its grant (whatever their state).
async fn find_refresh_token(
    db: &impl ConnectionTrait,
    key: &SubKey,
    token: &str,
) -> DomainResult<Option<(refresh_token::Model, grant::Model)>> {
    let hash = key.hash_hex(token.as_bytes());
    // One round trip: the token with its grant.
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash.as_str()))
        .find_also_related(grant::Entity)
        .one(db)
        .await?
        .and_then(|(t, g)| g.map(|g| (t, g))))
}

pub enum Rotated {
    /// The token was good and is now used up; the grant it belongs to.
    Fresh(grant::Model),
    /// A used token came back: the whole family (grant) is revoked.
    Replayed,
    /// Unknown, expired, revoked, or another tenant's.
    Invalid,
}

/// Use up a refresh token (rotation). Reuse of a rotated token revokes its grant.
pub async fn rotate_refresh_token(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    tenant_id: Uuid,
    client_id: &str,
    token: &str,
) -> DomainResult<Rotated> {
    let Some((found, grant)) = find_refresh_token(db, key, token).await? else {
        return Ok(Rotated::Invalid);
    };
    // Another client's token is simply invalid here: it must not be able to burn the family.
    if grant.tenant_id != tenant_id || grant.client_id != client_id {
        return Ok(Rotated::Invalid);
    }
    if found.used_at.is_some() {
        revoke_grant(db, now, grant.id).await?;
        return Ok(Rotated::Replayed);
    }
    if grant.revoked_at.is_some() || found.expires_at <= now {
        return Ok(Rotated::Invalid);
    }
    let won = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(found.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .exec(db)
        .await?
        .rows_affected
        == 1;
    if !won {
        revoke_grant(db, now, grant.id).await?;
        return Ok(Rotated::Replayed);
    }
    Ok(Rotated::Fresh(grant))
}

/// The grant of a refresh token that is still usable (for introspection and revocation).
pub async fn refresh_token_grant(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    tenant_id: Uuid,
    token: &str,
) -> DomainResult<Option<(refresh_token::Model, grant::Model)>> {
    let Some((found, grant)) = find_refresh_token(db, key, token).await? else {
        return Ok(None);
    };
    let usable = grant.tenant_id == tenant_id
        && grant.revoked_at.is_none()
        && found.used_at.is_none()
        && found.expires_at > now;
    Ok(usable.then_some((found, grant)))
}

/// The scopes the user has agreed to give the client.
pub async fn consented_scopes(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    client_id: &str,
) -> DomainResult<Vec<String>> {
    Ok(consent::Entity::find()
        .filter(consent::Column::UserId.eq(user_id))
        .filter(consent::Column::ClientId.eq(client_id))
        .one(db)
        .await?
        .map(|c| serde_json::from_str(&c.scopes).unwrap_or_default())
        .unwrap_or_default())
}

/// Remember that the user agreed to `scopes` (added to what was agreed before).
pub async fn remember_consent(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    user_id: Uuid,
    client_id: &str,
    scopes: &[String],
) -> DomainResult<()> {
    let mut all = consented_scopes(db, user_id, client_id).await?;
    for s in scopes {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    let scopes = serde_json::to_string(&all).unwrap_or_else(|_| "[]".into());
    consent::Entity::insert(consent::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        client_id: Set(client_id.to_string()),
        scopes: Set(scopes),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([consent::Column::UserId, consent::Column::ClientId])
            .update_columns([consent::Column::Scopes, consent::Column::UpdatedAt])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Put an access token on the deny list until it expires.
pub async fn revoke_access_token(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> DomainResult<()> {
    revoked_token::Entity::insert(revoked_token::ActiveModel {
        jti: Set(jti.to_string()),
        tenant_id: Set(tenant_id),
        expires_at: Set(expires_at),
    })
    .on_conflict_do_nothing_on([revoked_token::Column::Jti])
    .exec(db)
    .await?;
    Ok(())
}

pub async fn access_token_revoked(db: &impl ConnectionTrait, jti: &str) -> DomainResult<bool> {
    Ok(revoked_token::Entity::find_by_id(jti.to_string())
        .one(db)
        .await?
        .is_some())
}

/// The `jti` of an access token issued under a grant names the grant, so that revoking the
/// grant revokes the token: `{grant id}.{random}`.
pub fn access_token_id(grant_id: Option<Uuid>) -> DomainResult<String> {
    let random = crypto::random_token(12)?;
    Ok(match grant_id {
        Some(g) => format!("{}.{random}", g.simple()),
        None => random,
    })
}

/// The grant an access token's `jti` names, if any.
pub fn grant_of_access_token(jti: &str) -> Option<Uuid> {
    let (grant, _) = jti.split_once('.')?;
    Uuid::try_parse(grant).ok()
}
