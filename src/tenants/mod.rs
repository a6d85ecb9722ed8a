//! Tenants: each has its own users, sessions and issuer `{public_url}/t/{slug}`.

use chrono::{DateTime, Utc};
use entity::tenant;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::audit::{self, RequestMeta, actions};
use crate::error::{DomainError, DomainResult, Expect};

pub const DEFAULT_TENANT: &str = "default";

#[derive(Clone, Debug, Default)]
pub struct NewTenant {
    pub slug: String,
    pub name: Option<String>,
    pub allow_signup: bool,
    /// `None`: the default, on exactly when sign-up is open (see [`default_email_verification`]).
    pub require_email_verification: Option<bool>,
    /// Rate limits over the configured ones (see [`crate::ratelimit::Overrides::parse`]).
    pub rate_limits: Option<String>,
    /// The sign-in field also accepts a userName.
    pub sign_in_with_username: bool,
}

/// Settings to change; `None` leaves one as it is.
#[derive(Clone, Debug, Default)]
pub struct TenantUpdate {
    pub allow_signup: Option<bool>,
    pub require_email_verification: Option<bool>,
    /// `Some("")` clears the tenant's own limits.
    pub rate_limits: Option<String>,
    /// `optional`, `required` or `admins`.
    pub mfa_policy: Option<String>,
    pub sign_in_with_username: Option<bool>,
}

fn check_rate_limits(spec: Option<&str>) -> DomainResult<Option<String>> {
    match spec.map(str::trim) {
        None | Some("") => Ok(None),
        Some(spec) => {
            let parsed = crate::ratelimit::Overrides::parse(spec)
                .map_err(|e| DomainError::invalid("rate_limits", e))?;
            if parsed.get(crate::ratelimit::Kind::Ip).is_some() && !spec.eq_ignore_ascii_case("off")
            {
                return Err(DomainError::invalid(
                    "rate_limits",
                    "ip is one limit for the whole server: set it in the rate_limits setting",
                ));
            }
            Ok(Some(spec.to_string()))
        }
    }
}

/// The tenant's own rate limits, parsed (they were checked when stored).
pub fn rate_limits(tenant: &tenant::Model) -> Option<crate::ratelimit::Overrides> {
    tenant
        .rate_limits
        .as_deref()
        .and_then(|s| crate::ratelimit::Overrides::parse(s).ok())
}

/// A slug is 1 to 63 of `a-z 0-9 -`, not starting or ending with `-`: it appears in URLs and
/// cookie names as it is.
pub fn validate_slug(slug: &str) -> DomainResult<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "slug",
            "use 1 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen",
        ))
    }
}

/// Whether a new tenant requires a verified address before password sign-in, unless told:
/// yes when anyone can sign up. Otherwise a stranger can sign up with someone else's address
/// and use the account as theirs until the owner turns up (and an unverified `email` claim
/// reaches every app). Tenants whose accounts are made by administrators or SCIM need not.
pub fn default_email_verification(allow_signup: bool) -> bool {
    allow_signup
}

/// Create a tenant with its signing keys (encrypted under `keys`) and its audit event, in one
/// transaction.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    keys: &crate::crypto::SubKey,
    input: NewTenant,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<tenant::Model> {
    validate_slug(&input.slug)?;
    let name = input.name.unwrap_or_else(|| input.slug.clone());
    if name.trim().is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "use 1 to 200 printable characters",
        ));
    }
    let rate_limits = check_rate_limits(input.rate_limits.as_deref())?;
    if find_by_slug(db, &input.slug).await?.is_some() {
        return Err(DomainError::Conflict(format!(
            "tenant {} already exists",
            input.slug
        )));
    }
    let txn = crate::db::begin(db).await?;
    let model = tenant::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(input.slug.clone()),
        name: Set(name.trim().to_string()),
        allow_signup: Set(input.allow_signup),
        require_email_verification: Set(input
            .require_email_verification
            .unwrap_or_else(|| default_email_verification(input.allow_signup))),
        rate_limits: Set(rate_limits),
        created_at: Set(now),
        mfa_policy: Set("optional".into()),
        sign_in_with_username: Set(input.sign_in_with_username),
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            DomainError::Conflict(format!("tenant {} already exists", input.slug))
        }
        _ => e.into(),
    })?;
    crate::keys::create_for_tenant(&txn, now, keys, model.id).await?;
    crate::saml::certs::create(&txn, now, keys, model.id, &model.slug).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::TENANT_CREATE, actor.to_string(), meta)
            .tenant(model.id)
            .target(format!("tenant:{}", model.slug)),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// The tenant, read for a change inside `txn` (locked on PostgreSQL; SQLite's write
/// transactions are serial already), checked against what the writer expects.
async fn for_change(
    txn: &impl ConnectionTrait,
    slug: &str,
    expect: Expect<'_, tenant::Model>,
) -> DomainResult<tenant::Model> {
    if !crate::db::storable(slug) {
        return Err(DomainError::NotFound("tenant"));
    }
    let tenant = tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug))
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound("tenant"))?;
    crate::error::expect(expect, &tenant, "tenant")?;
    Ok(tenant)
}

/// Change a tenant's settings (and record who did).
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    slug: &str,
    change: TenantUpdate,
    expect: Expect<'_, tenant::Model>,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<tenant::Model> {
    let txn = crate::db::begin(db).await?;
    let tenant = for_change(&txn, slug, expect).await?;
    let mut active: tenant::ActiveModel = tenant.into();
    if let Some(v) = change.allow_signup {
        active.allow_signup = Set(v);
    }
    if let Some(v) = change.require_email_verification {
        active.require_email_verification = Set(v);
    }
    if let Some(v) = change.sign_in_with_username {
        active.sign_in_with_username = Set(v);
    }
    if let Some(spec) = &change.rate_limits {
        active.rate_limits = Set(check_rate_limits(Some(spec))?);
    }
    if let Some(p) = &change.mfa_policy {
        let policy = crate::mfa::Policy::parse(p).ok_or_else(|| {
            DomainError::invalid("mfa_policy", "use optional, required or admins")
        })?;
        active.mfa_policy = Set(policy.as_str().to_string());
    }
    let model = active.update(&txn).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::TENANT_UPDATE, actor.to_string(), meta)
            .tenant(model.id)
            .target(format!("tenant:{}", model.slug))
            .details(serde_json::json!({
                "allow_signup": model.allow_signup,
                "require_email_verification": model.require_email_verification,
                "rate_limits": model.rate_limits,
                "mfa_policy": model.mfa_policy,
                "sign_in_with_username": model.sign_in_with_username,
            })),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

/// Delete a tenant and everything it holds (users, clients, keys, sessions, SCIM and SAML
/// state: the schema cascades). Its audit events stay, with this deletion as the last one.
/// The bootstrap tenant cannot be deleted: platform administration lives in it.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    slug: &str,
    expect: Expect<'_, tenant::Model>,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<tenant::Model> {
    if slug == DEFAULT_TENANT {
        return Err(DomainError::invalid(
            "tenant",
            "the bootstrap tenant cannot be deleted",
        ));
    }
    let txn = crate::db::begin(db).await?;
    let tenant = for_change(&txn, slug, expect).await?;
    tenant::Entity::delete_by_id(tenant.id).exec(&txn).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::TENANT_DELETE, actor.to_string(), meta)
            .tenant(tenant.id)
            .target(format!("tenant:{}", tenant.slug)),
    )
    .await?;
    txn.commit().await?;
    Ok(tenant)
}

pub async fn find_by_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> DomainResult<Option<tenant::Model>> {
    if !crate::db::storable(slug) {
        return Ok(None);
    }
    Ok(tenant::Entity::find()
        .filter(tenant::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

pub async fn list(db: &impl ConnectionTrait) -> DomainResult<Vec<tenant::Model>> {
    Ok(tenant::Entity::find()
        .order_by_asc(tenant::Column::Slug)
        .all(db)
        .await?)
}

pub async fn count(db: &impl ConnectionTrait) -> DomainResult<u64> {
    use sea_orm::PaginatorTrait;
    Ok(tenant::Entity::find().count(db).await?)
}
