//! Rate limits: GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp
//! per key), in Redis when `PLINTO_REDIS_URL` is set, so that every node shares each limit,
//! else in-process.
//!
//! A limit `N/period` lets `N` requests through at once and then one every `period / N`
//! (at most one a millisecond).
//!
//! What is limited by what (the defaults are product decisions, see README "Rate limits"):
//! - cacheable public documents (discovery, JWKS, SAML metadata, static files) and the
//!   operations endpoints are not limited at all: abuse there belongs to a reverse proxy;
//! - authenticated back-channel calls (token, introspection, revocation, UserInfo, SCIM) are
//!   limited per credential (the client, the SCIM token), never by the caller's address, at
//!   rates a busy legitimate client does not reach;
//! - unauthenticated credential guessing (sign-in, sign-up, reset, a failed client
//!   authentication, an invalid bearer token) is limited per address and per account;
//! - the browser pages and everything else share the blanket per-address limit.
//!
//! Limits come from built-in defaults, overridden by the `rate_limits` setting, overridden per
//! tenant (`plinto tenant update --rate-limits`). Each has a key (the IP address, the account,
//! the client) and a failure mode for when Redis cannot be reached: the blanket per-IP limit
//! fails open (public keys and discovery stay readable), every credential endpoint fails closed
//! and logs an error, because an attacker who can knock Redis over must not win unlimited
//! password guesses by doing so.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::cache::Cache;

/// The limits Plinto applies, by the name used in `rate_limits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Every request, per client IP address (fails open).
    Ip,
    /// Sign-in form posts, per IP address.
    Login,
    /// Sign-up form posts, per IP address.
    Signup,
    /// Password reset requests, per IP address.
    PasswordReset,
    /// Password reset requests, per email address asked for.
    PasswordResetEmail,
    /// Verification emails sent on request, per account.
    EmailVerification,
    /// Token endpoint requests, per authenticated client.
    Token,
    /// UserInfo requests with a valid access token, per client the token was issued to.
    Userinfo,
    /// SCIM requests, per SCIM token.
    Scim,
    /// Admin API requests with a valid token, per caller (client or administrator).
    Admin,
    /// Second-factor attempts (TOTP or recovery code), per account.
    Mfa,
    /// Introspection and revocation requests, per authenticated client.
    Introspection,
    /// Failed client authentications and invalid bearer tokens (token, introspection,
    /// revocation, UserInfo, SCIM), per IP address: once over it, that address's requests to
    /// those endpoints are refused before their credentials are checked.
    AuthFailure,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Ip,
        Kind::Login,
        Kind::Signup,
        Kind::PasswordReset,
        Kind::PasswordResetEmail,
        Kind::EmailVerification,
        Kind::Token,
        Kind::Userinfo,
        Kind::Scim,
        Kind::Admin,
        Kind::Mfa,
        Kind::Introspection,
        Kind::AuthFailure,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Ip => "ip",
            Kind::Login => "login",
            Kind::Signup => "signup",
            Kind::PasswordReset => "password_reset",
            Kind::PasswordResetEmail => "password_reset_email",
            Kind::EmailVerification => "email_verification",
            Kind::Token => "token",
            Kind::Userinfo => "userinfo",
            Kind::Scim => "scim",
            Kind::Admin => "admin",
            Kind::Mfa => "mfa",
            Kind::Introspection => "introspection",
            Kind::AuthFailure => "auth_failure",
        }
    }

    fn default_rate(self) -> Rate {
        let (count, period_secs) = match self {
            Kind::Ip => (100, 1),
            Kind::Login => (100, 60),
            Kind::Signup => (10, 3600),
            Kind::PasswordReset => (10, 3600),
            Kind::PasswordResetEmail => (3, 3600),
            Kind::EmailVerification => (5, 3600),
            // Per credential: a burst of a minute's worth, then one a millisecond.
            Kind::Token => (60_000, 60),
            Kind::Userinfo => (60_000, 60),
            Kind::Scim => (60_000, 60),
            Kind::Admin => (60_000, 60),
            Kind::Introspection => (60_000, 60),
            Kind::Mfa => (5, 60),
            Kind::AuthFailure => (60, 60),
        };
        Rate { count, period_secs }
    }

    /// Whether a request goes through when the limiter's store cannot be reached.
    pub fn fails_open(self) -> bool {
        matches!(self, Kind::Ip)
    }
}

/// `count` requests per `period_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub period_secs: u64,
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period_secs {
            1 => "s".to_string(),
            60 => "min".to_string(),
            3600 => "h".to_string(),
            86400 => "d".to_string(),
            n => format!("{n}s"),
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Limits by kind; `None` switches a limit off.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Overrides(HashMap<Kind, Option<Rate>>);

impl Overrides {
    /// Parse `name=N/unit` pairs separated by commas (`login=20/min, token=off`), or `off`
    /// for every limit. Units: `s`, `min`, `h`, `d` (or `second`, `minute`, `hour`, `day`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut map = HashMap::new();
        let spec = spec.trim();
        if spec.is_empty() {
            return Ok(Self(map));
        }
        if spec.eq_ignore_ascii_case("off") {
            for kind in Kind::ALL {
                map.insert(kind, None);
            }
            return Ok(Self(map));
        }
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not name=N/unit"))?;
            let name = name.trim();
            let kind = Kind::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown rate limit {name:?} (known: {})",
                        Kind::ALL.map(Kind::name).join(", ")
                    )
                })?;
            map.insert(kind, parse_rate(value.trim())?);
        }
        Ok(Self(map))
    }

    pub fn get(&self, kind: Kind) -> Option<Option<Rate>> {
        self.0.get(&kind).copied()
    }
}

fn parse_rate(value: &str) -> Result<Option<Rate>, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || format!("{value:?} is not a rate like 20/min or off");
    let (count, unit) = value.split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let period_secs = match unit.trim() {
        "s" | "sec" | "second" => 1,
        "m" | "min" | "minute" => 60,
        "h" | "hour" => 3600,
        "d" | "day" => 86400,
        _ => return Err(bad()),
    };
    if count == 0 {
        return Err(format!(
            "{value:?}: the count must be at least 1 (or use off)"
        ));
    }
    Ok(Some(Rate { count, period_secs }))
}

/// What a client over [`Kind::AuthFailure`] is told (in its protocol's error format).
pub const AUTH_FAILURES: &str = "too many failed authentications (wrong client credentials or \
     invalid bearer tokens) from this address: wait for Retry-After, then check the credentials";

/// Why a request may not go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over the limit: try again after this many seconds.
    Limited { retry_after: u64 },
    /// The shared store cannot be reached and this limit fails closed.
    Unavailable,
}

/// The limits in force and where their counters live.
#[derive(Clone, Debug)]
pub struct Limiter {
    cache: Cache,
    configured: Overrides,
}

impl Limiter {
    pub fn new(cache: Cache, configured: Overrides) -> Self {
        Self { cache, configured }
    }

    /// The rate of `kind` for a tenant with these overrides (`tenants.rate_limits`).
    pub fn rate(&self, tenant: Option<&Overrides>, kind: Kind) -> Option<Rate> {
        tenant
            .and_then(|t| t.get(kind))
            .or_else(|| self.configured.get(kind))
            .unwrap_or(Some(kind.default_rate()))
    }

    /// Count one request of `kind` by `who` (an IP address, an account, a client; scoped by
    /// the caller to its tenant) and say whether it may go on.
    pub async fn check(
        &self,
        tenant: Option<&Overrides>,
        kind: Kind,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.step(tenant, kind, who, now, true).await
    }

    /// Whether one more request of `kind` by `who` would go on, without counting it: for
    /// limits that count only failures, asked before the credential is checked.
    pub async fn peek(
        &self,
        tenant: Option<&Overrides>,
        kind: Kind,
        who: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Refusal> {
        self.step(tenant, kind, who, now, false).await
    }

    async fn step(
        &self,
        tenant: Option<&Overrides>,
        kind: Kind,
        who: &str,
        now: DateTime<Utc>,
        count: bool,
    ) -> Result<(), Refusal> {
        let Some(rate) = self.rate(tenant, kind) else {
            return Ok(());
        };
        let period_ms = (rate.period_secs * 1000) as i64;
        let emission_ms = (period_ms / rate.count as i64).max(1);
        let key = format!("rl:{}:{who}", kind.name());
        match self
            .cache
            .gcra(&key, now.timestamp_millis(), emission_ms, period_ms, count)
            .await
        {
            Ok(0) => Ok(()),
            Ok(wait_ms) => Err(Refusal::Limited {
                retry_after: (wait_ms as u64).div_ceil(1000).max(1),
            }),
            Err(e) if kind.fails_open() => {
                tracing::warn!(error = %e, limit = kind.name(), "rate limiter unavailable; letting the request through");
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, limit = kind.name(), "ALARM: rate limiter unavailable; refusing credential requests until it is back");
                Err(Refusal::Unavailable)
            }
        }
    }
}

/// One GCRA step on a stored "theoretical arrival time" (ms): the new TAT to store and how
/// many ms the caller must wait (0 = allowed, and the new TAT is to be stored when the
/// request counts).
pub fn gcra_step(stored_tat: Option<i64>, now: i64, emission: i64, period: i64) -> (i64, i64) {
    let tat = stored_tat.unwrap_or(now).max(now);
    let new_tat = tat + emission;
    let allow_at = new_tat - period;
    if now < allow_at {
        (tat, allow_at - now)
    } else {
        (new_tat, 0)
    }
}

/// The same step as [`gcra_step`], atomically in Redis. KEYS[1]: the key; ARGV: now,
/// emission interval, period (ms), and 1 to count the request or 0 only to look. Returns the
/// ms to wait, 0 if allowed.
pub const GCRA_LUA: &str = "\
local now = tonumber(ARGV[1]) \
local emission = tonumber(ARGV[2]) \
local period = tonumber(ARGV[3]) \
local count = ARGV[4] == '1' \
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') \
if tat < now then tat = now end \
local new_tat = tat + emission \
local allow_at = new_tat - period \
if now < allow_at then return allow_at - now end \
if not count then return 0 end \
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.max(new_tat - now, 1)) \
return 0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_are_refused() {
        let o = Overrides::parse("login=5/min, token=off,ip=2/s").unwrap();
        assert_eq!(
            o.get(Kind::Login),
            Some(Some(Rate {
                count: 5,
                period_secs: 60
            }))
        );
        assert_eq!(o.get(Kind::Token), Some(None));
        assert_eq!(o.get(Kind::Signup), None);
        assert!(
            Overrides::parse("off")
                .unwrap()
                .get(Kind::Ip)
                .is_some_and(|r| r.is_none())
        );
        for bad in [
            "login",
            "logn=5/min",
            "login=5",
            "login=0/min",
            "login=5/week",
        ] {
            assert!(Overrides::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn gcra_lets_a_burst_through_then_one_per_interval() {
        // 3 per 3000 ms: emission 1000 ms.
        let (mut tat, now) = (None, 10_000);
        for _ in 0..3 {
            let (t, wait) = gcra_step(tat, now, 1000, 3000);
            assert_eq!(wait, 0);
            tat = Some(t);
        }
        let (_, wait) = gcra_step(tat, now, 1000, 3000);
        assert_eq!(wait, 1000);
        let (_, wait) = gcra_step(tat, now + 1000, 1000, 3000);
        assert_eq!(wait, 0);
    }
}
