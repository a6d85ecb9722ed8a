//! Who may call the admin API: bearer access tokens that Plinto issued itself.
//!
//! - `admin` (read and write) and `admin:read` (read only) are the two scopes.
//! - A token of the bootstrap tenant (`default`) is a *platform* token: every tenant.
//! - A token of any other tenant reaches that tenant only; another tenant's data is "not
//!   found" to it, so that tenant names do not leak.
//! - A user's token (authorization code) counts only for an administrator (`is_admin`) who is
//!   not disabled; machine tokens (client_credentials) need a client registered with the scope.

use chrono::{DateTime, Utc};
use entity::{tenant, user};
use sea_orm::{ConnectionTrait, TransactionTrait};
use uuid::Uuid;

use crate::audit::RequestMeta;
use crate::clients::{self, Created, NewClient};
use crate::error::DomainResult;
use crate::tenants::DEFAULT_TENANT;

pub const SCOPE_ADMIN: &str = "admin";
pub const SCOPE_ADMIN_READ: &str = "admin:read";

/// An authenticated caller of the admin API.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The tenant whose token it presented.
    pub tenant_id: Uuid,
    /// Every tenant (a token of the bootstrap tenant).
    pub platform: bool,
    /// May change things (`admin`), not only read (`admin:read`).
    pub write: bool,
    /// The audit actor: `client:<client_id>` or `user:<id>`.
    pub actor: String,
}

/// Why a token does not make an admin caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No admin scope on the token.
    Scope,
    /// A user's token, and the user is not an active administrator.
    NotAdmin,
}

/// What a live access token of `tenant` allows in the admin API.
pub fn caller(
    tenant: &tenant::Model,
    scope: &str,
    client_id: &str,
    user: Option<&user::Model>,
) -> Result<Caller, Refused> {
    let scopes: Vec<&str> = scope.split(' ').collect();
    let write = scopes.contains(&SCOPE_ADMIN);
    if !write && !scopes.contains(&SCOPE_ADMIN_READ) {
        return Err(Refused::Scope);
    }
    let actor = match user {
        Some(u) if u.is_admin && !u.disabled => crate::audit::user_actor(u.id),
        Some(_) => return Err(Refused::NotAdmin),
        None => format!("client:{client_id}"),
    };
    Ok(Caller {
        tenant_id: tenant.id,
        platform: tenant.slug == DEFAULT_TENANT,
        write,
        actor,
    })
}

/// Whether `user` may be given `scope` in a token: the admin scopes go to active
/// administrators only (other scopes are not this module's business).
pub fn may_hold(user: &user::Model, scope: &str) -> bool {
    !is_admin_scope(scope) || (user.is_admin && !user.disabled)
}

/// Whether `scope` is one of the admin API's.
pub fn is_admin_scope(scope: &str) -> bool {
    scope == SCOPE_ADMIN || scope == SCOPE_ADMIN_READ
}

impl Caller {
    /// Whether this caller may see the tenant at all.
    pub fn reaches(&self, tenant: &tenant::Model) -> bool {
        self.platform || self.tenant_id == tenant.id
    }
}

/// The scopes of a machine client: `admin`, or `admin:read` when read-only.
pub fn machine_scopes(read_only: bool) -> Vec<String> {
    vec![
        if read_only {
            SCOPE_ADMIN_READ
        } else {
            SCOPE_ADMIN
        }
        .to_string(),
    ]
}

/// A `client_credentials` client of `tenant` allowed the admin scopes (platform ones in the
/// bootstrap tenant). Its secret is returned once.
pub async fn create_machine_client<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    secret_key: &crate::crypto::SubKey,
    tenant: &tenant::Model,
    read_only: bool,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<Created> {
    let name = if read_only {
        "admin API (read-only)"
    } else {
        "admin API"
    };
    clients::create(
        db,
        now,
        secret_key,
        tenant.id,
        NewClient {
            name: name.to_string(),
            grant_types: vec!["client_credentials".to_string()],
            scopes: machine_scopes(read_only),
            ..NewClient::default()
        },
        actor,
        meta,
    )
    .await
}
