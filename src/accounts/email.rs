//! Email verification (on sign-up, on request, on a change of address) and password reset,
//! through single-use links: a random token in the link, only its keyed hash stored, an expiry,
//! and a conditional update that lets exactly one use through.

use chrono::{DateTime, Duration, Utc};
use entity::{email_token, tenant, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::notices::{self, OwnerNotice};
use super::password::Hasher;
use super::{sessions, users, validation};
use crate::audit::{self, RequestMeta, actions};
use crate::crypto::{self, SubKey};
use crate::error::{DomainError, DomainResult};
use crate::mail::templates::{self, Mail};
use crate::mail::{Mailer, outbox};

pub const VERIFY_EMAIL: &str = "verify_email";
pub const PASSWORD_RESET: &str = "password_reset";
/// The link to the old address after an address change, to take it back.
pub const EMAIL_UNDO: &str = "email_undo";

/// How long the old address can undo an address change.
pub const UNDO_TTL: Duration = Duration::days(7);

/// What the flows need besides the database: the clock, keys, mailer and lifetimes.
#[derive(Clone)]
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub key: &'a SubKey,
    pub mailer: &'a Mailer,
    /// `{public_url}/t/{slug}`: links are built below it.
    pub issuer: String,
    pub verify_ttl: Duration,
    pub reset_ttl: Duration,
}

/// The links in the messages.
pub const VERIFY_PATH: &str = crate::http::routes::VERIFY_EMAIL;
pub const RESET_PATH: &str = crate::http::routes::PASSWORD_RESET;
pub const UNDO_PATH: &str = crate::http::routes::EMAIL_UNDO;

async fn issue(
    db: &impl ConnectionTrait,
    ctx: &Ctx<'_>,
    user: &user::Model,
    purpose: &str,
    email: &str,
    ttl: Duration,
) -> DomainResult<String> {
    // A new link replaces the older ones of the same purpose.
    email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(ctx.now))
        .filter(email_token::Column::UserId.eq(user.id))
        .filter(email_token::Column::Purpose.eq(purpose))
        .filter(email_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    let token = crypto::random_token(32)?;
    email_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(user.tenant_id),
        user_id: Set(user.id),
        purpose: Set(purpose.to_string()),
        token_hash: Set(ctx.key.hash_hex(token.as_bytes())),
        email: Set(email.to_string()),
        created_at: Set(ctx.now),
        expires_at: Set(ctx.now + ttl),
        used_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The live (unused, unexpired) token of this purpose and its user, if the token is one.
pub async fn find_live(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    key: &SubKey,
    tenant_id: Uuid,
    purpose: &str,
    token: &str,
) -> DomainResult<Option<(email_token::Model, user::Model)>> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let found = email_token::Entity::find()
        .filter(email_token::Column::TokenHash.eq(key.hash_hex(token.as_bytes())))
        .one(db)
        .await?;
    let Some(t) = found.filter(|t| {
        t.tenant_id == tenant_id
            && t.purpose == purpose
            && t.used_at.is_none()
            && now < t.expires_at
    }) else {
        return Ok(None);
    };
    let Some(user) = users::find(db, tenant_id, t.user_id).await? else {
        return Ok(None);
    };
    Ok(Some((t, user)))
}

/// Use the token: true for exactly one caller.
async fn consume(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    token: &email_token::Model,
) -> DomainResult<bool> {
    let r = email_token::Entity::update_many()
        .col_expr(email_token::Column::UsedAt, Expr::value(now))
        .filter(email_token::Column::Id.eq(token.id))
        .filter(email_token::Column::UsedAt.is_null())
        .filter(email_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

fn link(ctx: &Ctx<'_>, path: &str, token: &str) -> String {
    format!("{}{path}?token={token}", ctx.issuer)
}

/// Queue a verification link for `email` (the user's address, or the new one they asked
/// for). Call `mailer.wake()` after the transaction commits.
pub async fn send_verification(
    db: &impl ConnectionTrait,
    ctx: &Ctx<'_>,
    tenant: &tenant::Model,
    user: &user::Model,
    email: &str,
    meta: &RequestMeta,
) -> DomainResult<()> {
    let token = issue(db, ctx, user, VERIFY_EMAIL, email, ctx.verify_ttl).await?;
    let link = link(ctx, VERIFY_PATH, &token);
    let valid_for = templates::duration_words(ctx.verify_ttl.num_seconds().max(0) as u64);
    let mail = templates::verify_email(&Mail {
        product: &tenant.name,
        link: &link,
        valid_for: &valid_for,
    })?;
    outbox::enqueue(db, ctx.now, ctx.mailer, Some(tenant.id), email, mail).await?;
    audit::record(
        db,
        ctx.now,
        audit::Event::new(
            actions::EMAIL_VERIFICATION_SENT,
            audit::user_actor(user.id),
            meta,
        )
        .tenant(tenant.id)
        .target(audit::user_actor(user.id)),
    )
    .await
}

/// Ask for a change of address: the new address gets a verification link, and the account
/// keeps its current address until the link is used. When another account has the address,
/// its owner is told instead, and the caller answers exactly as for a free address (no
/// enumeration of accounts through this form).
pub async fn request_email_change<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    ctx: &Ctx<'_>,
    tenant: &tenant::Model,
    user: &user::Model,
    new_email: &str,
    meta: &RequestMeta,
) -> DomainResult<()> {
    let email = validation::parse_email(new_email)?;
    if user.email_normalized.as_deref() == Some(email.normalized.as_str()) {
        return Err(DomainError::invalid(
            "email",
            "this is already your email address",
        ));
    }
    let txn = crate::db::begin(db).await?;
    match users::find_by_email(&txn, tenant.id, &email).await? {
        Some(owner) => {
            notices::to_owner(
                &txn,
                ctx,
                tenant,
                &owner,
                OwnerNotice::EmailChangeToTakenAddress,
            )
            .await?;
            audit::record(
                &txn,
                ctx.now,
                audit::Event::new(actions::EMAIL_CHANGE, audit::user_actor(user.id), meta)
                    .tenant(tenant.id)
                    .target(audit::user_actor(user.id))
                    .failed()
                    .details(serde_json::json!({ "reason": "address_taken" })),
            )
            .await?;
        }
        None => send_verification(&txn, ctx, tenant, user, &email.display, meta).await?,
    }
    txn.commit().await?;
    Ok(())
}

/// Give the account the address `email` (verified): its SCIM emails follow, and its SCIM
/// userName too when that was the address.
async fn set_address(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user: user::Model,
    email: &validation::Email,
) -> DomainResult<user::Model> {
    let old = user.email.clone();
    let changing = user.email_normalized.as_deref() != Some(email.normalized.as_str());
    let mut doc = user.scim.clone();
    let user_name_was_email =
        user.email_normalized.as_deref() == Some(user.user_name_normalized.as_str());
    let mut active = user.into_active_model();
    active.email_verified = Set(true);
    if changing {
        active.email = Set(Some(email.display.clone()));
        active.email_normalized = Set(Some(email.normalized.clone()));
        users::replace_email(&mut doc, old.as_deref(), &email.display);
        active.scim_search = Set(users::search_copy(&doc));
        active.scim = Set(doc);
        // An account whose SCIM userName was its address keeps it so.
        if user_name_was_email {
            active.user_name = Set(email.display.clone());
            active.user_name_normalized = Set(email.normalized.clone());
        }
    }
    active.updated_at = Set(now);
    let user = active.update(db).await.map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            DomainError::Conflict("another account took this email address in the meantime".into())
        }
        _ => e.into(),
    })?;
    users::bump_version(db, user.id).await?;
    Ok(user)
}

/// Use a verification link: the address it was sent to becomes the account's verified
/// address. After a change, the old address is told, with a link that undoes it (single use,
/// [`UNDO_TTL`]). `None` when the link is unknown, used or expired.
pub async fn confirm_verification<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    ctx: &Ctx<'_>,
    tenant: &tenant::Model,
    token: &str,
    meta: &RequestMeta,
) -> DomainResult<Option<user::Model>> {
    let now = ctx.now;
    let Some((t, user)) = find_live(db, now, ctx.key, tenant.id, VERIFY_EMAIL, token).await? else {
        return Ok(None);
    };
    let email = validation::parse_email(&t.email)?;
    let changing = user.email_normalized.as_deref() != Some(email.normalized.as_str());
    if changing
        && users::find_by_email(db, tenant.id, &email)
            .await?
            .is_some_and(|other| other.id != user.id)
    {
        return Err(DomainError::Conflict(
            "another account took this email address in the meantime".into(),
        ));
    }
    let txn = crate::db::begin(db).await?;
    if !consume(&txn, now, &t).await? {
        return Ok(None);
    }
    let id = user.id;
    let old = user.email.clone();
    let user = set_address(&txn, now, user, &email).await?;
    let mut event = audit::Event::new(
        if changing {
            actions::EMAIL_CHANGE
        } else {
            actions::EMAIL_VERIFIED
        },
        audit::user_actor(id),
        meta,
    )
    .tenant(tenant.id)
    .target(audit::user_actor(id));
    if changing {
        event = event.details(serde_json::json!({ "from": old, "to": user.email }));
        // An account that had no address has no old one to tell (or to go back to).
        if let Some(old) = &old {
            let undo = issue(&txn, ctx, &user, EMAIL_UNDO, old, UNDO_TTL).await?;
            let valid_for = templates::duration_words(UNDO_TTL.num_seconds().max(0) as u64);
            super::notices::email_changed(
                &txn,
                ctx,
                tenant,
                old,
                user.identifier(),
                &link(ctx, UNDO_PATH, &undo),
                &valid_for,
            )
            .await?;
        }
    }
    audit::record(&txn, now, event).await?;
    txn.commit().await?;
    Ok(Some(user))
}

/// Use the undo link sent to the old address after a change: the account gets that address
/// back (verified), and every session and grant of the account ends, since whoever changed
/// the address may still hold one. `None` when the link is unknown, used or expired.
pub async fn undo_email_change<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    key: &SubKey,
    tenant: &tenant::Model,
    token: &str,
    meta: &RequestMeta,
) -> DomainResult<Option<user::Model>> {
    let Some((t, user)) = find_live(db, now, key, tenant.id, EMAIL_UNDO, token).await? else {
        return Ok(None);
    };
    let email = validation::parse_email(&t.email)?;
    if users::find_by_email(db, tenant.id, &email)
        .await?
        .is_some_and(|other| other.id != user.id)
    {
        return Err(DomainError::Conflict(
            "another account took this email address in the meantime".into(),
        ));
    }
    let txn = crate::db::begin(db).await?;
    if !consume(&txn, now, &t).await? {
        return Ok(None);
    }
    let id = user.id;
    let from = user.email.clone();
    let user = set_address(&txn, now, user, &email).await?;
    let sessions = sessions::revoke_all(&txn, now, id, None).await?;
    let grants = crate::grants::revoke_user_grants(&txn, now, id).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::EMAIL_CHANGE, audit::user_actor(id), meta)
            .tenant(tenant.id)
            .target(audit::user_actor(id))
            .details(serde_json::json!({
                "from": from,
                "to": user.email,
                "undo": true,
                "sessions_ended": sessions,
                "grants_revoked": grants,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(Some(user))
}

/// Someone asks for a reset link for `email`. Whether or not an account has that address,
/// the caller answers the same; a link goes out only to an existing, enabled account.
pub async fn request_reset<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    ctx: &Ctx<'_>,
    tenant: &tenant::Model,
    email: &str,
    meta: &RequestMeta,
) -> DomainResult<bool> {
    let Ok(parsed) = validation::parse_email(email) else {
        return Ok(false);
    };
    let user = users::find_by_email(db, tenant.id, &parsed)
        .await?
        .filter(|u| !u.disabled);
    let txn = crate::db::begin(db).await?;
    let target = match &user {
        Some(u) => audit::user_actor(u.id),
        None => format!("email:{}", parsed.display),
    };
    audit::record(
        &txn,
        ctx.now,
        audit::Event::new(actions::PASSWORD_RESET_REQUEST, "anonymous".into(), meta)
            .tenant(tenant.id)
            .target(target)
            .details(serde_json::json!({ "account_exists": user.is_some() })),
    )
    .await?;
    let Some((user, address)) = user.and_then(|u| u.email.clone().map(|a| (u, a))) else {
        txn.commit().await?;
        return Ok(false);
    };
    let token = issue(&txn, ctx, &user, PASSWORD_RESET, &address, ctx.reset_ttl).await?;
    let link = link(ctx, RESET_PATH, &token);
    let valid_for = templates::duration_words(ctx.reset_ttl.num_seconds().max(0) as u64);
    let mail = templates::password_reset(&Mail {
        product: &tenant.name,
        link: &link,
        valid_for: &valid_for,
    })?;
    outbox::enqueue(&txn, ctx.now, ctx.mailer, Some(tenant.id), &address, mail).await?;
    txn.commit().await?;
    Ok(true)
}

pub struct NewPassword<'a> {
    pub token: &'a str,
    pub password: &'a str,
    pub confirm: &'a str,
}

/// What a password reset did.
#[derive(Debug)]
pub struct ResetDone {
    pub user: user::Model,
    /// The address had not been verified: the passkeys, authenticator app and recovery codes
    /// (all set up before the address was proven) were removed.
    pub factors_removed: bool,
}

/// Use a reset link: set the new password, end every session and grant (refresh and access
/// tokens) of the user, and tell them by email. The link proves the address: if it was not
/// verified yet, every second factor and passkey goes too, since whoever set them up had not
/// proven it (a pre-account takeover: an attacker signs up with the victim's address first).
/// `Ok(None)`: the link is unknown, used or expired.
pub async fn reset_password<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    ctx: &Ctx<'_>,
    hasher: &Hasher,
    tenant: &tenant::Model,
    input: NewPassword<'_>,
    meta: &RequestMeta,
) -> DomainResult<Option<ResetDone>> {
    let Some((t, user)) =
        find_live(db, ctx.now, ctx.key, tenant.id, PASSWORD_RESET, input.token).await?
    else {
        return Ok(None);
    };
    if input.password != input.confirm {
        return Err(DomainError::invalid("password", "the two passwords differ"));
    }
    let email = user
        .email
        .as_deref()
        .map(validation::parse_email)
        .transpose()?;
    validation::check_account_password(input.password, email.as_ref(), &user.user_name)?;
    let hash = hasher.hash(input.password).await?;
    let txn = crate::db::begin(db).await?;
    if !consume(&txn, ctx.now, &t).await? {
        return Ok(None);
    }
    let id = user.id;
    let factors_removed = !user.email_verified && crate::mfa::enrolled(&txn, id).await?;
    if !user.email_verified {
        crate::mfa::reset(&txn, id).await?;
    }
    let mut active = user.into_active_model();
    active.password_hash = Set(Some(hash));
    active.must_change_password = Set(false);
    // The link reached the address: it is the user's.
    active.email_verified = Set(true);
    active.updated_at = Set(ctx.now);
    let user = active.update(&txn).await?;
    users::bump_version(&txn, user.id).await?;
    let sessions = sessions::revoke_all(&txn, ctx.now, id, None).await?;
    let grants = crate::grants::revoke_user_grants(&txn, ctx.now, id).await?;
    audit::record(
        &txn,
        ctx.now,
        audit::Event::new(actions::PASSWORD_RESET, audit::user_actor(id), meta)
            .tenant(tenant.id)
            .target(audit::user_actor(id))
            .details(serde_json::json!({
                "sessions_ended": sessions,
                "grants_revoked": grants,
                "factors_removed": factors_removed,
            })),
    )
    .await?;
    notify_password_changed(&txn, ctx, tenant, &user).await?;
    if factors_removed {
        notices::to_owner(&txn, ctx, tenant, &user, OwnerNotice::FactorsRemoved).await?;
    }
    txn.commit().await?;
    Ok(Some(ResetDone {
        user,
        factors_removed,
    }))
}

/// Queue the "your password was changed" message (with a link to reset it, in case it was
/// not the user); nothing for an account without an address. Call `mailer.wake()` after the
/// transaction commits.
pub async fn notify_password_changed(
    db: &impl ConnectionTrait,
    ctx: &Ctx<'_>,
    tenant: &tenant::Model,
    user: &user::Model,
) -> DomainResult<()> {
    let Some(address) = user.email.as_deref() else {
        return Ok(());
    };
    let forgot = format!("{}{}", ctx.issuer, crate::http::routes::PASSWORD_FORGOT);
    let mail = templates::password_changed(&Mail {
        product: &tenant.name,
        link: &forgot,
        valid_for: "",
    })?;
    outbox::enqueue(db, ctx.now, ctx.mailer, Some(tenant.id), address, mail).await?;
    Ok(())
}
