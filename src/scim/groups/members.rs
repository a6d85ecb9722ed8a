//! The members of groups: one row per member (a user or a group of the tenant), changed by
//! row inserts and deletes so that a large group is never loaded to change one member.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{scim_group, scim_group_member, user};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, ExprTrait, QueryFilter, QuerySelect, Set,
    Statement,
};
use serde_json::Value;
use uuid::Uuid;

use super::super::error::{ScimError, ScimResult};
use super::super::filter::{Filter, PatchPath};
use super::super::patch::{OpKind, PatchOp};
use super::super::schema::GROUP;
use super::super::sql;

/// Rows per statement when many members are written or read at once.
const CHUNK: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberType {
    User,
    Group,
}

impl MemberType {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            MemberType::User => "User",
            MemberType::Group => "Group",
        }
    }

    pub(super) fn endpoint(self) -> &'static str {
        match self {
            MemberType::User => "Users",
            MemberType::Group => "Groups",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    pub id: Uuid,
    pub kind: MemberType,
    pub display: Option<String>,
}

/// Bump the version of groups whose membership changed by some other way (a user deleted).
pub async fn touch(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ids: impl Iterator<Item = Uuid>,
) -> crate::error::DomainResult<()> {
    let ids: Vec<Uuid> = ids.collect();
    for chunk in ids.chunks(CHUNK) {
        scim_group::Entity::update_many()
            .col_expr(
                scim_group::Column::Version,
                Expr::col(scim_group::Column::Version).add(1),
            )
            .col_expr(scim_group::Column::UpdatedAt, Expr::value(now))
            .filter(scim_group::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

fn placeholders(backend: DbBackend, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The members of each group, with their display names.
pub async fn members_of(
    db: &impl ConnectionTrait,
    groups: &[Uuid],
) -> ScimResult<HashMap<Uuid, Vec<Member>>> {
    let backend = db.get_database_backend();
    let mut out: HashMap<Uuid, Vec<Member>> = HashMap::new();
    for chunk in groups.chunks(CHUNK) {
        let sql = format!(
            "SELECT m.group_id, m.member_id, m.member_type, \
             COALESCE(u.name, u.user_name, g.display_name) AS display \
             FROM scim_group_members m \
             LEFT JOIN users u ON u.id = m.member_id \
             LEFT JOIN scim_groups g ON g.id = m.member_id \
             WHERE m.group_id IN ({}) ORDER BY m.group_id, m.member_id",
            placeholders(backend, 1, chunk.len())
        );
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                chunk.iter().map(|id| sea_orm::Value::from(*id)),
            ))
            .await?;
        for row in rows {
            let group: Uuid = row.try_get("", "group_id")?;
            let id: Uuid = row.try_get("", "member_id")?;
            let kind: String = row.try_get("", "member_type")?;
            let display: Option<String> = row.try_get("", "display")?;
            out.entry(group).or_default().push(Member {
                id,
                kind: if kind == "Group" {
                    MemberType::Group
                } else {
                    MemberType::User
                },
                display,
            });
        }
    }
    Ok(out)
}

/// Member references from a `members` value (an array of `{value, type}`).
pub(super) fn member_refs(v: &Value) -> ScimResult<Vec<(Uuid, Option<MemberType>)>> {
    let items = match v {
        Value::Array(a) => a.as_slice(),
        other => std::slice::from_ref(other),
    };
    items
        .iter()
        .map(|m| {
            let value = m
                .get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::invalid_value("each member needs a value (its id)"))?;
            let id = Uuid::parse_str(value).map_err(|_| {
                ScimError::invalid_value(format!("members: no User or Group has the id {value:?}"))
            })?;
            let kind = match m.get("type").and_then(Value::as_str) {
                Some(t) if t.eq_ignore_ascii_case("user") => Some(MemberType::User),
                Some(t) if t.eq_ignore_ascii_case("group") => Some(MemberType::Group),
                Some(t) => {
                    return Err(ScimError::invalid_value(format!(
                        "members: type is User or Group, not {t:?}"
                    )));
                }
                None => None,
            };
            Ok((id, kind))
        })
        .collect()
}

/// Check that each reference is a user or a group of the tenant (not the group itself).
pub(super) async fn resolve_members(
    db: &impl ConnectionTrait,
    tenant: Uuid,
    group: Uuid,
    refs: &[(Uuid, Option<MemberType>)],
) -> ScimResult<Vec<(Uuid, MemberType)>> {
    let ids: Vec<Uuid> = refs
        .iter()
        .map(|(id, _)| *id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut users = HashSet::new();
    let mut groups = HashSet::new();
    for chunk in ids.chunks(CHUNK) {
        let u: Vec<Uuid> = user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tenant))
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        users.extend(u);
        let g: Vec<Uuid> = scim_group::Entity::find()
            .select_only()
            .column(scim_group::Column::Id)
            .filter(scim_group::Column::TenantId.eq(tenant))
            .filter(scim_group::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        groups.extend(g);
    }
    let mut out = Vec::with_capacity(ids.len());
    let mut seen = HashSet::new();
    for (id, kind) in refs {
        if *id == group {
            return Err(ScimError::invalid_value(
                "a group cannot be a member of itself",
            ));
        }
        let found = if users.contains(id) {
            MemberType::User
        } else if groups.contains(id) {
            MemberType::Group
        } else {
            return Err(ScimError::invalid_value(format!(
                "members: no User or Group has the id {id}"
            )));
        };
        if kind.is_some_and(|k| k != found) {
            return Err(ScimError::invalid_value(format!(
                "members: {id} is a {}",
                found.as_str()
            )));
        }
        if seen.insert(*id) {
            out.push((*id, found));
        }
    }
    Ok(out)
}

pub(super) async fn add_members(
    db: &impl ConnectionTrait,
    group: Uuid,
    members: &[(Uuid, MemberType)],
) -> ScimResult<()> {
    for chunk in members.chunks(CHUNK) {
        scim_group_member::Entity::insert_many(chunk.iter().map(|(id, kind)| {
            scim_group_member::ActiveModel {
                group_id: Set(group),
                member_id: Set(*id),
                member_type: Set(kind.as_str().to_string()),
            }
        }))
        .on_conflict_do_nothing_on([
            scim_group_member::Column::GroupId,
            scim_group_member::Column::MemberId,
        ])
        .exec(db)
        .await?;
    }
    let ids: Vec<Uuid> = members.iter().map(|(id, _)| *id).collect();
    bump_users(db, &ids).await
}

/// Move on the version of these users (their `groups` changed); ids of groups are no-ops.
pub(super) async fn bump_users(db: &impl ConnectionTrait, ids: &[Uuid]) -> ScimResult<()> {
    for chunk in ids.chunks(CHUNK) {
        user::Entity::update_many()
            .col_expr(
                user::Column::Version,
                Expr::col(user::Column::Version).add(1),
            )
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Move on the version of every user in the group (the group was renamed or is going).
pub(super) async fn bump_members_of(db: &impl ConnectionTrait, group: Uuid) -> ScimResult<()> {
    let members = sea_orm::sea_query::Query::select()
        .column(scim_group_member::Column::MemberId)
        .from(scim_group_member::Entity)
        .and_where(scim_group_member::Column::GroupId.eq(group))
        .to_owned();
    user::Entity::update_many()
        .col_expr(
            user::Column::Version,
            Expr::col(user::Column::Version).add(1),
        )
        .filter(user::Column::Id.in_subquery(members))
        .exec(db)
        .await?;
    Ok(())
}

pub(super) async fn remove_members(
    db: &impl ConnectionTrait,
    group: Uuid,
    ids: Option<&[Uuid]>,
) -> ScimResult<u64> {
    let mut removed = 0;
    match ids {
        None => {
            bump_members_of(db, group).await?;
            removed = scim_group_member::Entity::delete_many()
                .filter(scim_group_member::Column::GroupId.eq(group))
                .exec(db)
                .await?
                .rows_affected;
        }
        Some(ids) => {
            for chunk in ids.chunks(CHUNK) {
                let gone: Vec<Uuid> = scim_group_member::Entity::delete_many()
                    .filter(scim_group_member::Column::GroupId.eq(group))
                    .filter(scim_group_member::Column::MemberId.is_in(chunk.iter().copied()))
                    .exec_with_returning(db)
                    .await?
                    .into_iter()
                    .map(|m| m.member_id)
                    .collect();
                removed += gone.len() as u64;
                bump_users(db, &gone).await?;
            }
        }
    }
    Ok(removed)
}

pub(super) fn is_members(path: &PatchPath) -> bool {
    path.attr.attr.eq_ignore_ascii_case("members")
        && path
            .attr
            .schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(GROUP))
}

/// A change to the member rows.
pub(super) enum MemberChange {
    Add(Vec<(Uuid, Option<MemberType>)>),
    /// Replace every member.
    Set(Vec<(Uuid, Option<MemberType>)>),
    Remove(Vec<Uuid>),
    RemoveAll,
    RemoveWhere(Filter),
}

/// Split PATCH operations into member changes and the operations on the rest.
pub(super) fn partition(ops: Vec<PatchOp>) -> ScimResult<(Vec<MemberChange>, Vec<PatchOp>)> {
    let mut changes = Vec::new();
    let mut rest = Vec::new();
    for op in ops {
        match &op.path {
            Some(path) if is_members(path) => {
                if path.sub.is_some() || path.attr.sub.is_some() {
                    return Err(ScimError::bad(
                        "invalidPath",
                        "a member's sub-attributes cannot be changed: add or remove the member",
                    ));
                }
                let refs = || -> ScimResult<Vec<(Uuid, Option<MemberType>)>> {
                    op.value
                        .as_ref()
                        .map(member_refs)
                        .transpose()
                        .map(Option::unwrap_or_default)
                };
                changes.push(match (op.op, &path.filter) {
                    (OpKind::Remove, Some(f)) => MemberChange::RemoveWhere(f.clone()),
                    (_, Some(_)) => {
                        return Err(ScimError::bad(
                            "invalidPath",
                            "members can be added, replaced or removed, not changed in place",
                        ));
                    }
                    (OpKind::Add, None) => MemberChange::Add(refs()?),
                    (OpKind::Replace, None) => MemberChange::Set(refs()?),
                    (OpKind::Remove, None) => match &op.value {
                        Some(_) => {
                            MemberChange::Remove(refs()?.into_iter().map(|(id, _)| id).collect())
                        }
                        None => MemberChange::RemoveAll,
                    },
                });
            }
            Some(_) => rest.push(op),
            None => {
                // A value object may carry members beside other attributes.
                let Some(Value::Object(obj)) = &op.value else {
                    rest.push(op);
                    continue;
                };
                let mut obj = obj.clone();
                let key = obj
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case("members"))
                    .cloned();
                if let Some(key) = key
                    && let Some(m) = obj.remove(&key)
                {
                    let refs = member_refs(&m)?;
                    changes.push(match op.op {
                        OpKind::Replace => MemberChange::Set(refs),
                        _ => MemberChange::Add(refs),
                    });
                }
                if !obj.is_empty() {
                    rest.push(PatchOp {
                        op: op.op,
                        path: None,
                        value: Some(Value::Object(obj)),
                    });
                }
            }
        }
    }
    Ok((changes, rest))
}

/// Remove the members that a value filter (`members[value eq "…"]`) selects: one `DELETE`.
pub(super) async fn remove_where(
    db: &impl ConnectionTrait,
    group: Uuid,
    filter: &Filter,
) -> ScimResult<u64> {
    let backend = db.get_database_backend();
    let cond = sql::member_condition(backend, filter)?;
    // `cond` is written against `m`, a member row; its placeholders come after the group
    // id's (PostgreSQL numbers them; SQLite takes them in order, so the id goes in twice).
    let (gid, cond_sql, mut values): (&str, String, Vec<sea_orm::Value>) = match backend {
        DbBackend::Postgres => ("$1", renumber(&cond.sql, 1), vec![group.into()]),
        _ => ("?", cond.sql.clone(), vec![group.into(), group.into()]),
    };
    values.extend(cond.values);
    let stmt = format!(
        "DELETE FROM scim_group_members WHERE group_id = {gid} AND member_id IN \
         (SELECT m.member_id FROM scim_group_members m WHERE m.group_id = {gid} \
         AND {cond_sql}) RETURNING member_id"
    );
    let gone = db
        .query_all_raw(Statement::from_sql_and_values(backend, stmt, values))
        .await?
        .iter()
        .map(|row| row.try_get::<Uuid>("", "member_id"))
        .collect::<Result<Vec<_>, _>>()?;
    bump_users(db, &gone).await?;
    Ok(gone.len() as u64)
}

/// Shift `$n` placeholders of a PostgreSQL fragment by `by`.
pub(super) fn renumber(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = String::new();
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                n.push(d);
                chars.next();
            }
            out.push('$');
            out.push_str(&(n.parse::<usize>().unwrap_or(0) + by).to_string());
        } else {
            out.push(c);
        }
    }
    out
}
