//! SCIM 2.0 service provider (RFC 7643, RFC 7644) at `{issuer}/scim/v2`: Users (the tenant's
//! accounts, with the enterprise extension), Groups, `.search`, Bulk and the discovery
//! endpoints, for provisioning clients holding a tenant's SCIM bearer token.

pub mod bulk;
pub mod error;
pub mod filter;
pub mod groups;
pub mod http;
pub mod list;
pub mod patch;
pub mod schema;
pub mod sql;
pub mod tokens;
pub mod users;

use chrono::{DateTime, SecondsFormat, Utc};
use entity::tenant;
use sea_orm::{ConnectionTrait, DatabaseConnection, TransactionTrait};

use crate::accounts::password::Hasher;
use crate::audit::RequestMeta;
use error::ScimError;

pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// The limits advertised in `/ServiceProviderConfig` and enforced.
pub const LIMITS: schema::Limits = schema::Limits {
    max_operations: 1000,
    max_payload_size: 1024 * 1024,
    max_results: 1000,
};

/// What the SCIM services run on: the database, or a transaction (Bulk runs its operations in
/// one, each in a savepoint of its own).
pub trait Db: ConnectionTrait + TransactionTrait + Sync {}

impl<T: ConnectionTrait + TransactionTrait + Sync> Db for T {}

/// What every SCIM service call needs: the database, the clock's now, the tenant, who acts
/// (`scim:<token name>`) and where the endpoint is.
pub struct Ctx<'a, C = DatabaseConnection> {
    pub db: &'a C,
    pub now: DateTime<Utc>,
    pub hasher: &'a Hasher,
    pub tenant: tenant::Model,
    pub actor: String,
    pub meta: RequestMeta,
    /// `{issuer}/scim/v2`, no trailing slash.
    pub base: String,
    /// Password hashes made ahead (Bulk hashes before it opens its transaction, so that no
    /// lock is held while argon2 runs): by password, one hash (one salt) for each time the
    /// request uses it, each taken once. Shared by the contexts made with [`Ctx::on`].
    pub prehashed: Prehashed,
}

pub type Prehashed =
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<String>>>>;

impl<C> Ctx<'_, C> {
    /// The argon2id hash of a password: one made ahead (never handed out twice), or a new one.
    pub async fn hash_password(&self, password: &str) -> crate::error::DomainResult<String> {
        let made = self
            .prehashed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_mut(password)
            .and_then(Vec::pop);
        match made {
            Some(h) => Ok(h),
            None => self.hasher.hash(password).await,
        }
    }

    /// The same context on another connection (a transaction).
    pub fn on<'b, D>(&'b self, db: &'b D) -> Ctx<'b, D> {
        Ctx {
            db,
            now: self.now,
            hasher: self.hasher,
            tenant: self.tenant.clone(),
            actor: self.actor.clone(),
            meta: self.meta.clone(),
            base: self.base.clone(),
            prehashed: self.prehashed.clone(),
        }
    }
}

/// `meta.version` and the `ETag` header: a weak validator of the row's version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// `If-Match` / `If-None-Match` against the current version: `*` or one of a list of
/// validators (weak comparison).
pub fn etag_matches(header: &str, version: i64) -> bool {
    let current = etag(version);
    header
        .split(',')
        .map(str::trim)
        .any(|v| v == "*" || v == current || v.strip_prefix("W/").unwrap_or(v) == &current[2..])
}

/// Check an `If-Match` precondition.
pub fn check_if_match(if_match: Option<&str>, version: i64) -> Result<(), ScimError> {
    match if_match {
        Some(h) if !etag_matches(h, version) => Err(ScimError::precondition_failed()),
        _ => Ok(()),
    }
}

pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `meta` of a resource.
pub fn meta(
    resource_type: &str,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    location: String,
    version: i64,
) -> serde_json::Value {
    serde_json::json!({
        "resourceType": resource_type,
        "created": time(created),
        "lastModified": time(modified),
        "location": location,
        "version": etag(version),
    })
}
