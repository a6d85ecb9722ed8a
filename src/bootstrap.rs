//! First start on an empty database: tenant `default` and an admin user.

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::accounts::password::Hasher;
use crate::accounts::users::{self, NewUser};
use crate::audit::{RequestMeta, actions};
use crate::config::Config;
use crate::crypto;
use crate::error::{DomainError, DomainResult};
use crate::tenants::{self, DEFAULT_TENANT, NewTenant};

/// What bootstrapping created, if anything. `one_time_password` is set when Plinto generated
/// the password (it is then printed once, and must be changed at first sign-in).
#[derive(Debug)]
pub struct Bootstrapped {
    pub email: String,
    pub one_time_password: Option<String>,
}

pub async fn run(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    config: &Config,
    hasher: &Hasher,
    keys: &crate::crypto::SubKey,
) -> DomainResult<Option<Bootstrapped>> {
    if tenants::count(db).await? > 0 {
        return Ok(None);
    }
    let meta = RequestMeta::default();
    let tenant = match tenants::create(
        db,
        now,
        keys,
        NewTenant {
            slug: DEFAULT_TENANT.into(),
            name: Some("Plinto".into()),
            ..NewTenant::default()
        },
        "system",
        &meta,
    )
    .await
    {
        Ok(t) => t,
        // Another node bootstrapped at the same moment.
        Err(DomainError::Conflict(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let (password, generated) = match &config.bootstrap_admin_password {
        Some(p) => (p.expose().to_string(), false),
        None => (crypto::random_token(15)?, true),
    };
    users::create(
        db,
        now,
        hasher,
        tenant.id,
        NewUser {
            email: config.bootstrap_admin_email.clone(),
            password: Some(password.clone()),
            name: Some("Administrator".into()),
            email_verified: true,
            is_admin: true,
            must_change_password: generated,
        },
        actions::USER_CREATE,
        Some("system"),
        &meta,
    )
    .await?;
    Ok(Some(Bootstrapped {
        email: config.bootstrap_admin_email.clone(),
        one_time_password: generated.then_some(password),
    }))
}
