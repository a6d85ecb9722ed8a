//! SCIM bearer tokens: one per provisioning client, created by an operator, stored as a keyed
//! hash, revocable.

use chrono::{DateTime, Utc};
use entity::scim_token;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::audit::{self, RequestMeta, actions};
use crate::crypto::{self, SubKey};
use crate::error::{DomainError, DomainResult};

/// Tokens start with this, so that secret scanners and people can tell what they are.
pub const PREFIX: &str = "plinto_scim_";
const MAX_NAME: usize = 200;

/// Create a token; the plain token is returned once and never stored.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    key: &SubKey,
    tenant_id: Uuid,
    name: &str,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<(scim_token::Model, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            format!("a token name is 1 to {MAX_NAME} printable characters"),
        ));
    }
    let token = format!("{PREFIX}{}", crypto::random_token(32)?);
    let txn = crate::db::begin(db).await?;
    let model = scim_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id),
        name: Set(name.to_string()),
        token_hash: Set(key.hash_hex(token.as_bytes())),
        created_at: Set(now),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::SCIM_TOKEN_CREATE, actor.to_string(), meta)
            .tenant(tenant_id)
            .target(format!("scim_token:{}", model.id))
            .details(serde_json::json!({ "name": model.name })),
    )
    .await?;
    txn.commit().await?;
    Ok((model, token))
}

pub async fn list(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> DomainResult<Vec<scim_token::Model>> {
    Ok(scim_token::Entity::find()
        .filter(scim_token::Column::TenantId.eq(tenant_id))
        .order_by_asc(scim_token::Column::CreatedAt)
        .order_by_asc(scim_token::Column::Id)
        .all(db)
        .await?)
}

/// Revoke a live token, named by its id or its name (several live tokens of one name: all).
pub async fn revoke<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    id_or_name: &str,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<Vec<scim_token::Model>> {
    let mut query = scim_token::Entity::find()
        .filter(scim_token::Column::TenantId.eq(tenant_id))
        .filter(scim_token::Column::RevokedAt.is_null());
    query = match Uuid::parse_str(id_or_name) {
        Ok(id) => query.filter(scim_token::Column::Id.eq(id)),
        Err(_) => query.filter(scim_token::Column::Name.eq(id_or_name)),
    };
    let found = query.all(db).await?;
    if found.is_empty() {
        return Err(DomainError::NotFound("live SCIM token"));
    }
    let txn = crate::db::begin(db).await?;
    let mut revoked = Vec::with_capacity(found.len());
    for t in found {
        let id = t.id;
        let mut active = t.into_active_model();
        active.revoked_at = Set(Some(now));
        revoked.push(active.update(&txn).await?);
        audit::record(
            &txn,
            now,
            audit::Event::new(actions::SCIM_TOKEN_REVOKE, actor.to_string(), meta)
                .tenant(tenant_id)
                .target(format!("scim_token:{id}")),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(revoked)
}

/// The live token of this tenant that `presented` is, if any. The lookup is by keyed hash, so
/// nothing secret is compared in variable time.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    key: &SubKey,
    tenant_id: Uuid,
    presented: &str,
) -> DomainResult<Option<scim_token::Model>> {
    if !presented.starts_with(PREFIX) || presented.len() > 200 {
        return Ok(None);
    }
    let found = scim_token::Entity::find()
        .filter(scim_token::Column::TokenHash.eq(key.hash_hex(presented.as_bytes())))
        .one(db)
        .await?;
    Ok(found.filter(|t| t.tenant_id == tenant_id && t.revoked_at.is_none()))
}

/// The audit actor of a token: `scim:<name>`.
pub fn actor(token: &scim_token::Model) -> String {
    format!("scim:{}", token.name)
}
