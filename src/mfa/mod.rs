//! Multi-factor authentication: TOTP authenticators, recovery codes, the tenant's policy, and
//! what a sign-in is worth (RFC 8176 `amr` values; the `acr` values Plinto asserts in ID
//! tokens and the SAML AuthnContextClassRef).
//!
//! Services take a connection and the time; nothing here knows HTTP.

pub mod passkeys;
pub mod recovery;
pub mod totp;

use chrono::{DateTime, Utc};
use entity::{mfa_recovery_code, mfa_totp, tenant, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use uuid::Uuid;

use crate::crypto::SubKey;
use crate::error::{DomainError, DomainResult};

/// `acr` of a password-only sign-in.
pub const ACR_PWD: &str = "urn:plinto:acr:pwd";
/// `acr` of a sign-in with a second factor.
pub const ACR_MFA: &str = "urn:plinto:acr:mfa";
pub const ACR_VALUES: [&str; 2] = [ACR_PWD, ACR_MFA];

/// The tenant's rule (`tenants.mfa_policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Optional,
    Required,
    Admins,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "optional" => Policy::Optional,
            "required" => Policy::Required,
            "admins" => Policy::Admins,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Optional => "optional",
            Policy::Required => "required",
            Policy::Admins => "admins",
        }
    }

    pub fn of(tenant: &tenant::Model) -> Self {
        Self::parse(&tenant.mfa_policy).unwrap_or(Policy::Optional)
    }

    /// Whether this user must sign in with a second factor.
    pub fn requires(self, user: &user::Model) -> bool {
        match self {
            Policy::Optional => false,
            Policy::Required => true,
            Policy::Admins => user.is_admin,
        }
    }
}

/// Whether an `amr` (space-separated) includes a second factor.
pub fn is_mfa(amr: &str) -> bool {
    amr.split(' ').any(|m| m == "mfa")
}

/// The `acr` a sign-in with this `amr` reaches.
pub fn acr_of(amr: &str) -> &'static str {
    if is_mfa(amr) { ACR_MFA } else { ACR_PWD }
}

/// The `amr` after a second factor on top of `before` (RFC 8176: `otp` for TOTP and recovery
/// codes, `mfa` once there are two).
pub fn with_factor(before: &str, factor: &str) -> String {
    let mut out: Vec<&str> = before.split(' ').filter(|s| !s.is_empty()).collect();
    for m in [factor, "mfa"] {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out.join(" ")
}

/// The user's confirmed TOTP authenticator, if any.
pub async fn totp_of(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> DomainResult<Option<mfa_totp::Model>> {
    Ok(mfa_totp::Entity::find()
        .filter(mfa_totp::Column::UserId.eq(user_id))
        .one(db)
        .await?)
}

/// Whether the user has a second factor to sign in with (an authenticator app or a passkey).
pub async fn enrolled(db: &impl ConnectionTrait, user_id: Uuid) -> DomainResult<bool> {
    Ok(totp_enrolled(db, user_id).await? || !passkeys::list(db, user_id).await?.is_empty())
}

/// Whether the user has a confirmed authenticator app.
pub async fn totp_enrolled(db: &impl ConnectionTrait, user_id: Uuid) -> DomainResult<bool> {
    Ok(totp_of(db, user_id)
        .await?
        .is_some_and(|t| t.confirmed_at.is_some()))
}

/// Start (or restart) TOTP enrollment: a new secret, unconfirmed. Refused while a confirmed
/// one exists (remove it first).
pub async fn totp_begin(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    enc: &SubKey,
    user: &user::Model,
) -> DomainResult<Vec<u8>> {
    let existing = totp_of(db, user.id).await?;
    if let Some(t) = &existing {
        if t.confirmed_at.is_some() {
            return Err(DomainError::Conflict(
                "An authenticator app is already set up. Remove it first.".into(),
            ));
        }
        // Keep showing the same secret until it is confirmed (a reload must not invalidate
        // what the user already scanned).
        return secret_of(enc, t);
    }
    let secret = totp::new_secret()?;
    mfa_totp::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(user.tenant_id),
        user_id: Set(user.id),
        secret_jwe: Set(crate::keys::encrypt(enc, hex::encode(&secret).as_bytes())?),
        confirmed_at: Set(None),
        last_step: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(secret)
}

fn secret_of(enc: &SubKey, t: &mfa_totp::Model) -> DomainResult<Vec<u8>> {
    let h = crate::keys::decrypt(enc, &t.secret_jwe)?;
    String::from_utf8(h)
        .ok()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| DomainError::internal("unreadable TOTP secret"))
}

/// Check a TOTP code (±1 step) and use it up: a code is accepted once, and no code of an
/// earlier step after it. With `confirm`, an unconfirmed authenticator becomes confirmed.
pub async fn totp_check(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    enc: &SubKey,
    user_id: Uuid,
    code: &str,
    confirm: bool,
) -> DomainResult<bool> {
    let Some(t) = totp_of(db, user_id).await? else {
        return Ok(false);
    };
    if t.confirmed_at.is_none() && !confirm {
        return Ok(false);
    }
    let secret = secret_of(enc, &t)?;
    let unix = u64::try_from(now.timestamp()).unwrap_or(0);
    let last = t.last_step.and_then(|s| u64::try_from(s).ok());
    let Some(step) = totp::verify(&secret, code, unix, last) else {
        return Ok(false);
    };
    let step = i64::try_from(step).map_err(DomainError::internal)?;
    // Compare-and-set, so that two requests with the same code cannot both pass.
    let mut q = mfa_totp::Entity::update_many()
        .col_expr(mfa_totp::Column::LastStep, Expr::value(step))
        .filter(mfa_totp::Column::Id.eq(t.id));
    q = match t.last_step {
        Some(prev) => q.filter(mfa_totp::Column::LastStep.eq(prev)),
        None => q.filter(mfa_totp::Column::LastStep.is_null()),
    };
    if t.confirmed_at.is_none() {
        q = q.col_expr(mfa_totp::Column::ConfirmedAt, Expr::value(now));
    }
    Ok(q.exec(db).await?.rows_affected == 1)
}

/// Remove the user's authenticator app (and, with it, nothing else).
pub async fn totp_remove(db: &impl ConnectionTrait, user_id: Uuid) -> DomainResult<bool> {
    Ok(mfa_totp::Entity::delete_many()
        .filter(mfa_totp::Column::UserId.eq(user_id))
        .exec(db)
        .await?
        .rows_affected
        > 0)
}

/// Turn the authenticator app off; recovery codes go too unless a passkey remains.
pub async fn totp_disable(db: &impl ConnectionTrait, user_id: Uuid) -> DomainResult<()> {
    totp_remove(db, user_id).await?;
    if passkeys::list(db, user_id).await?.is_empty() {
        mfa_recovery_code::Entity::delete_many()
            .filter(mfa_recovery_code::Column::UserId.eq(user_id))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Ten new recovery codes (the old ones stop working). Shown once; stored hashed.
pub async fn recovery_generate(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    user: &user::Model,
) -> DomainResult<Vec<String>> {
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::UserId.eq(user.id))
        .exec(db)
        .await?;
    let codes = recovery::generate()?;
    for c in &codes {
        let normalized = recovery::normalize(c)
            .ok_or_else(|| DomainError::internal("a generated recovery code does not normalize"))?;
        mfa_recovery_code::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(user.tenant_id),
            user_id: Set(user.id),
            code_hash: Set(recovery::hash(key, &normalized)),
            used_at: Set(None),
            created_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(codes)
}

/// How many unused recovery codes the user has.
pub async fn recovery_remaining(db: &impl ConnectionTrait, user_id: Uuid) -> DomainResult<u64> {
    Ok(mfa_recovery_code::Entity::find()
        .filter(mfa_recovery_code::Column::UserId.eq(user_id))
        .filter(mfa_recovery_code::Column::UsedAt.is_null())
        .count(db)
        .await?)
}

/// Use a recovery code: `Some(remaining)` if it was a valid unused one.
pub async fn recovery_use(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    user_id: Uuid,
    input: &str,
) -> DomainResult<Option<u64>> {
    let Some(normalized) = recovery::normalize(input) else {
        return Ok(None);
    };
    let used = mfa_recovery_code::Entity::update_many()
        .col_expr(mfa_recovery_code::Column::UsedAt, Expr::value(now))
        .filter(mfa_recovery_code::Column::UserId.eq(user_id))
        .filter(mfa_recovery_code::Column::CodeHash.eq(recovery::hash(key, &normalized)))
        .filter(mfa_recovery_code::Column::UsedAt.is_null())
        .exec(db)
        .await?
        .rows_affected
        == 1;
    if !used {
        return Ok(None);
    }
    Ok(Some(recovery_remaining(db, user_id).await?))
}

/// An operator's reset after a lost device: every factor of the user goes, and the reset is
/// audited (`mfa.reset`) in the same transaction.
pub async fn reset_by_operator<C: ConnectionTrait + sea_orm::TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    user: &user::Model,
    actor: &str,
    meta: &crate::audit::RequestMeta,
) -> DomainResult<()> {
    use sea_orm::TransactionSession;
    let txn = crate::db::begin(db).await?;
    reset(&txn, user.id).await?;
    crate::audit::record(
        &txn,
        now,
        crate::audit::Event::new(crate::audit::actions::MFA_RESET, actor.to_string(), meta)
            .tenant(user.tenant_id)
            .target(crate::audit::user_actor(user.id)),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Remove every factor of the user (an administrator's reset after a lost device).
pub async fn reset(db: &impl ConnectionTrait, user_id: Uuid) -> DomainResult<()> {
    totp_remove(db, user_id).await?;
    passkeys::remove_all(db, user_id).await?;
    mfa_recovery_code::Entity::delete_many()
        .filter(mfa_recovery_code::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
