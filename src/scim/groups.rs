//! SCIM Groups: a name, an `externalId` and members (users or groups of the same tenant), one
//! row per membership. Member changes by PATCH are `INSERT`s and `DELETE`s of those rows: a
//! group with tens of thousands of members is never loaded to add or remove one. (The groups
//! feed the `groups` claim and SAML attributes later.)

use entity::{scim_group, scim_group_member};
use sea_orm::ExprTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    TransactionSession,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{ScimError, ScimResult};
use super::list::{ListQuery, Projection};
use super::schema::{self, GROUP};
use super::sql::{self, Table};
use super::{Ctx, Db, check_if_match, meta, patch};
use crate::audit::{self, actions};

mod members;

pub use members::{Member, MemberType, members_of, touch};
use members::{
    MemberChange, add_members, bump_members_of, member_refs, partition, remove_members,
    remove_where, resolve_members,
};

const MAX_DISPLAY_NAME: usize = 256;
const MAX_EXTERNAL_ID: usize = 256;

pub fn representation<C: Db>(
    ctx: &Ctx<'_, C>,
    g: &scim_group::Model,
    members: Option<&[Member]>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP]));
    out.insert("id".into(), g.id.to_string().into());
    if let Some(e) = &g.external_id {
        out.insert("externalId".into(), e.clone().into());
    }
    out.insert("displayName".into(), g.display_name.clone().into());
    if let Some(members) = members
        && !members.is_empty()
    {
        out.insert(
            "members".into(),
            Value::Array(
                members
                    .iter()
                    .map(|m| {
                        let mut v = json!({
                            "value": m.id.to_string(),
                            "$ref": format!("{}/{}/{}", ctx.base, m.kind.endpoint(), m.id),
                            "type": m.kind.as_str(),
                        });
                        if let (Some(d), Some(o)) = (&m.display, v.as_object_mut()) {
                            o.insert("display".into(), d.clone().into());
                        }
                        v
                    })
                    .collect(),
            ),
        );
    }
    out.insert(
        "meta".into(),
        meta(
            "Group",
            g.created_at,
            g.updated_at,
            format!("{}/Groups/{}", ctx.base, g.id),
            g.version,
        ),
    );
    out
}

pub fn projected<C: Db>(
    ctx: &Ctx<'_, C>,
    g: &scim_group::Model,
    members: Option<&[Member]>,
    p: &Projection,
) -> Map<String, Value> {
    let mut doc = representation(ctx, g, members);
    schema::project(schema::groups(), &mut doc, &p.attributes, &p.excluded);
    doc
}

pub async fn find<C: Db>(ctx: &Ctx<'_, C>, id: &str) -> ScimResult<scim_group::Model> {
    let missing = || ScimError::not_found(format!("Group {id} not found"));
    let uuid = Uuid::parse_str(id).map_err(|_| missing())?;
    scim_group::Entity::find_by_id(uuid)
        .filter(scim_group::Column::TenantId.eq(ctx.tenant.id))
        .one(ctx.db)
        .await?
        .ok_or_else(missing)
}

/// A group and (unless the projection leaves them out) its members.
pub async fn get<C: Db>(
    ctx: &Ctx<'_, C>,
    id: &str,
    p: &Projection,
) -> ScimResult<(scim_group::Model, Option<Vec<Member>>)> {
    let g = find(ctx, id).await?;
    let members = members_as_asked(ctx, &g, p).await?;
    Ok((g, members))
}

/// The members of `g`, unless the projection leaves them out (then they are not read).
pub async fn members_as_asked<C: Db>(
    ctx: &Ctx<'_, C>,
    g: &scim_group::Model,
    p: &Projection,
) -> ScimResult<Option<Vec<Member>>> {
    if p.leaves_out("members") {
        return Ok(None);
    }
    Ok(Some(
        members_of(ctx.db, &[g.id])
            .await?
            .remove(&g.id)
            .unwrap_or_default(),
    ))
}

pub async fn list<C: Db>(
    ctx: &Ctx<'_, C>,
    q: &ListQuery,
) -> ScimResult<(u64, Vec<Map<String, Value>>)> {
    let select = scim_group::Entity::find().filter(scim_group::Column::TenantId.eq(ctx.tenant.id));
    let (total, rows) = sql::page(ctx.db, Table::Groups, select, scim_group::Column::Id, q).await?;
    let p = q.projection();
    let members = if p.leaves_out("members") {
        None
    } else {
        Some(members_of(ctx.db, &rows.iter().map(|g| g.id).collect::<Vec<_>>()).await?)
    };
    let empty = Vec::new();
    Ok((
        total,
        rows.iter()
            .map(|g| {
                let m = members
                    .as_ref()
                    .map(|all| all.get(&g.id).unwrap_or(&empty).as_slice());
                projected(ctx, g, m, &p)
            })
            .collect(),
    ))
}

struct Fields {
    display_name: String,
    external_id: Option<String>,
    /// `(id, type given)`; `None`: the representation says nothing about members.
    members: Option<Vec<(Uuid, Option<MemberType>)>>,
}

fn parse_body(body: &Value) -> ScimResult<Map<String, Value>> {
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter()
                .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(GROUP)))
        });
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {GROUP}"
        )));
    }
    Ok(schema::normalize_resource(schema::groups(), body)?)
}

fn split(mut doc: Map<String, Value>) -> ScimResult<Fields> {
    let display_name = match doc.remove("displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => return Err(ScimError::invalid_value("displayName is required")),
    };
    if display_name.chars().count() > MAX_DISPLAY_NAME || display_name.chars().any(char::is_control)
    {
        return Err(ScimError::invalid_value(format!(
            "displayName is 1 to {MAX_DISPLAY_NAME} printable characters"
        )));
    }
    let external_id = match doc.remove("externalId") {
        None => None,
        Some(Value::String(s))
            if s.chars().count() <= MAX_EXTERNAL_ID && !s.chars().any(char::is_control) =>
        {
            Some(s)
        }
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "externalId is a string of at most {MAX_EXTERNAL_ID} printable characters"
            )));
        }
    };
    let members = doc.remove("members").map(|m| member_refs(&m)).transpose()?;
    Ok(Fields {
        display_name,
        external_id,
        members,
    })
}

async fn check_unique<C: Db>(
    ctx: &Ctx<'_, C>,
    me: Option<Uuid>,
    normalized: &str,
) -> ScimResult<()> {
    let mut q = scim_group::Entity::find()
        .filter(scim_group::Column::TenantId.eq(ctx.tenant.id))
        .filter(scim_group::Column::DisplayNameNormalized.eq(normalized));
    if let Some(me) = me {
        q = q.filter(scim_group::Column::Id.ne(me));
    }
    if q.one(ctx.db).await?.is_some() {
        return Err(ScimError::uniqueness("another group has this displayName"));
    }
    Ok(())
}

fn unique_violation(e: sea_orm::DbErr) -> ScimError {
    match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            ScimError::uniqueness("another group has this displayName")
        }
        _ => e.into(),
    }
}

async fn audit_write<C: Db>(
    db: &impl ConnectionTrait,
    ctx: &Ctx<'_, C>,
    action: &'static str,
    g: &scim_group::Model,
    details: Value,
) -> ScimResult<()> {
    audit::record(
        db,
        ctx.now,
        audit::Event::new(action, ctx.actor.clone(), &ctx.meta)
            .tenant(ctx.tenant.id)
            .target(format!("group:{}", g.id))
            .details(details),
    )
    .await?;
    Ok(())
}

pub async fn create<C: Db>(ctx: &Ctx<'_, C>, body: &Value) -> ScimResult<scim_group::Model> {
    let f = split(parse_body(body)?)?;
    let normalized = f.display_name.to_lowercase();
    check_unique(ctx, None, &normalized).await?;
    let id = Uuid::now_v7();
    let members = match &f.members {
        Some(refs) => resolve_members(ctx.db, ctx.tenant.id, id, refs).await?,
        None => Vec::new(),
    };
    let txn = crate::db::begin(ctx.db).await?;
    let g = scim_group::ActiveModel {
        id: Set(id),
        tenant_id: Set(ctx.tenant.id),
        display_name: Set(f.display_name),
        display_name_normalized: Set(normalized),
        external_id: Set(f.external_id),
        version: Set(1),
        created_at: Set(ctx.now),
        updated_at: Set(ctx.now),
    }
    .insert(&txn)
    .await
    .map_err(unique_violation)?;
    add_members(&txn, id, &members).await?;
    audit_write(
        &txn,
        ctx,
        actions::SCIM_GROUP_CREATE,
        &g,
        json!({ "displayName": g.display_name, "members": members.len() }),
    )
    .await?;
    txn.commit().await?;
    Ok(g)
}

/// Store name and externalId, bumping the version; conditional on the version read.
async fn store<C: Db>(
    txn: &impl ConnectionTrait,
    ctx: &Ctx<'_, C>,
    old: &scim_group::Model,
    display_name: String,
    external_id: Option<String>,
    // `If-Match` was given: conditional on the version read (else the last writer wins).
    conditional: bool,
) -> ScimResult<scim_group::Model> {
    let normalized = display_name.to_lowercase();
    let update = scim_group::Entity::update_many()
        .col_expr(scim_group::Column::DisplayName, Expr::value(display_name))
        .col_expr(
            scim_group::Column::DisplayNameNormalized,
            Expr::value(normalized),
        )
        .col_expr(scim_group::Column::ExternalId, Expr::value(external_id))
        .col_expr(
            scim_group::Column::Version,
            Expr::col(scim_group::Column::Version).add(1),
        )
        .col_expr(scim_group::Column::UpdatedAt, Expr::value(ctx.now))
        .filter(scim_group::Column::Id.eq(old.id));
    let update = if conditional {
        update.filter(scim_group::Column::Version.eq(old.version))
    } else {
        update
    };
    let done = update.exec(txn).await.map_err(unique_violation)?;
    if done.rows_affected == 0 {
        return Err(if conditional {
            ScimError::precondition_failed()
        } else {
            ScimError::not_found(format!("Group {} not found", old.id))
        });
    }
    scim_group::Entity::find_by_id(old.id)
        .one(txn)
        .await?
        .ok_or_else(|| ScimError::not_found("Group not found"))
}

pub async fn replace<C: Db>(
    ctx: &Ctx<'_, C>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<scim_group::Model> {
    let old = find(ctx, id).await?;
    check_if_match(if_match, old.version)?;
    if let Some(given) = body.get("id").and_then(Value::as_str)
        && given != old.id.to_string()
    {
        return Err(ScimError::bad("mutability", "id is read-only"));
    }
    let f = split(parse_body(body)?)?;
    check_unique(ctx, Some(old.id), &f.display_name.to_lowercase()).await?;
    let members = resolve_members(
        ctx.db,
        ctx.tenant.id,
        old.id,
        f.members.as_deref().unwrap_or_default(),
    )
    .await?;
    let txn = crate::db::begin(ctx.db).await?;
    let g = store(
        &txn,
        ctx,
        &old,
        f.display_name,
        f.external_id,
        if_match.is_some(),
    )
    .await?;
    // PUT replaces: members left out are no longer members.
    remove_members(&txn, old.id, None).await?;
    add_members(&txn, old.id, &members).await?;
    audit_write(
        &txn,
        ctx,
        actions::SCIM_GROUP_REPLACE,
        &g,
        json!({ "displayName": g.display_name, "members": members.len() }),
    )
    .await?;
    txn.commit().await?;
    Ok(g)
}

/// PATCH: member changes run as row inserts and deletes; name and externalId through the
/// PATCH engine.
pub async fn patch<C: Db>(
    ctx: &Ctx<'_, C>,
    id: &str,
    body: &Value,
    if_match: Option<&str>,
) -> ScimResult<scim_group::Model> {
    let ops = patch::parse_request(body)?;
    let old = find(ctx, id).await?;
    check_if_match(if_match, old.version)?;
    let (changes, rest) = partition(ops)?;
    let mut doc = Map::new();
    doc.insert("displayName".into(), old.display_name.clone().into());
    if let Some(e) = &old.external_id {
        doc.insert("externalId".into(), e.clone().into());
    }
    patch::apply(schema::groups(), &mut doc, &rest)?;
    let f = split(doc)?;
    if f.display_name.to_lowercase() != old.display_name_normalized {
        check_unique(ctx, Some(old.id), &f.display_name.to_lowercase()).await?;
    }
    // Resolve every reference before writing anything.
    let mut resolved = Vec::with_capacity(changes.len());
    for c in &changes {
        resolved.push(match c {
            MemberChange::Add(refs) | MemberChange::Set(refs) => {
                Some(resolve_members(ctx.db, ctx.tenant.id, old.id, refs.as_slice()).await?)
            }
            _ => None,
        });
    }
    let txn = crate::db::begin(ctx.db).await?;
    let g = store(
        &txn,
        ctx,
        &old,
        f.display_name,
        f.external_id,
        if_match.is_some(),
    )
    .await?;
    if g.display_name != old.display_name {
        // The members' `groups[].display` changed.
        bump_members_of(&txn, old.id).await?;
    }
    let (mut added, mut removed) = (0usize, 0u64);
    for (c, members) in changes.iter().zip(resolved) {
        match c {
            MemberChange::Add(_) => {
                let m = members.unwrap_or_default();
                added += m.len();
                add_members(&txn, old.id, &m).await?;
            }
            MemberChange::Set(_) => {
                removed += remove_members(&txn, old.id, None).await?;
                let m = members.unwrap_or_default();
                added += m.len();
                add_members(&txn, old.id, &m).await?;
            }
            MemberChange::Remove(ids) => {
                removed += remove_members(&txn, old.id, Some(ids.as_slice())).await?
            }
            MemberChange::RemoveAll => removed += remove_members(&txn, old.id, None).await?,
            MemberChange::RemoveWhere(f) => removed += remove_where(&txn, old.id, f).await?,
        }
    }
    audit_write(
        &txn,
        ctx,
        actions::SCIM_GROUP_PATCH,
        &g,
        json!({ "displayName": g.display_name, "added": added, "removed": removed }),
    )
    .await?;
    txn.commit().await?;
    Ok(g)
}

pub async fn delete<C: Db>(ctx: &Ctx<'_, C>, id: &str, if_match: Option<&str>) -> ScimResult<()> {
    let old = find(ctx, id).await?;
    check_if_match(if_match, old.version)?;
    let txn = crate::db::begin(ctx.db).await?;
    // Its own memberships in other groups go too (its member rows cascade).
    let parents: Vec<Uuid> = scim_group_member::Entity::find()
        .select_only()
        .column(scim_group_member::Column::GroupId)
        .filter(scim_group_member::Column::MemberId.eq(old.id))
        .into_tuple()
        .all(&txn)
        .await?;
    touch(&txn, ctx.now, parents.into_iter()).await?;
    // Its members lose it from their `groups`.
    bump_members_of(&txn, old.id).await?;
    scim_group_member::Entity::delete_many()
        .filter(scim_group_member::Column::MemberId.eq(old.id))
        .exec(&txn)
        .await?;
    let mut delete = scim_group::Entity::delete_many().filter(scim_group::Column::Id.eq(old.id));
    if if_match.is_some() {
        delete = delete.filter(scim_group::Column::Version.eq(old.version));
    }
    let done = delete.exec(&txn).await?;
    if done.rows_affected == 0 {
        return Err(ScimError::precondition_failed());
    }
    audit_write(
        &txn,
        ctx,
        actions::SCIM_GROUP_DELETE,
        &old,
        json!({ "displayName": old.display_name }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
