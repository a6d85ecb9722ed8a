//! Users of a tenant.

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::password::Hasher;
use super::sessions;
use super::validation::{self, Email};
use crate::audit::{self, RequestMeta, actions};
use crate::error::{DomainError, DomainResult};

#[derive(Clone)]
pub struct NewUser {
    pub email: String,
    pub password: Option<String>,
    pub name: Option<String>,
    pub email_verified: bool,
    pub is_admin: bool,
    pub must_change_password: bool,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("email", &self.email)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

const DUPLICATE: &str = "an account with this email address already exists";

/// Create a user (and its audit event, in the same transaction). `action` is
/// `user.create` (operator) or `user.signup` (self-service).
#[allow(clippy::too_many_arguments)]
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    hasher: &Hasher,
    tenant_id: Uuid,
    input: NewUser,
    action: &'static str,
    actor: Option<&str>,
    meta: &RequestMeta,
) -> DomainResult<user::Model> {
    let email = validation::parse_email(&input.email)?;
    let name = validation::parse_name(input.name.as_deref())?;
    if let Some(pw) = &input.password {
        validation::check_password(pw, &email)?;
    }
    if find_by_email(db, tenant_id, &email).await?.is_some() {
        return Err(DomainError::Conflict(DUPLICATE.into()));
    }
    let password_hash = match &input.password {
        Some(pw) => Some(hasher.hash(pw).await?),
        None => None,
    };
    let id = Uuid::now_v7();
    let scim = account_scim(&email.display, name.as_deref());
    let txn = crate::db::begin(db).await?;
    let model = user::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        sub: Set(Uuid::new_v4().to_string()),
        email: Set(Some(email.display.clone())),
        email_normalized: Set(Some(email.normalized.clone())),
        email_verified: Set(input.email_verified),
        name: Set(name),
        password_hash: Set(password_hash),
        must_change_password: Set(input.must_change_password),
        is_admin: Set(input.is_admin),
        disabled: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        user_name: Set(email.display.clone()),
        user_name_normalized: Set(email.normalized.clone()),
        external_id: Set(None),
        scim_search: Set(search_copy(&scim)),
        scim: Set(scim),
        version: Set(1),
        profile: Set(serde_json::json!({})),
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            DomainError::Conflict(DUPLICATE.into())
        }
        _ => e.into(),
    })?;
    let actor = actor.map_or_else(|| audit::user_actor(id), str::to_string);
    audit::record(
        &txn,
        now,
        audit::Event::new(action, actor, meta)
            .tenant(tenant_id)
            .target(audit::user_actor(id)),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn find_by_email(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    email: &Email,
) -> DomainResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::EmailNormalized.eq(email.normalized.as_str()))
        .one(db)
        .await?)
}

/// The account a sign-in form names: by address, else (where the tenant allows it) by
/// userName, case-insensitively.
pub async fn find_for_sign_in(
    db: &impl ConnectionTrait,
    tenant: &entity::tenant::Model,
    identifier: &str,
) -> DomainResult<Option<user::Model>> {
    if let Ok(email) = validation::parse_email(identifier)
        && let Some(u) = find_by_email(db, tenant.id, &email).await?
    {
        return Ok(Some(u));
    }
    let user_name = identifier.trim().to_lowercase();
    if !tenant.sign_in_with_username || user_name.is_empty() || !crate::db::storable(&user_name) {
        return Ok(None);
    }
    Ok(user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant.id))
        .filter(user::Column::UserNameNormalized.eq(user_name))
        .one(db)
        .await?)
}

/// By the `sub` claim Plinto gives the user.
pub async fn find_by_sub(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    sub: &str,
) -> DomainResult<Option<user::Model>> {
    if !crate::db::storable(sub) {
        return Ok(None);
    }
    Ok(user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .filter(user::Column::Sub.eq(sub))
        .one(db)
        .await?)
}

pub async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    id: Uuid,
) -> DomainResult<Option<user::Model>> {
    Ok(user::Entity::find_by_id(id)
        .filter(user::Column::TenantId.eq(tenant_id))
        .one(db)
        .await?)
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Uuid) -> DomainResult<Vec<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::TenantId.eq(tenant_id))
        .order_by_asc(user::Column::UserNameNormalized)
        .all(db)
        .await?)
}

/// Disable a user and end all of their sessions.
pub async fn disable<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    email: &str,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<user::Model> {
    let email = validation::parse_email(email)?;
    let user = find_by_email(db, tenant_id, &email)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    set_disabled(db, now, &user, true, None, actor, meta).await
}

/// Disable (ending every session) or enable a user. `expected_version`: only if the stored
/// version still is that one ([`DomainError::Stale`] otherwise).
pub async fn set_disabled<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    user: &user::Model,
    disabled: bool,
    expected_version: Option<i64>,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<user::Model> {
    let txn = crate::db::begin(db).await?;
    let mut write = user::Entity::update_many()
        .col_expr(
            user::Column::Disabled,
            sea_orm::sea_query::Expr::value(disabled),
        )
        .col_expr(
            user::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(user::Column::Id.eq(user.id));
    if let Some(v) = expected_version {
        write = write.filter(user::Column::Version.eq(v));
    }
    if write.exec(&txn).await?.rows_affected == 0 {
        return Err(DomainError::Stale("user"));
    }
    bump_version(&txn, user.id).await?;
    if disabled {
        sessions::revoke_all(&txn, now, user.id, None).await?;
    }
    let action = if disabled {
        actions::USER_DISABLE
    } else {
        actions::USER_ENABLE
    };
    audit::record(
        &txn,
        now,
        audit::Event::new(action, actor.to_string(), meta)
            .tenant(user.tenant_id)
            .target(audit::user_actor(user.id)),
    )
    .await?;
    let user = user::Entity::find_by_id(user.id)
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    txn.commit().await?;
    Ok(user)
}

/// What an operator may change of an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    /// `Some(None)` removes the name.
    pub name: Option<Option<String>>,
    pub email_verified: Option<bool>,
}

/// An operator's change of an account (name, verified address), conditional on the version.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    user: user::Model,
    change: UserChange,
    expected_version: Option<i64>,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<user::Model> {
    let name = match &change.name {
        Some(n) => Some(validation::parse_name(n.as_deref())?),
        None => None,
    };
    let txn = crate::db::begin(db).await?;
    let (tenant_id, id) = (user.tenant_id, user.id);
    let mut update = user::Entity::update_many()
        .col_expr(
            user::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(user::Column::Id.eq(id));
    if let Some(v) = expected_version {
        update = update.filter(user::Column::Version.eq(v));
    }
    if let Some(name) = name {
        let mut doc = user.scim.clone();
        set_display_name(&mut doc, name.as_deref());
        update = update
            .col_expr(user::Column::Name, sea_orm::sea_query::Expr::value(name))
            .col_expr(
                user::Column::ScimSearch,
                sea_orm::sea_query::Expr::value(search_copy(&doc)),
            )
            .col_expr(user::Column::Scim, sea_orm::sea_query::Expr::value(doc));
    }
    if let Some(v) = change.email_verified {
        update = update.col_expr(
            user::Column::EmailVerified,
            sea_orm::sea_query::Expr::value(v),
        );
    }
    if update.exec(&txn).await?.rows_affected == 0 {
        return Err(DomainError::Stale("user"));
    }
    bump_version(&txn, id).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::USER_UPDATE, actor.to_string(), meta)
            .tenant(tenant_id)
            .target(audit::user_actor(id)),
    )
    .await?;
    let user = user::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    txn.commit().await?;
    Ok(user)
}

/// Delete an account: its sessions, grants and consents go with it (the schema cascades), and
/// it leaves the SCIM groups it was in (their versions move on). `expected_version`: only if
/// the stored version still is that one ([`DomainError::Stale`] otherwise). `event` is the
/// audit event recorded with it.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    old: &user::Model,
    expected_version: Option<i64>,
    event: audit::Event<'_>,
) -> DomainResult<()> {
    use entity::scim_group_member;
    let txn = crate::db::begin(db).await?;
    let members = scim_group_member::Entity::find()
        .filter(scim_group_member::Column::MemberId.eq(old.id))
        .all(&txn)
        .await?;
    crate::scim::groups::touch(&txn, now, members.iter().map(|m| m.group_id)).await?;
    scim_group_member::Entity::delete_many()
        .filter(scim_group_member::Column::MemberId.eq(old.id))
        .exec(&txn)
        .await?;
    let mut delete = user::Entity::delete_many().filter(user::Column::Id.eq(old.id));
    if let Some(v) = expected_version {
        delete = delete.filter(user::Column::Version.eq(v));
    }
    if delete.exec(&txn).await?.rows_affected == 0 {
        return Err(DomainError::Stale("user"));
    }
    audit::record(&txn, now, event).await?;
    txn.commit().await?;
    Ok(())
}

/// Which users to list: a page after `after` (ids are UUID v7, so id order is creation order
/// and a page boundary never moves when others are inserted).
#[derive(Clone, Debug, Default)]
pub struct UserQuery {
    /// The address, compared case-insensitively and exactly.
    pub email: Option<String>,
    /// The SCIM userName, compared case-insensitively and exactly.
    pub user_name: Option<String>,
    /// `Some(true)`: only disabled users; `Some(false)`: only active ones.
    pub disabled: Option<bool>,
    pub after: Option<Uuid>,
    pub limit: u64,
}

/// One page of users in id order, and whether more follow.
pub async fn list_page(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    q: &UserQuery,
) -> DomainResult<(Vec<user::Model>, bool)> {
    use sea_orm::QuerySelect;
    let keys = [q.email.as_deref(), q.user_name.as_deref()];
    if keys.into_iter().flatten().any(|k| !crate::db::storable(k)) {
        return Ok((Vec::new(), false));
    }
    let mut find = user::Entity::find().filter(user::Column::TenantId.eq(tenant_id));
    if let Some(email) = &q.email {
        match validation::parse_email(email) {
            Ok(e) => find = find.filter(user::Column::EmailNormalized.eq(e.normalized)),
            Err(_) => return Ok((Vec::new(), false)),
        }
    }
    if let Some(name) = &q.user_name {
        find = find.filter(user::Column::UserNameNormalized.eq(name.trim().to_lowercase()));
    }
    if let Some(d) = q.disabled {
        find = find.filter(user::Column::Disabled.eq(d));
    }
    if let Some(after) = q.after {
        find = find.filter(user::Column::Id.gt(after));
    }
    let mut rows = find
        .order_by_asc(user::Column::Id)
        .limit(q.limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > q.limit;
    rows.truncate(q.limit as usize);
    Ok((rows, more))
}

pub async fn update_profile<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    user: user::Model,
    name: Option<&str>,
    meta: &RequestMeta,
) -> DomainResult<user::Model> {
    let name = validation::parse_name(name)?;
    let txn = crate::db::begin(db).await?;
    let (tenant_id, id) = (user.tenant_id, user.id);
    let mut doc = user.scim.clone();
    set_display_name(&mut doc, name.as_deref());
    let mut active = user.into_active_model();
    active.name = Set(name);
    active.scim_search = Set(search_copy(&doc));
    active.scim = Set(doc);
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    bump_version(&txn, user.id).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::PROFILE_UPDATE, audit::user_actor(id), meta)
            .tenant(tenant_id)
            .target(audit::user_actor(id)),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Store a new password hash (after a rehash on sign-in: no audit event, nothing else
/// changes).
pub async fn store_hash(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user: user::Model,
    hash: String,
) -> DomainResult<user::Model> {
    let mut active = user.into_active_model();
    active.password_hash = Set(Some(hash));
    active.updated_at = Set(now);
    Ok(active.update(db).await?)
}

pub struct PasswordChange<'a> {
    pub current: &'a str,
    pub new: &'a str,
    pub confirm: &'a str,
    /// The session the change is made from: it stays, every other session ends.
    pub keep_session: Option<Uuid>,
}

/// Change a password after checking the current one; ends every other session.
pub async fn change_password<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    hasher: &Hasher,
    user: user::Model,
    change: PasswordChange<'_>,
    meta: &RequestMeta,
) -> DomainResult<user::Model> {
    let ok = matches!(
        hasher
            .verify(change.current, user.password_hash.as_deref())
            .await?,
        super::password::Verified::Match { .. }
    );
    let (tenant_id, id) = (user.tenant_id, user.id);
    if !ok {
        audit::record(
            db,
            now,
            audit::Event::new(actions::PASSWORD_CHANGE, audit::user_actor(id), meta)
                .tenant(tenant_id)
                .target(audit::user_actor(id))
                .failed(),
        )
        .await?;
        return Err(DomainError::invalid(
            "current_password",
            "your current password is not right",
        ));
    }
    if change.new != change.confirm {
        return Err(DomainError::invalid(
            "new_password",
            "the two new passwords differ",
        ));
    }
    let email = user
        .email
        .as_deref()
        .map(validation::parse_email)
        .transpose()?;
    validation::check_account_password(change.new, email.as_ref(), &user.user_name)?;
    let hash = hasher.hash(change.new).await?;
    let txn = crate::db::begin(db).await?;
    let mut active = user.into_active_model();
    active.password_hash = Set(Some(hash));
    active.must_change_password = Set(false);
    active.updated_at = Set(now);
    let user = active.update(&txn).await?;
    sessions::revoke_all(&txn, now, id, change.keep_session).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(actions::PASSWORD_CHANGE, audit::user_actor(id), meta)
            .tenant(tenant_id)
            .target(audit::user_actor(id)),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// The SCIM representation (`users.scim`) of an account made outside SCIM: its address as the
/// primary email, its name as `displayName`.
fn account_scim(email: &str, name: Option<&str>) -> serde_json::Value {
    let mut doc = serde_json::json!({ "emails": [{ "value": email, "primary": true }] });
    set_display_name(&mut doc, name);
    doc
}

/// Keep `displayName` of the SCIM representation in step with the account's name.
pub fn set_display_name(doc: &mut serde_json::Value, name: Option<&str>) {
    if let Some(doc) = doc.as_object_mut() {
        match name {
            Some(n) => doc.insert("displayName".into(), n.into()),
            None => doc.remove("displayName"),
        };
    }
}

/// Keep the emails of the SCIM representation in step with a change of the account's
/// address: the element that held the old address (else the primary one) gets the new one.
pub fn replace_email(doc: &mut serde_json::Value, old: Option<&str>, new: &str) {
    let Some(doc) = doc.as_object_mut() else {
        return;
    };
    let emails = doc
        .entry("emails")
        .or_insert_with(|| serde_json::Value::Array(Vec::new()));
    let Some(list) = emails.as_array_mut() else {
        *emails = serde_json::json!([{ "value": new, "primary": true }]);
        return;
    };
    let value_is = |e: &serde_json::Value, v: &str| {
        e.get("value")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|x| x.eq_ignore_ascii_case(v))
    };
    let at = old
        .and_then(|old| list.iter().position(|e| value_is(e, old)))
        .or_else(|| {
            list.iter()
                .position(|e| e.get("primary") == Some(&serde_json::Value::Bool(true)))
        });
    match at
        .and_then(|i| list.get_mut(i))
        .and_then(|e| e.as_object_mut())
    {
        Some(e) => {
            e.insert("value".into(), new.into());
        }
        None => list.insert(0, serde_json::json!({ "value": new, "primary": true })),
    }
}

/// The lower-cased copy of a SCIM representation (`users.scim_search`): keys and values folded
/// as Rust folds them, so that the filter side (which folds the same way) finds them.
pub fn search_copy(doc: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(&doc.to_string().to_lowercase()).unwrap_or_else(|_| doc.clone())
}

/// Move the user's SCIM version (`meta.version`, the ETag) on: one atomic increment, so that
/// two writers never end on the same version.
pub async fn bump_version(db: &impl ConnectionTrait, id: Uuid) -> DomainResult<()> {
    use sea_orm::ExprTrait;
    user::Entity::update_many()
        .col_expr(
            user::Column::Version,
            sea_orm::sea_query::Expr::col(user::Column::Version).add(1),
        )
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
