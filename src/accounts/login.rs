//! Sign-in with email and password, with brute-force protection: failures are counted per
//! account and per IP address (in Redis when configured, else in-process), an account is
//! locked for a while after repeated failures, and an address that fails too often is
//! throttled. Unknown accounts are counted and locked exactly like real ones, and cost a
//! password hash too, so that nothing tells them apart.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use entity::{tenant, user};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::password::{Hasher, Verified};
use super::users;
use crate::audit::{self, RequestMeta, actions};
use crate::cache::Cache;
use crate::error::DomainResult;

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub max_failures: u64,
    pub ip_max_failures: u64,
    pub window_secs: u64,
    pub lockout_secs: u64,
}

#[derive(Debug)]
pub enum Outcome {
    Success(Box<user::Model>),
    /// Unknown account, wrong password or malformed email: one answer for all.
    InvalidCredentials,
    /// Too many failures for this account: try again after `retry_after` seconds.
    Locked {
        retry_after: u64,
    },
    /// Too many failures from this address.
    Throttled {
        retry_after: u64,
    },
    /// The password was right but the account is disabled.
    Disabled,
    /// The password was right but the tenant wants a verified address first.
    Unverified(Box<user::Model>),
}

struct Keys {
    account: String,
    lock: String,
    ip: Option<String>,
}

fn keys(
    policy: &Policy,
    tenant: &tenant::Model,
    email: &str,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Keys {
    let window = now.timestamp().max(0) as u64 / policy.window_secs.max(1);
    let who = format!("{}:{}", tenant.id, email.trim().to_ascii_lowercase());
    Keys {
        account: format!("login:fail:{who}:{window}"),
        lock: format!("login:lock:{who}"),
        ip: ip.map(|ip| format!("login:ipfail:{ip}:{window}")),
    }
}

fn window_left(policy: &Policy, now: DateTime<Utc>) -> u64 {
    let w = policy.window_secs.max(1);
    w - (now.timestamp().max(0) as u64 % w)
}

pub struct Attempt<'a> {
    pub email: &'a str,
    pub password: &'a str,
}

#[allow(clippy::too_many_arguments)]
pub async fn attempt<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    cache: &Cache,
    hasher: &Hasher,
    policy: &Policy,
    tenant: &tenant::Model,
    input: Attempt<'_>,
    meta: &RequestMeta,
) -> DomainResult<Outcome> {
    let keys = keys(policy, tenant, input.email, meta.ip.as_deref(), now);

    if let Some(until) = cache.get(&keys.lock).await? {
        let until = until.parse::<i64>().unwrap_or(0);
        if until > now.timestamp() {
            return Ok(Outcome::Locked {
                retry_after: (until - now.timestamp()) as u64,
            });
        }
    }
    if let Some(ip_key) = &keys.ip {
        let count = cache
            .get(ip_key)
            .await?
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(0);
        if count >= policy.ip_max_failures {
            return Ok(Outcome::Throttled {
                retry_after: window_left(policy, now),
            });
        }
    }

    let user = users::find_for_sign_in(db, tenant, input.email).await?;
    // Always one argon2 verification, whether or not the account exists.
    let verified = hasher
        .verify(
            input.password,
            user.as_ref().and_then(|u| u.password_hash.as_deref()),
        )
        .await?;

    match (user, verified) {
        (Some(user), Verified::Match { rehash }) => {
            if user.disabled {
                record_failure(db, now, tenant, Some(&user), input.email, "disabled", meta).await?;
                return Ok(Outcome::Disabled);
            }
            cache.del(&keys.account).await?;
            // An account without an address (a SCIM userName) has none to verify.
            if tenant.require_email_verification && user.email.is_some() && !user.email_verified {
                record_failure(
                    db,
                    now,
                    tenant,
                    Some(&user),
                    input.email,
                    "email_unverified",
                    meta,
                )
                .await?;
                return Ok(Outcome::Unverified(Box::new(user)));
            }
            let user = if rehash {
                let hash = hasher.hash(input.password).await?;
                users::store_hash(db, now, user, hash).await?
            } else {
                user
            };
            audit::record(
                db,
                now,
                audit::Event::new(actions::LOGIN_SUCCESS, audit::user_actor(user.id), meta)
                    .tenant(tenant.id)
                    .target(audit::user_actor(user.id)),
            )
            .await?;
            Ok(Outcome::Success(Box::new(user)))
        }
        (user, _) => {
            let ttl = StdDuration::from_secs(policy.window_secs.max(1));
            let failures = cache.incr(&keys.account, ttl).await?;
            if let Some(ip_key) = &keys.ip {
                cache.incr(ip_key, ttl).await?;
            }
            record_failure(
                db,
                now,
                tenant,
                user.as_ref(),
                input.email,
                "invalid_credentials",
                meta,
            )
            .await?;
            if failures >= policy.max_failures {
                let until = now.timestamp() + policy.lockout_secs as i64;
                cache
                    .set(
                        &keys.lock,
                        &until.to_string(),
                        StdDuration::from_secs(policy.lockout_secs.max(1) + 60),
                    )
                    .await?;
                cache.del(&keys.account).await?;
                let mut event = audit::Event::new(actions::LOGIN_LOCKOUT, "system".into(), meta)
                    .tenant(tenant.id)
                    .details(serde_json::json!({ "failures": failures, "lockout_secs": policy.lockout_secs }));
                event = match &user {
                    Some(u) => event.target(audit::user_actor(u.id)),
                    None => event.target(format!("email:{}", input.email.trim())),
                };
                audit::record(db, now, event).await?;
                return Ok(Outcome::Locked {
                    retry_after: policy.lockout_secs,
                });
            }
            Ok(Outcome::InvalidCredentials)
        }
    }
}

async fn record_failure(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant: &tenant::Model,
    user: Option<&user::Model>,
    email: &str,
    reason: &str,
    meta: &RequestMeta,
) -> DomainResult<()> {
    let target = match user {
        Some(u) => audit::user_actor(u.id),
        None => format!("email:{}", email.trim()),
    };
    audit::record(
        db,
        now,
        audit::Event::new(actions::LOGIN_FAILURE, "anonymous".into(), meta)
            .tenant(tenant.id)
            .target(target)
            .failed()
            .details(serde_json::json!({ "reason": reason })),
    )
    .await
}
