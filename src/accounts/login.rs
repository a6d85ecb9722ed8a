//! Sign-in with email and password, with brute-force protection that a stranger cannot turn
//! against the owner (OWASP: throttle, do not lock):
//!
//! - failures are counted per (account, client address): from the `max_failures`-th failure
//!   in a row on, that address waits before it may try that account again, 1 minute, then 2,
//!   4, 8, ... up to `lockout_secs`. Guesses from elsewhere never delay the owner's address.
//! - failures are counted per address over every account (`ip_max_failures` in the window):
//!   an address that guesses many accounts is throttled.
//! - a right password clears its (account, address) counter; a password reset clears every
//!   counter of the account (a generation number in the keys moves on).
//!
//! Counters live in Redis when configured (shared by every node), else in-process. Unknown
//! accounts are counted and delayed exactly like real ones, and cost a password hash too, so
//! that nothing tells them apart. Passkey sign-in does not use these counters.

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
    /// Failures of one account from one address before the delays begin.
    pub max_failures: u64,
    /// Failures from one address (all accounts) within the window before it is throttled.
    pub ip_max_failures: u64,
    /// How long a counter lasts from its first failure.
    pub window_secs: u64,
    /// The longest delay.
    pub lockout_secs: u64,
}

impl Policy {
    /// The delay after the `failures`-th failure of an (account, address): none before
    /// `max_failures`, then 60 s doubling each time, at most `lockout_secs`.
    pub fn delay_after(&self, failures: u64) -> u64 {
        if failures < self.max_failures.max(1) {
            return 0;
        }
        let doublings = (failures - self.max_failures.max(1)).min(20);
        (60u64 << doublings).min(self.lockout_secs.max(1))
    }
}

#[derive(Debug)]
pub enum Outcome {
    Success(Box<user::Model>),
    /// Unknown account, wrong password or malformed email: one answer for all.
    InvalidCredentials,
    /// Too many failures for this account from this address: wait `retry_after` seconds.
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

/// Who is guessing what: the typed identifier (trimmed, lower case) and the client address.
pub struct Guess<'a> {
    pub tenant: &'a tenant::Model,
    pub identifier: &'a str,
    pub ip: Option<&'a str>,
}

struct Keys {
    pair: String,
    delay: String,
    ip: String,
}

fn who(tenant: &tenant::Model, identifier: &str) -> String {
    format!("{}:{}", tenant.id, identifier.trim().to_ascii_lowercase())
}

fn generation_key(tenant: &tenant::Model, identifier: &str) -> String {
    format!("login:gen:{}", who(tenant, identifier))
}

async fn keys(
    cache: &Cache,
    policy: &Policy,
    guess: &Guess<'_>,
    now: DateTime<Utc>,
) -> DomainResult<Keys> {
    let window = now.timestamp().max(0) as u64 / policy.window_secs.max(1);
    let who = who(guess.tenant, guess.identifier);
    let generation = cache
        .get(&generation_key(guess.tenant, guess.identifier))
        .await?
        .unwrap_or_default();
    let ip = guess.ip.unwrap_or("unknown");
    Ok(Keys {
        pair: format!("login:fail:{who}:{generation}:{ip}"),
        delay: format!("login:delay:{who}:{generation}:{ip}"),
        ip: format!("login:ipfail:{ip}:{window}"),
    })
}

fn window_left(policy: &Policy, now: DateTime<Utc>) -> u64 {
    let w = policy.window_secs.max(1);
    w - (now.timestamp().max(0) as u64 % w)
}

/// Whether this guess must wait: the answer to give instead of checking the password.
pub async fn throttled(
    cache: &Cache,
    policy: &Policy,
    guess: &Guess<'_>,
    now: DateTime<Utc>,
) -> DomainResult<Option<Outcome>> {
    let keys = keys(cache, policy, guess, now).await?;
    if let Some(until) = cache.get(&keys.delay).await? {
        let until = until.parse::<i64>().unwrap_or(0);
        if until > now.timestamp() {
            return Ok(Some(Outcome::Locked {
                retry_after: (until - now.timestamp()) as u64,
            }));
        }
    }
    let count = cache
        .get(&keys.ip)
        .await?
        .and_then(|c| c.parse::<u64>().ok())
        .unwrap_or(0);
    if count >= policy.ip_max_failures {
        return Ok(Some(Outcome::Throttled {
            retry_after: window_left(policy, now),
        }));
    }
    Ok(None)
}

/// Count a wrong password (sign-in or the current password of a change). Returns the delay
/// that now applies to this (account, address), if one began.
pub async fn count_failure(
    db: &impl ConnectionTrait,
    cache: &Cache,
    policy: &Policy,
    guess: &Guess<'_>,
    user: Option<&user::Model>,
    now: DateTime<Utc>,
    meta: &RequestMeta,
) -> DomainResult<Option<u64>> {
    let keys = keys(cache, policy, guess, now).await?;
    let window = StdDuration::from_secs(policy.window_secs.max(1));
    let failures = cache
        .incr(
            &keys.pair,
            window + StdDuration::from_secs(policy.lockout_secs),
        )
        .await?;
    cache.incr(&keys.ip, window).await?;
    let delay = policy.delay_after(failures);
    if delay == 0 {
        return Ok(None);
    }
    let until = now.timestamp() + delay as i64;
    cache
        .set(
            &keys.delay,
            &until.to_string(),
            StdDuration::from_secs(delay + 60),
        )
        .await?;
    let mut event = audit::Event::new(actions::LOGIN_LOCKOUT, "system".into(), meta)
        .tenant(guess.tenant.id)
        .details(serde_json::json!({ "failures": failures, "delay_secs": delay }));
    event = match user {
        Some(u) => event.target(audit::user_actor(u.id)),
        None => event.target(format!("email:{}", guess.identifier.trim())),
    };
    audit::record(db, now, event).await?;
    Ok(Some(delay))
}

/// A right password from this address: its counter for the account starts again.
async fn succeeded(
    cache: &Cache,
    policy: &Policy,
    guess: &Guess<'_>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let keys = keys(cache, policy, guess, now).await?;
    cache.del(&keys.pair).await?;
    Ok(())
}

/// Forget every failure counter and delay of the account, from every address (after a
/// password reset proved the owner).
pub async fn clear(cache: &Cache, tenant: &tenant::Model, user: &user::Model) -> DomainResult<()> {
    // Longer than any counter lives: the counters of older generations are never read again.
    let ttl = StdDuration::from_secs(30 * 24 * 3600);
    let identifiers = user
        .email_normalized
        .iter()
        .chain([&user.user_name_normalized]);
    for identifier in identifiers {
        cache.incr(&generation_key(tenant, identifier), ttl).await?;
    }
    Ok(())
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
    let guess = Guess {
        tenant,
        identifier: input.email,
        ip: meta.ip.as_deref(),
    };
    if let Some(wait) = throttled(cache, policy, &guess, now).await? {
        return Ok(wait);
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
            succeeded(cache, policy, &guess, now).await?;
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
            match count_failure(db, cache, policy, &guess, user.as_ref(), now, meta).await? {
                Some(retry_after) => Ok(Outcome::Locked { retry_after }),
                None => Ok(Outcome::InvalidCredentials),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_at_the_limit_and_double_up_to_the_longest() {
        let p = Policy {
            max_failures: 5,
            ip_max_failures: 50,
            window_secs: 900,
            lockout_secs: 900,
        };
        let delays: Vec<u64> = (1..=10).map(|n| p.delay_after(n)).collect();
        assert_eq!(delays, [0, 0, 0, 0, 60, 120, 240, 480, 900, 900]);
        assert_eq!(p.delay_after(u64::MAX), 900);
    }
}
