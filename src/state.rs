//! What every handler shares: the database, the cache, the configuration, the clock, keys and
//! the password hasher.

use std::sync::Arc;

use chrono::Duration;
use sea_orm::DatabaseConnection;

use crate::accounts::login::Policy;
use crate::accounts::password::Hasher;
use crate::accounts::sessions::Timeouts;
use crate::cache::Cache;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::{MasterKey, SubKey};
use crate::keys::KeyCache;

#[derive(Clone, Debug)]
pub struct Keys {
    /// Keyed hash of session cookie values.
    pub session: SubKey,
    /// Signs CSRF tokens.
    pub csrf: SubKey,
    /// Encrypts signing keys at rest.
    pub signing: SubKey,
    /// Keyed hash of client secrets.
    pub client_secret: SubKey,
    /// Keyed hash of authorization codes and refresh tokens.
    pub tokens: SubKey,
}

impl Keys {
    pub fn derive(master: &MasterKey) -> Self {
        Self {
            session: master.derive("session"),
            csrf: master.derive("csrf"),
            signing: master.derive("signing-keys"),
            client_secret: master.derive("client-secret"),
            tokens: master.derive("oauth-tokens"),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub cache: Cache,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub keys: Keys,
    pub hasher: Hasher,
    /// Decrypted signing keys, parsed verification keys.
    pub key_cache: KeyCache,
    /// Outgoing HTTP (clients' `jwks_uri`).
    pub http: reqwest::Client,
}

impl AppState {
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            idle: Duration::seconds(self.config.session_idle_timeout_secs as i64),
            absolute: Duration::seconds(self.config.session_max_lifetime_secs as i64),
        }
    }

    pub fn login_policy(&self) -> Policy {
        Policy {
            max_failures: self.config.login_max_failures,
            ip_max_failures: self.config.login_ip_max_failures,
            window_secs: self.config.login_failure_window_secs,
            lockout_secs: self.config.login_lockout_secs,
        }
    }

    pub fn https(&self) -> bool {
        self.config.is_https()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// How long retired signing keys still verify.
    pub fn key_retention(&self) -> Duration {
        Duration::seconds(self.config.signing_key_retention_secs as i64)
    }
}
