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
use crate::error::DomainResult;
use crate::keys::KeyCache;
use crate::memo::Memo;

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
    /// Keyed hash of email verification and password reset tokens.
    pub email_tokens: SubKey,
    /// Encrypts queued mail at rest.
    pub mail: SubKey,
    /// Keyed hash of SCIM bearer tokens.
    pub scim_tokens: SubKey,
    /// Derives persistent SAML NameIDs (pairwise per service provider).
    pub saml: SubKey,
    /// Encrypts TOTP secrets at rest.
    pub mfa_secrets: SubKey,
    /// Keyed hash of recovery codes.
    pub mfa_recovery: SubKey,
    /// Encrypts the stored answers of admin API requests with an `Idempotency-Key`.
    pub admin_idempotency: SubKey,
}

impl Keys {
    pub fn derive(master: &MasterKey) -> Self {
        Self {
            session: master.derive("session"),
            csrf: master.derive("csrf"),
            signing: master.derive("signing-keys"),
            client_secret: master.derive("client-secret"),
            tokens: master.derive("oauth-tokens"),
            email_tokens: master.derive("email-tokens"),
            mail: master.derive("mail-outbox"),
            scim_tokens: master.derive("scim-tokens"),
            saml: master.derive("saml-name-ids"),
            mfa_secrets: master.derive("mfa-secrets"),
            mfa_recovery: master.derive("mfa-recovery-codes"),
            admin_idempotency: master.derive("admin-idempotency"),
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
    /// Decrypted signing keys, parsed verification keys, each tenant's published keys.
    pub key_cache: KeyCache,
    /// Tenants and clients read on every request (see [`crate::memo`]).
    pub memo: Memos,
    /// Outgoing HTTP (clients' `jwks_uri`).
    pub http: reqwest::Client,
    /// Outgoing mail (queued in the outbox, sent in the background).
    pub mailer: crate::mail::Mailer,
    /// Rate limits, counted in the cache.
    pub limiter: crate::ratelimit::Limiter,
}

/// In-process copies of tenants (by slug) and clients (by tenant and `client_id`).
#[derive(Clone, Debug)]
pub struct Memos {
    pub tenants: Arc<Memo<String, entity::tenant::Model>>,
    pub clients: Arc<Memo<(uuid::Uuid, String), entity::client::Model>>,
    /// Rendered discovery documents, by tenant slug.
    pub discovery: Arc<Memo<String, bytes::Bytes>>,
}

impl Memos {
    pub fn new(ttl: Duration) -> Self {
        Self {
            tenants: Arc::new(Memo::new(1_000, ttl)),
            clients: Arc::new(Memo::new(10_000, ttl)),
            discovery: Arc::new(Memo::new(1_000, ttl)),
        }
    }
}

impl AppState {
    /// The tenant with this slug, from memory while fresh.
    pub async fn tenant(&self, slug: &str) -> DomainResult<Option<entity::tenant::Model>> {
        self.memo
            .tenants
            .get_or_load(&slug.to_string(), self.now(), || {
                crate::tenants::find_by_slug(&self.db, slug)
            })
            .await
    }

    /// The tenant's client with this `client_id`, from memory while fresh.
    pub async fn client(
        &self,
        tenant_id: uuid::Uuid,
        client_id: &str,
    ) -> DomainResult<Option<entity::client::Model>> {
        self.memo
            .clients
            .get_or_load(&(tenant_id, client_id.to_string()), self.now(), || {
                crate::clients::find(&self.db, tenant_id, client_id)
            })
            .await
    }

    /// Delete a client. Its grants end at once everywhere (see [`crate::clients::delete`]);
    /// this node forgets the client at once, other nodes within `read_cache_ttl_secs`.
    pub async fn delete_client(
        &self,
        tenant_id: uuid::Uuid,
        client_id: &str,
        expect: crate::error::Expect<'_, entity::client::Model>,
        actor: &str,
        meta: &crate::audit::RequestMeta,
    ) -> DomainResult<()> {
        crate::clients::delete(
            &self.db,
            self.now(),
            tenant_id,
            client_id,
            expect,
            actor,
            meta,
        )
        .await?;
        self.memo
            .clients
            .forget(&(tenant_id, client_id.to_string()));
        Ok(())
    }

    /// Where this tenant's signing keys are, now.
    pub fn key_scope(&self, tenant_id: uuid::Uuid) -> crate::keys::KeyScope {
        crate::keys::KeyScope {
            tenant_id,
            now: self.now(),
            retention: self.key_retention(),
        }
    }

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

    /// Count one request against a limit of this tenant (`None`: the configured limits).
    pub async fn limit(
        &self,
        tenant: Option<&entity::tenant::Model>,
        kind: crate::ratelimit::Kind,
        who: &str,
    ) -> Result<(), crate::ratelimit::Refusal> {
        let own = tenant.and_then(crate::tenants::rate_limits);
        let who = match tenant {
            Some(t) => format!("{}:{who}", t.id),
            None => who.to_string(),
        };
        self.limiter
            .check(own.as_ref(), kind, &who, self.now())
            .await
    }

    /// Refuse an address that has used up its budget of failed authentications
    /// ([`Kind::AuthFailure`](crate::ratelimit::Kind::AuthFailure)) before its credential is
    /// checked; counts nothing.
    pub async fn may_try_credentials(
        &self,
        tenant: &entity::tenant::Model,
        ip: Option<&str>,
    ) -> Result<(), crate::ratelimit::Refusal> {
        let own = crate::tenants::rate_limits(tenant);
        let who = format!("{}:{}", tenant.id, ip.unwrap_or("unknown"));
        self.limiter
            .peek(
                own.as_ref(),
                crate::ratelimit::Kind::AuthFailure,
                &who,
                self.now(),
            )
            .await
    }

    /// Count a failed client authentication or invalid bearer token against the address.
    pub async fn credentials_failed(&self, tenant: &entity::tenant::Model, ip: Option<&str>) {
        let kind = crate::ratelimit::Kind::AuthFailure;
        // Over the limit already: the next request is refused by `may_try_credentials`.
        let _ = self
            .limit(Some(tenant), kind, ip.unwrap_or("unknown"))
            .await;
    }

    /// What the email flows of this tenant need.
    pub fn email_ctx(&self, tenant: &entity::tenant::Model) -> crate::accounts::email::Ctx<'_> {
        crate::accounts::email::Ctx {
            now: self.now(),
            key: &self.keys.email_tokens,
            mailer: &self.mailer,
            issuer: self.config.issuer(&tenant.slug),
            verify_ttl: Duration::seconds(self.config.email_verification_ttl_secs as i64),
            reset_ttl: Duration::seconds(self.config.password_reset_ttl_secs as i64),
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
