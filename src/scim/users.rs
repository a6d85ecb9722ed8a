//! SCIM Users: the tenant's accounts. `userName`, `externalId` and `active` are columns of the
//! account; the rest of the representation is kept as canonical JSON (`users.scim`). The
//! account's address is the primary email (else the `work` one, else the first, else an
//! address-shaped `userName`, else none: a `userName` is all RFC 7643 §4.1 requires); its name
//! is `displayName` (else `name.formatted`, else given and family name); its profile (the
//! OpenID Connect claims) is read from the attributes that have an OIDC equivalent, see
//! [`crate::accounts::profile::from_scim`]. `password` sets the account's password and is never
//! returned. `active: false` blocks sign-in and ends the user's sessions and grants.

use std::collections::HashMap;

use entity::{scim_group, scim_group_member, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionSession,
};
use sea_orm::{ExprTrait, RelationTrait};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{ScimError, ScimResult};
use super::list::{ListQuery, Projection};
use super::schema::{self, ENTERPRISE_USER, PLINTO_USER, USER};
use super::sql::{self, Table};
use super::{Ctx, Db, check_if_match, meta, patch};
use crate::accounts::users as accounts;
use crate::accounts::{profile, sessions, validation};
use crate::audit::{self, actions};
use crate::error::DomainError;

const MAX_USER_NAME: usize = 256;
const MAX_EXTERNAL_ID: usize = 256;

/// The columns a representation sets, and the rest of it.
struct Fields {
    user_name: String,
    external_id: Option<String>,
    /// `None`: keep what the account has (PUT and PATCH without `active`).
    active: Option<bool>,
    password: Option<String>,
    doc: Map<String, Value>,
}

fn take_string(doc: &mut Map<String, Value>, key: &str) -> ScimResult<Option<String>> {
    match doc.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ScimError::invalid_value(format!("{key} is a string"))),
    }
}

fn split(mut doc: Map<String, Value>) -> ScimResult<Fields> {
    let user_name = take_string(&mut doc, "userName")?
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    if user_name.chars().count() > MAX_USER_NAME || user_name.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(format!(
            "userName is 1 to {MAX_USER_NAME} printable characters"
        )));
    }
    let external_id = take_string(&mut doc, "externalId")?;
    if external_id
        .as_ref()
        .is_some_and(|e| e.chars().count() > MAX_EXTERNAL_ID || e.chars().any(char::is_control))
    {
        return Err(ScimError::invalid_value(format!(
            "externalId is at most {MAX_EXTERNAL_ID} printable characters"
        )));
    }
    let active = match doc.remove("active") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => return Err(ScimError::invalid_value("active is a boolean")),
    };
    let password = take_string(&mut doc, "password")?;
    doc.remove("groups");
    doc.remove("id");
    doc.remove("meta");
    doc.remove("schemas");
    Ok(Fields {
        user_name,
        external_id,
        active,
        password,
        doc,
    })
}

/// The account's address from the representation, if it has one.
fn account_email(f: &Fields) -> ScimResult<Option<validation::Email>> {
    let emails: Vec<&Map<String, Value>> = f
        .doc
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default();
    fn value<'a>(e: &&'a Map<String, Value>) -> Option<&'a str> {
        e.get("value").and_then(Value::as_str)
    }
    let chosen = emails
        .iter()
        .find(|e| e.get("primary") == Some(&Value::Bool(true)))
        .or_else(|| {
            emails.iter().find(|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| emails.first())
        .and_then(value);
    match chosen {
        Some(v) => validation::parse_email(v).map(Some).map_err(|_| {
            ScimError::invalid_value(format!("emails: {v:?} is not an email address"))
        }),
        None => Ok(validation::parse_email(&f.user_name).ok()),
    }
}

/// The account's name from the representation.
fn account_name(doc: &Map<String, Value>) -> ScimResult<Option<String>> {
    let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let name = doc.get("name");
    let joined = {
        let parts: Vec<String> = ["givenName", "familyName"]
            .iter()
            .filter_map(|k| s(name.and_then(|n| n.get(k))))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    let chosen = s(doc.get("displayName"))
        .or_else(|| s(name.and_then(|n| n.get("formatted"))))
        .or(joined);
    let chosen = chosen.map(|c| {
        c.chars()
            .take(validation::MAX_NAME_CHARS)
            .collect::<String>()
    });
    validation::parse_name(chosen.as_deref()).map_err(ScimError::from)
}

/// Read a request body as a User representation in canonical form.
fn parse_body(body: &Value) -> ScimResult<Map<String, Value>> {
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(USER)))
        });
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {USER}"
        )));
    }
    Ok(schema::normalize_resource(schema::users(), body)?)
}

/// The full representation: `schemas`, `id`, columns, the stored JSON, `groups`, `meta`.
pub fn representation<C: Db>(
    ctx: &Ctx<'_, C>,
    u: &user::Model,
    groups: &[(Uuid, String)],
) -> Map<String, Value> {
    let mut out = Map::new();
    let doc = u.scim.as_object().cloned().unwrap_or_default();
    let mut schemas = vec![Value::from(USER)];
    if doc.contains_key(ENTERPRISE_USER) {
        schemas.push(ENTERPRISE_USER.into());
    }
    schemas.push(PLINTO_USER.into());
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), u.id.to_string().into());
    if let Some(e) = &u.external_id {
        out.insert("externalId".into(), e.clone().into());
    }
    out.insert("userName".into(), u.user_name.clone().into());
    // `active: null` in the stored JSON: a PATCH removed it, so it is unassigned (and the
    // account enabled).
    if u.disabled || doc.get("active") != Some(&Value::Null) {
        out.insert("active".into(), (!u.disabled).into());
    }
    for (k, v) in doc {
        if k != "active" {
            out.insert(k, v);
        }
    }
    out.insert(
        PLINTO_USER.into(),
        json!({ "emailVerified": u.email_verified }),
    );
    if !groups.is_empty() {
        out.insert(
            "groups".into(),
            Value::Array(
                groups
                    .iter()
                    .map(|(id, name)| {
                        json!({
                            "value": id.to_string(),
                            "$ref": format!("{}/Groups/{id}", ctx.base),
                            "display": name,
                            "type": "direct",
                        })
                    })
                    .collect(),
            ),
        );
    }
    out.insert(
        "meta".into(),
        meta(
            "User",
            u.created_at,
            u.updated_at,
            format!("{}/Users/{}", ctx.base, u.id),
            u.version,
        ),
    );
    out
}

/// The representation as a client asked for it.
pub fn projected<C: Db>(
    ctx: &Ctx<'_, C>,
    u: &user::Model,
    groups: &[(Uuid, String)],
    p: &Projection,
) -> Map<String, Value> {
    let mut doc = representation(ctx, u, groups);
    schema::project(schema::users(), &mut doc, &p.attributes, &p.excluded);
    doc
}

/// The groups each of `users` is a direct member of.
pub async fn groups_of(
    db: &impl ConnectionTrait,
    users: &[Uuid],
) -> ScimResult<HashMap<Uuid, Vec<(Uuid, String)>>> {
    let mut out: HashMap<Uuid, Vec<(Uuid, String)>> = HashMap::new();
    for chunk in users.chunks(500) {
        let rows: Vec<(Uuid, Uuid, String)> = scim_group_member::Entity::find()
            .select_only()
            .column(scim_group_member::Column::MemberId)
            .column(scim_group::Column::Id)
            .column(scim_group::Column::DisplayName)
            .join(
                sea_orm::JoinType::InnerJoin,
                scim_group_member::Relation::Group.def(),
            )
            .filter(scim_group_member::Column::MemberId.is_in(chunk.iter().copied()))
            .order_by_asc(scim_group::Column::DisplayNameNormalized)
            .into_tuple()
            .all(db)
            .await?;
        for (member, gid, name) in rows {
            out.entry(member).or_default().push((gid, name));
        }
    }
    Ok(out)
}

/// The user `id` of the tenant, or a SCIM 404.
pub async fn find<C: Db>(ctx: &Ctx<'_, C>, id: &str) -> ScimResult<user::Model> {
    let missing = || ScimError::not_found(format!("User {id} not found"));
    let uuid = Uuid::parse_str(id).map_err(|_| missing())?;
    user::Entity::find_by_id(uuid)
        .filter(user::Column::TenantId.eq(ctx.tenant.id))
        .one(ctx.db)
        .await?
        .ok_or_else(missing)
}

pub async fn get<C: Db>(
    ctx: &Ctx<'_, C>,
    id: &str,
) -> ScimResult<(user::Model, Vec<(Uuid, String)>)> {
    let u = find(ctx, id).await?;
    let mut groups = groups_of(ctx.db, &[u.id]).await?;
    let g = groups.remove(&u.id).unwrap_or_default();
    Ok((u, g))
}

/// The page of users that a query asks for, and how many match in all.
pub async fn list<C: Db>(
    ctx: &Ctx<'_, C>,
    q: &ListQuery,
) -> ScimResult<(u64, Vec<Map<String, Value>>)> {
    let select = user::Entity::find().filter(user::Column::TenantId.eq(ctx.tenant.id));
    let (total, rows) = sql::page(ctx.db, Table::Users, select, user::Column::Id, q).await?;
    let want_groups = !q.projection().leaves_out("groups");
    let groups = if want_groups {
        groups_of(ctx.db, &rows.iter().map(|u| u.id).collect::<Vec<_>>()).await?
    } else {
        HashMap::new()
    };
    let p = q.projection();
    let empty = Vec::new();
    Ok((
        total,
        rows.iter()
            .map(|u| projected(ctx, u, groups.get(&u.id).unwrap_or(&empty), &p))
            .collect(),
    ))
}

/// Administrators are the operator's (the CLI's), not the provisioning client's: a SCIM token
/// must not be a way to take over the accounts that administer the tenant.
fn writable(u: &user::Model) -> ScimResult<()> {
    if u.is_admin {
        return Err(ScimError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            None,
            "administrators are managed with the plinto CLI, not over SCIM",
        ));
    }
    Ok(())
}

/// Refuse a `userName` or address that another account of the tenant has.
async fn check_unique<C: Db>(
    ctx: &Ctx<'_, C>,
    me: Option<Uuid>,
    user_name_normalized: &str,
    email: Option<&validation::Email>,
) -> ScimResult<()> {
    // Two lookups, each the whole key of a unique index: an OR of the two lets PostgreSQL
    // cache a generic plan that scans the tenant's rows (seen in the bench: quadratic).
    let taken = |col: user::Column, value: &str| {
        user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(ctx.tenant.id))
            .filter(col.eq(value))
            .into_tuple::<Uuid>()
            .one(ctx.db)
    };
    let other = |found: Option<Uuid>| found.is_some_and(|id| Some(id) != me);
    if other(taken(user::Column::UserNameNormalized, user_name_normalized).await?) {
        return Err(ScimError::uniqueness("userName is already taken"));
    }
    if let Some(email) = email
        && other(taken(user::Column::EmailNormalized, &email.normalized).await?)
    {
        return Err(ScimError::uniqueness(format!(
            "another user has the email address {}",
            email.display
        )));
    }
    Ok(())
}

fn unique_violation(e: sea_orm::DbErr) -> ScimError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            ScimError::uniqueness("userName or email address is already taken")
        }
        _ => e.into(),
    }
}

/// Create a user from a POST body.
pub async fn create<C: Db>(ctx: &Ctx<'_, C>, body: &Value) -> ScimResult<user::Model> {
    let f = split(parse_body(body)?)?;
    let email = account_email(&f)?;
    let name = account_name(&f.doc)?;
    let profile = profile::from_scim(&f.doc)?;
    let normalized = f.user_name.to_lowercase();
    check_unique(ctx, None, &normalized, email.as_ref()).await?;
    let password_hash = match &f.password {
        Some(pw) => {
            validation::check_account_password(pw, email.as_ref(), &f.user_name)?;
            Some(ctx.hash_password(pw).await?)
        }
        None => None,
    };
    let id = Uuid::now_v7();
    let txn = crate::db::begin(ctx.db).await?;
    let model = user::ActiveModel {
        id: Set(id),
        tenant_id: Set(ctx.tenant.id),
        sub: Set(Uuid::new_v4().to_string()),
        // The provisioning client speaks for the organisation that owns the addresses.
        email_verified: Set(email.is_some()),
        email: Set(email.as_ref().map(|e| e.display.clone())),
        email_normalized: Set(email.map(|e| e.normalized)),
        name: Set(name),
        password_hash: Set(password_hash),
        must_change_password: Set(false),
        is_admin: Set(false),
        disabled: Set(!f.active.unwrap_or(true)),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
        user_name: Set(f.user_name.clone()),
        user_name_normalized: Set(normalized),
        external_id: Set(f.external_id.clone()),
        scim_search: Set(accounts::search_copy(&Value::Object(f.doc.clone()))),
        scim: Set(Value::Object(f.doc)),
        version: Set(1),
        profile: Set(profile.to_json()),
    }
    .insert(&txn)
    .await
    .map_err(unique_violation)?;
    audit_write(&txn, ctx, actions::SCIM_USER_CREATE, id, &model.user_name).await?;
    txn.commit().await?;
    Ok(model)
}

async fn audit_write<C: Db>(
    db: &impl ConnectionTrait,
    ctx: &Ctx<'_, C>,
    action: &'static str,
    id: Uuid,
    user_name: &str,
) -> ScimResult<()> {
    audit::record(
        db,
        ctx.now,
        audit::Event::new(action, ctx.actor.clone(), &ctx.meta)
            .tenant(ctx.tenant.id)
            .target(audit::user_actor(id))
            .details(json!({ "userName": user_name })),
    )
    .await?;
    Ok(())
}

/// Write new fields over an existing user: the account's address, name, password and state
/// follow. The update is conditional on the version read, so a concurrent write gives 412.
async fn store<C: Db>(
    ctx: &Ctx<'_, C>,
    old: user::Model,
    f: Fields,
    action: &'static str,
    // `If-Match` was given: the write is conditional on the version read (else the last
    // writer wins, as RFC 7644 §3.14 has it without a precondition).
    conditional: bool,
) -> ScimResult<user::Model> {
    let email = account_email(&f)?;
    let name = account_name(&f.doc)?;
    let profile = profile::from_scim(&f.doc)?;
    let normalized = f.user_name.to_lowercase();
    check_unique(ctx, Some(old.id), &normalized, email.as_ref()).await?;
    let password_hash = match &f.password {
        Some(pw) => {
            validation::check_account_password(pw, email.as_ref(), &f.user_name)?;
            Some(ctx.hash_password(pw).await?)
        }
        None => old.password_hash.clone(),
    };
    let disabled = match f.active {
        Some(a) => !a,
        None => old.disabled,
    };
    let deactivated = disabled && !old.disabled;
    let email_changed =
        email.as_ref().map(|e| e.normalized.as_str()) != old.email_normalized.as_deref();
    let txn = crate::db::begin(ctx.db).await?;
    let mut update = user::Entity::update_many()
        .col_expr(
            user::Column::Email,
            Expr::value(email.as_ref().map(|e| e.display.clone())),
        )
        .col_expr(
            user::Column::EmailNormalized,
            Expr::value(email.as_ref().map(|e| e.normalized.clone())),
        )
        .col_expr(user::Column::Profile, Expr::value(profile.to_json()))
        .col_expr(user::Column::Name, Expr::value(name))
        .col_expr(user::Column::PasswordHash, Expr::value(password_hash))
        .col_expr(user::Column::Disabled, Expr::value(disabled))
        .col_expr(user::Column::UserName, Expr::value(f.user_name.clone()))
        .col_expr(user::Column::UserNameNormalized, Expr::value(normalized))
        .col_expr(user::Column::ExternalId, Expr::value(f.external_id.clone()))
        .col_expr(
            user::Column::ScimSearch,
            Expr::value(accounts::search_copy(&Value::Object(f.doc.clone()))),
        )
        .col_expr(user::Column::Scim, Expr::value(Value::Object(f.doc)))
        .col_expr(
            user::Column::Version,
            Expr::col(user::Column::Version).add(1),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(ctx.now));
    if email_changed {
        // The provisioning client speaks for the organisation that owns the addresses.
        update = update.col_expr(user::Column::EmailVerified, Expr::value(email.is_some()));
    }
    let mut update = update.filter(user::Column::Id.eq(old.id));
    if conditional {
        update = update.filter(user::Column::Version.eq(old.version));
    }
    let done = update.exec(&txn).await.map_err(unique_violation)?;
    if done.rows_affected == 0 {
        return Err(if conditional {
            ScimError::precondition_failed()
        } else {
            ScimError::not_found(format!("User {} not found", old.id))
        });
    }
    if deactivated || f.password.is_some() {
        sessions::revoke_all(&txn, ctx.now, old.id, None).await?;
        crate::grants::revoke_user_grants(&txn, ctx.now, old.id).await?;
    }
    audit_write(&txn, ctx, action, old.id, &f.user_name).await?;
    let model = user::Entity::find_by_id(old.id)
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("user"))?;
    txn.commit().await?;
    Ok(model)
}

/// PUT: replace the representation. `active` and `password` are kept when left out (a client
/// cannot read the password back, so it cannot send it again).
pub async fn replace<C: Db>(
    ctx: &Ctx<'_, C>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<user::Model> {
    let old = find(ctx, id).await?;
    writable(&old)?;
    check_if_match(if_match, old.version)?;
    let mut doc = parse_body(body)?;
    // `id` in the body, if any, must be this one (it is read-only).
    if let Some(given) = body.get("id").and_then(Value::as_str)
        && given != old.id.to_string()
    {
        return Err(ScimError::bad("mutability", "id is read-only"));
    }
    doc.remove("id");
    store(
        ctx,
        old,
        split(doc)?,
        actions::SCIM_USER_REPLACE,
        if_match.is_some(),
    )
    .await
}

/// PATCH: apply the operations to the current representation, then store it as PUT does.
pub async fn patch<C: Db>(
    ctx: &Ctx<'_, C>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<user::Model> {
    let ops = patch::parse_request(body)?;
    let old = find(ctx, id).await?;
    writable(&old)?;
    check_if_match(if_match, old.version)?;
    let mut doc = old.scim.as_object().cloned().unwrap_or_default();
    doc.insert("userName".into(), old.user_name.clone().into());
    if let Some(e) = &old.external_id {
        doc.insert("externalId".into(), e.clone().into());
    }
    if doc.get("active") != Some(&Value::Null) {
        doc.insert("active".into(), (!old.disabled).into());
    }
    patch::apply(schema::users(), &mut doc, &ops)?;
    let mut f = split(doc)?;
    if f.active.is_none() {
        // `remove active` leaves it unassigned (RFC 7644 §3.5.2.2), which Plinto reads as
        // active; the stored `null` keeps it unassigned in the representation.
        f.active = Some(true);
        f.doc.insert("active".into(), Value::Null);
    }
    store(ctx, old, f, actions::SCIM_USER_PATCH, if_match.is_some()).await
}

/// DELETE: the account goes, with its sessions, grants and group memberships.
pub async fn delete<C: Db>(ctx: &Ctx<'_, C>, id: &str, if_match: Option<&str>) -> ScimResult<()> {
    let old = find(ctx, id).await?;
    writable(&old)?;
    check_if_match(if_match, old.version)?;
    let event = audit::Event::new(actions::SCIM_USER_DELETE, ctx.actor.clone(), &ctx.meta)
        .tenant(ctx.tenant.id)
        .target(audit::user_actor(old.id))
        .details(json!({ "userName": old.user_name }));
    let expected = if_match.is_some().then_some(old.version);
    crate::accounts::users::delete(ctx.db, ctx.now, &old, expected, event).await?;
    Ok(())
}
