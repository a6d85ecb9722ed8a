//! SCIM filters (and `sortBy`) as SQL that runs in the database, on SQLite and on PostgreSQL.
//!
//! Attributes with a column of their own (`id`, `userName`, `externalId`, `active`,
//! `displayName` of groups, `meta.created`, `meta.lastModified`) are compared on that column,
//! so the common provisioning lookups (`userName eq`, `externalId eq`) use an index. Every
//! other attribute lives in the canonical JSON representation (`users.scim`), read with
//! `json_extract` / `json_each` (SQLite) or `#>>` / `jsonb_array_elements` (PostgreSQL).
//! Multi-valued attributes and group memberships become `EXISTS` sub-queries.
//!
//! Case-insensitive comparisons (`caseExact: false`) fold both sides with SQL `lower()`, or
//! compare with a column stored lower-cased. (SQLite's `lower()` folds ASCII only.)
//! Attribute and schema names are never taken from the request into the SQL text: they are
//! resolved against the schema, and the canonical names from the schema documents are used.
//! Every value is a bound parameter.

use chrono::DurationRound;
use sea_orm::DbBackend;
use sea_orm::sea_query::{Expr, Value as SqlValue};
use serde_json::Value;

use super::error::{ScimError, ScimResult};
use super::filter::{AttrPath, CompareOp, Filter, Literal};
use super::schema::{self, Attribute, ResourceType, Target, Type};

/// Which table a filter runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Users,
    Groups,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Groups => "scim_groups",
        }
    }

    pub fn resource_type(self) -> &'static ResourceType {
        match self {
            Table::Users => schema::users(),
            Table::Groups => schema::groups(),
        }
    }
}

/// What an attribute is read from.
#[derive(Debug, Clone)]
enum Operand {
    /// A text expression; `folded` when it is stored lower-cased already.
    Text {
        sql: String,
        folded: bool,
    },
    Bool(String),
    /// A uuid column: `eq`/`ne` against a string that is a uuid.
    Uuid(String),
    Time(String),
    /// A JSON value in the representation (text in SQL, typed by the schema); `keys` is its
    /// path in the representation when it is a top-level one (not inside an element).
    Json {
        sql: String,
        ty: Type,
        keys: Option<Vec<String>>,
    },
    /// A multi-valued attribute: `EXISTS` over its elements.
    Elements(Elements),
    /// The fixed `meta.resourceType`.
    Const(&'static str),
}

#[derive(Debug, Clone)]
enum Elements {
    /// A JSON array in the representation, with its attribute (for the sub-attributes).
    Json {
        attr: &'static Attribute,
        schema: Option<&'static str>,
    },
    /// The groups of a user (`groups`), from the membership table.
    GroupsOfUser,
    /// The members of a group (`members`).
    MembersOfGroup,
}

/// A condition being built: SQL text with backend placeholders, and its values.
pub struct Builder {
    backend: DbBackend,
    table: Table,
    values: Vec<SqlValue>,
    depth: usize,
}

/// The built condition: `WHERE`-able, values bound.
pub struct Condition {
    pub sql: String,
    pub values: Vec<SqlValue>,
}

impl Condition {
    pub fn expr(self) -> Expr {
        Expr::cust_with_values(self.sql, self.values)
    }
}

/// The page of `select` (rows of `table`, already limited to the tenant) that a query asks
/// for, and how many rows match in all: the filter, then the sort (unassigned values last,
/// ties broken by `id` so that pages do not overlap), then `startIndex` / `count`.
pub async fn page<E>(
    db: &impl sea_orm::ConnectionTrait,
    table: Table,
    mut select: sea_orm::Select<E>,
    id: E::Column,
    q: &super::list::ListQuery,
) -> ScimResult<(u64, Vec<E::Model>)>
where
    E: sea_orm::EntityTrait,
    E::Model: Sync,
{
    use sea_orm::sea_query::Order;
    use sea_orm::{PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
    let backend = db.get_database_backend();
    if let Some(f) = &q.filter {
        select = select.filter(condition(backend, table, f)?.expr());
    }
    let total = select.clone().count(db).await?;
    if q.count == 0 {
        return Ok((total, Vec::new()));
    }
    let order = if q.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    if let Some(by) = &q.sort_by {
        let e = sort_expr(backend, table, by)?;
        select = select
            .order_by(Expr::cust(format!("({e}) IS NULL")), Order::Asc)
            .order_by(Expr::cust(e), order.clone());
    }
    let rows = select
        .order_by(id, order)
        .offset(q.start_index.saturating_sub(1))
        .limit(q.count)
        .all(db)
        .await?;
    Ok((total, rows))
}

/// Translate a filter into a condition on `table`.
pub fn condition(backend: DbBackend, table: Table, filter: &Filter) -> ScimResult<Condition> {
    let mut b = Builder {
        backend,
        table,
        values: Vec::new(),
        depth: 0,
    };
    let sql = b.filter(filter, None)?;
    Ok(Condition {
        sql,
        values: b.values,
    })
}

/// A condition on rows of `scim_group_members` (alias `m`) from a filter on members' sub-
/// attributes (`value`, `type`): a PATCH `members[value eq "…"]` runs as one `DELETE`.
pub fn member_condition(backend: DbBackend, filter: &Filter) -> ScimResult<Condition> {
    let mut b = Builder {
        backend,
        table: Table::Groups,
        values: Vec::new(),
        depth: 0,
    };
    let sql = b.filter(filter, Some(&Elements::MembersOfGroup))?;
    Ok(Condition {
        sql,
        values: b.values,
    })
}

/// An `ORDER BY` expression for `sortBy` (single-valued attributes, or the first value of a
/// multi-valued one); `None` if the attribute is unknown.
pub fn sort_expr(backend: DbBackend, table: Table, path: &AttrPath) -> ScimResult<String> {
    sort_operand(backend, table, path).map_err(|e| match e.scim_type {
        Some("invalidFilter") => ScimError::invalid_value(format!("sortBy: {}", e.detail)),
        _ => e,
    })
}

fn sort_operand(backend: DbBackend, table: Table, path: &AttrPath) -> ScimResult<String> {
    let b = Builder {
        backend,
        table,
        values: Vec::new(),
        depth: 0,
    };
    match b.operand(path)? {
        Operand::Text { sql, .. }
        | Operand::Bool(sql)
        | Operand::Uuid(sql)
        | Operand::Time(sql)
        | Operand::Json { sql, .. } => Ok(sql),
        Operand::Const(_) => Ok("1".into()),
        Operand::Elements(Elements::Json { attr, schema }) => {
            let sub = if attr.sub_attributes.iter().any(|s| s.name == "value") {
                vec!["0", "value"]
            } else {
                vec!["0"]
            };
            let mut keys: Vec<&str> = schema.into_iter().collect();
            keys.push(&attr.name);
            keys.extend(sub);
            Ok(b.json_path(&format!("{}.scim", b.table.name()), &keys))
        }
        Operand::Elements(_) => Err(ScimError::invalid_value(format!(
            "cannot sort by {}",
            display(path)
        ))),
    }
}

fn display(path: &AttrPath) -> String {
    let mut s = String::new();
    if let Some(urn) = &path.schema {
        s.push_str(urn);
        s.push(':');
    }
    s.push_str(&path.attr);
    if let Some(sub) = &path.sub {
        s.push('.');
        s.push_str(sub);
    }
    s
}

fn is_sensitive(attr: &Attribute) -> bool {
    attr.returned == schema::Returned::Never
}

impl Builder {
    fn bind(&mut self, v: impl Into<SqlValue>) -> String {
        self.values.push(v.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".into(),
        }
    }

    fn false_sql(&self) -> String {
        "(1 = 0)".into()
    }

    /// `base` read at `keys` as text.
    fn json_path(&self, base: &str, keys: &[&str]) -> String {
        match self.backend {
            DbBackend::Postgres => {
                let list = keys
                    .iter()
                    .map(|k| format!("\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\"")))
                    .collect::<Vec<_>>()
                    .join(",");
                format!("({base} #>> '{{{}}}')", list.replace('\'', "''"))
            }
            _ => {
                let path = keys
                    .iter()
                    .map(|k| {
                        if k.chars().all(|c| c.is_ascii_digit()) {
                            format!("[{k}]")
                        } else {
                            format!(".\"{}\"", k.replace('"', "\\\""))
                        }
                    })
                    .collect::<String>();
                format!("json_extract({base}, '${}')", path.replace('\'', "''"))
            }
        }
    }

    /// PostgreSQL: an index-backed pre-filter for a case-insensitive `eq` on the
    /// representation: `users.scim_search @> {…}`, the lower-cased value at the lower-cased
    /// path, through the GIN index on `scim_search`. The exact comparison still follows it;
    /// this only lets the database skip the rows that cannot match. (`None` elsewhere.)
    fn contains(&mut self, keys: &[&str], leaf: Value) -> Option<String> {
        if self.backend != DbBackend::Postgres || self.table != Table::Users || keys.is_empty() {
            return None;
        }
        // Only ASCII: Rust and the database's `lower()` (which folded the stored copy of
        // migrated rows) agree on it under every locale.
        let mut doc = match leaf {
            Value::String(s) if s.is_ascii() => Value::String(s.to_ascii_lowercase()),
            Value::String(_) => return None,
            other => other,
        };
        for k in keys.iter().rev() {
            let mut m = serde_json::Map::new();
            m.insert(k.to_lowercase(), doc);
            doc = Value::Object(m);
        }
        let p = self.bind(doc);
        Some(format!("{}.scim_search @> {p}", self.table.name()))
    }

    /// [`Self::contains`] for an element of a multi-valued JSON attribute with these
    /// sub-attribute values.
    fn element_contains(&mut self, el: &Elements, pairs: &[(&str, &str)]) -> Option<String> {
        let Elements::Json { attr, schema } = el else {
            return None;
        };
        if pairs.is_empty() {
            return None;
        }
        let mut element = serde_json::Map::new();
        for (k, v) in pairs {
            let sub = attr
                .sub_attributes
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(k))?;
            if !matches!(sub.ty, Type::String | Type::Reference | Type::Binary) {
                return None;
            }
            if !v.is_ascii() {
                return None;
            }
            element.insert(
                sub.name.to_lowercase(),
                Value::String(v.to_ascii_lowercase()),
            );
        }
        let mut keys: Vec<&str> = schema.iter().copied().collect();
        keys.push(&attr.name);
        self.contains(&keys, Value::Array(vec![Value::Object(element)]))
    }

    fn filter(&mut self, f: &Filter, within: Option<&Elements>) -> ScimResult<String> {
        self.depth += 1;
        if self.depth > 1000 {
            return Err(ScimError::invalid_filter("the filter is nested too deeply"));
        }
        let out = match f {
            Filter::And(a, b) => format!(
                "({} AND {})",
                self.filter(a, within)?,
                self.filter(b, within)?
            ),
            Filter::Or(a, b) => format!(
                "({} OR {})",
                self.filter(a, within)?,
                self.filter(b, within)?
            ),
            // A comparison with a missing value is NULL in SQL, which WHERE, AND and OR treat
            // as false; only NOT would keep it NULL, so NOT turns it into false first. (Not
            // wrapping each comparison keeps it usable with an index.)
            Filter::Not(a) => format!("(NOT COALESCE({}, FALSE))", self.filter(a, within)?),
            Filter::Present(path) => {
                let op = self.resolve(path, within)?;
                self.present_at(op, path)?
            }
            Filter::Compare { path, op, value } => {
                let operand = self.resolve(path, within)?;
                let case_exact = self.case_exact(path, within);
                self.compare(operand, *op, value, case_exact, path)?
            }
            Filter::ValuePath { attr, filter } => {
                if within.is_some() {
                    return Err(ScimError::invalid_filter(
                        "a value filter cannot be nested in another",
                    ));
                }
                match self.resolve(attr, None)? {
                    Operand::Elements(el) => {
                        let inner = self.filter(filter, Some(&el))?;
                        let exists = self.exists(&el, &inner);
                        let mut leaves = Vec::new();
                        eq_leaves(filter, &mut leaves);
                        match self.element_contains(&el, &leaves) {
                            Some(pre) => format!("({pre} AND {exists})"),
                            None => exists,
                        }
                    }
                    _ => {
                        return Err(ScimError::invalid_filter(format!(
                            "{} is not multi-valued: it takes no [value filter]",
                            display(attr)
                        )));
                    }
                }
            }
        };
        self.depth -= 1;
        Ok(out)
    }

    fn case_exact(&self, path: &AttrPath, within: Option<&Elements>) -> bool {
        match within {
            Some(Elements::Json { attr, .. }) => attr
                .sub_attributes
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(&path.attr))
                .is_some_and(|s| s.case_exact),
            Some(_) => false,
            None => match self.table.resource_type().resolve(path) {
                Some(Target::Attr { attr, sub, .. }) => sub.unwrap_or(attr).case_exact,
                _ => false,
            },
        }
    }

    /// `EXISTS` over the elements of a multi-valued attribute.
    fn exists(&self, el: &Elements, inner: &str) -> String {
        let t = self.table.name();
        match el {
            Elements::Json { attr, schema } => {
                let mut keys: Vec<&str> = schema.iter().copied().collect();
                keys.push(&attr.name);
                match self.backend {
                    DbBackend::Postgres => {
                        let path = keys
                            .iter()
                            .map(|k| format!("\"{k}\""))
                            .collect::<Vec<_>>()
                            .join(",");
                        format!(
                            "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN \
                             jsonb_typeof({t}.scim #> '{{{path}}}') = 'array' THEN \
                             {t}.scim #> '{{{path}}}' ELSE '[]'::jsonb END) AS e(value) \
                             WHERE {inner})"
                        )
                    }
                    _ => {
                        let path = keys.iter().map(|k| format!(".\"{k}\"")).collect::<String>();
                        format!(
                            "EXISTS (SELECT 1 FROM json_each({t}.scim, '${path}') AS e \
                             WHERE {inner})"
                        )
                    }
                }
            }
            Elements::GroupsOfUser => format!(
                "EXISTS (SELECT 1 FROM scim_group_members m JOIN scim_groups g ON \
                 g.id = m.group_id WHERE m.member_id = {t}.id AND {inner})"
            ),
            Elements::MembersOfGroup => format!(
                "EXISTS (SELECT 1 FROM scim_group_members m WHERE m.group_id = {t}.id \
                 AND {inner})"
            ),
        }
    }

    /// What a path reads, at the top level or inside an element.
    fn resolve(&self, path: &AttrPath, within: Option<&Elements>) -> ScimResult<Operand> {
        let unknown = || ScimError::invalid_filter(format!("unknown attribute {}", display(path)));
        let Some(el) = within else {
            return self.operand(path);
        };
        if path.schema.is_some() || path.sub.is_some() {
            return Err(unknown());
        }
        let name = path.attr.to_ascii_lowercase();
        match el {
            Elements::Json { attr, .. } => {
                let sub = attr
                    .sub_attributes
                    .iter()
                    .find(|s| s.name.eq_ignore_ascii_case(&path.attr))
                    .ok_or_else(unknown)?;
                let sql = self.json_path(self.element(), &[&sub.name]);
                Ok(Operand::Json {
                    sql,
                    ty: sub.ty,
                    keys: None,
                })
            }
            Elements::GroupsOfUser => match name.as_str() {
                "value" => Ok(Operand::Uuid("m.group_id".into())),
                "display" => Ok(Operand::Text {
                    sql: "g.display_name".into(),
                    folded: false,
                }),
                "type" => Ok(Operand::Const("direct")),
                _ => Err(unknown()),
            },
            Elements::MembersOfGroup => match name.as_str() {
                "value" => Ok(Operand::Uuid("m.member_id".into())),
                "type" => Ok(Operand::Text {
                    sql: "m.member_type".into(),
                    folded: false,
                }),
                _ => Err(unknown()),
            },
        }
    }

    /// The SQL name of the current JSON array element.
    fn element(&self) -> &'static str {
        "e.value"
    }

    /// A top-level attribute path of the table's resource type.
    fn operand(&self, path: &AttrPath) -> ScimResult<Operand> {
        let t = self.table.name();
        let unknown = || ScimError::invalid_filter(format!("unknown attribute {}", display(path)));
        let rt = self.table.resource_type();
        let target = rt.resolve(path).ok_or_else(unknown)?;
        let Target::Attr { schema, attr, sub } = target else {
            return Err(ScimError::invalid_filter(format!(
                "{} is a schema, not an attribute",
                display(path)
            )));
        };
        if is_sensitive(attr) || sub.is_some_and(is_sensitive) {
            return Err(ScimError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                Some("sensitive"),
                format!("{} cannot be used in a filter", attr.name),
            ));
        }
        let core = schema.id == rt.core.id;
        let top = attr.name.as_str();
        let sub_name = sub.map(|s| s.name.as_str());
        // Columns and relations first.
        if core {
            match (self.table, top, sub_name) {
                (_, "id", None) => return Ok(Operand::Uuid(format!("{t}.id"))),
                (_, "meta", Some("created")) => {
                    return Ok(Operand::Time(format!("{t}.created_at")));
                }
                (_, "meta", Some("lastModified")) => {
                    return Ok(Operand::Time(format!("{t}.updated_at")));
                }
                (_, "meta", Some("resourceType")) => return Ok(Operand::Const(rt.name)),
                (_, "meta", _) => {
                    return Err(ScimError::invalid_filter(format!(
                        "{} cannot be filtered on",
                        display(path)
                    )));
                }
                (_, "externalId", None) => {
                    return Ok(Operand::Text {
                        sql: format!("{t}.external_id"),
                        folded: false,
                    });
                }
                (Table::Users, "userName", None) => {
                    return Ok(Operand::Text {
                        sql: format!("{t}.user_name_normalized"),
                        folded: true,
                    });
                }
                (Table::Users, "active", None) => {
                    return Ok(Operand::Bool(format!("(NOT {t}.disabled)")));
                }
                (Table::Users, "groups", None) => {
                    return Ok(Operand::Elements(Elements::GroupsOfUser));
                }
                (Table::Users, "groups", Some(_)) | (Table::Groups, "members", Some(_)) => {
                    // `groups.value eq "…"`: an element with that sub-attribute.
                    return Ok(Operand::Elements(match self.table {
                        Table::Users => Elements::GroupsOfUser,
                        Table::Groups => Elements::MembersOfGroup,
                    }));
                }
                (Table::Groups, "displayName", None) => {
                    return Ok(Operand::Text {
                        sql: format!("{t}.display_name_normalized"),
                        folded: true,
                    });
                }
                (Table::Groups, "members", None) => {
                    return Ok(Operand::Elements(Elements::MembersOfGroup));
                }
                (Table::Groups, _, _) => return Err(unknown()),
                _ => {}
            }
        }
        if schema.id == schema::PLINTO_USER && top == "emailVerified" && sub.is_none() {
            return Ok(Operand::Bool(format!("{t}.email_verified")));
        }
        let ext: Option<&'static str> = if core {
            None
        } else {
            Some(leak_schema_id(rt, &schema.id))
        };
        let attr: &'static Attribute = leak_attr(rt, ext, top).ok_or_else(unknown)?;
        if attr.multi_valued {
            return Ok(Operand::Elements(Elements::Json { attr, schema: ext }));
        }
        let mut keys: Vec<&str> = ext.into_iter().collect();
        keys.push(&attr.name);
        let ty = match sub {
            Some(s) => {
                keys.push(&s.name);
                s.ty
            }
            None => attr.ty,
        };
        Ok(Operand::Json {
            sql: self.json_path(&format!("{t}.scim"), &keys),
            ty,
            keys: Some(keys.iter().map(|k| k.to_string()).collect()),
        })
    }

    /// `pr` of a path: for `emails.type`, an element whose `type` is present.
    fn present_at(&mut self, op: Operand, path: &AttrPath) -> ScimResult<String> {
        match (op, &path.sub) {
            (Operand::Elements(el), Some(sub)) => {
                let inner = AttrPath {
                    schema: None,
                    attr: sub.clone(),
                    sub: None,
                };
                let inner_op = self.resolve(&inner, Some(&el))?;
                let inner_sql = self.present(inner_op)?;
                Ok(self.exists(&el, &inner_sql))
            }
            (op, _) => self.present(op),
        }
    }

    fn present(&mut self, op: Operand) -> ScimResult<String> {
        Ok(match op {
            Operand::Text { sql, .. } => format!("({sql} IS NOT NULL AND {sql} <> '')"),
            Operand::Bool(_) | Operand::Uuid(_) | Operand::Time(_) | Operand::Const(_) => {
                "(1 = 1)".into()
            }
            Operand::Json { sql, .. } => format!("({sql} IS NOT NULL)"),
            Operand::Elements(el) => self.exists(&el, "1 = 1"),
        })
    }

    fn compare(
        &mut self,
        operand: Operand,
        op: CompareOp,
        value: &Literal,
        case_exact: bool,
        path: &AttrPath,
    ) -> ScimResult<String> {
        let bad = |what: &str| ScimError::invalid_filter(format!("{} {what}", display(path)));
        if matches!(value, Literal::Null) {
            // `eq null` is "not present"; `ne null` is "present".
            let present = self.present_at(operand, path)?;
            return match op {
                CompareOp::Eq => Ok(format!("(NOT {present})")),
                CompareOp::Ne => Ok(present),
                _ => Err(bad("can only be compared with null by eq and ne")),
            };
        }
        let sql = match operand {
            Operand::Elements(el) => {
                // `emails eq "x"` / `emails.value eq "x"` / `groups.display co "x"`: some
                // element's sub-attribute (`value` unless named) matches (RFC 7644 §3.4.2.2;
                // also for `ne`: some element differs; "none equals" is `not (… eq …)`).
                let sub = path.sub.clone().unwrap_or_else(|| "value".into());
                let inner_path = AttrPath {
                    schema: None,
                    attr: sub,
                    sub: None,
                };
                let inner_exact = self.case_exact(&inner_path, Some(&el));
                let inner_op = self.resolve(&inner_path, Some(&el))?;
                let inner = self.compare(inner_op, op, value, inner_exact, &inner_path)?;
                let exists = self.exists(&el, &inner);
                let pre = match (op, value) {
                    (CompareOp::Eq, Literal::String(v)) => {
                        self.element_contains(&el, &[(inner_path.attr.as_str(), v.as_str())])
                    }
                    _ => None,
                };
                return Ok(match pre {
                    Some(pre) => format!("({pre} AND {exists})"),
                    None => exists,
                });
            }
            Operand::Const(c) => {
                let Literal::String(s) = value else {
                    return Err(bad("is a string"));
                };
                let hit = match op {
                    CompareOp::Eq => c.eq_ignore_ascii_case(s),
                    CompareOp::Ne => !c.eq_ignore_ascii_case(s),
                    CompareOp::Co => c.to_lowercase().contains(&s.to_lowercase()),
                    CompareOp::Sw => c.to_lowercase().starts_with(&s.to_lowercase()),
                    CompareOp::Ew => c.to_lowercase().ends_with(&s.to_lowercase()),
                    _ => return Err(bad("cannot be ordered")),
                };
                return Ok(if hit {
                    "(1 = 1)".into()
                } else {
                    self.false_sql()
                });
            }
            Operand::Uuid(col) => {
                let Literal::String(s) = value else {
                    return Err(bad("is a string"));
                };
                let id = uuid::Uuid::parse_str(s).ok();
                match (op, id) {
                    (CompareOp::Eq, Some(id)) => format!("{col} = {}", self.bind(id)),
                    (CompareOp::Eq, None) => self.false_sql(),
                    (CompareOp::Ne, Some(id)) => format!("{col} <> {}", self.bind(id)),
                    (CompareOp::Ne, None) => "(1 = 1)".into(),
                    _ => return Err(bad("can only be compared by eq, ne and pr")),
                }
            }
            Operand::Bool(col) => {
                let Literal::Bool(b) = value else {
                    return Err(bad("is a boolean"));
                };
                let b = self.bind(*b);
                match op {
                    CompareOp::Eq => format!("{col} = {b}"),
                    CompareOp::Ne => format!("{col} <> {b}"),
                    _ => return Err(bad("is a boolean: only eq, ne and pr apply")),
                }
            }
            Operand::Time(col) => {
                let Literal::String(s) = value else {
                    return Err(bad("is a dateTime"));
                };
                let t = chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|_| bad("is a dateTime: compare it with an RFC 3339 time"))?
                    .with_timezone(&chrono::Utc);
                // Times are shown to the millisecond (`meta.created`) but stored finer: a time
                // as shown stands for its whole millisecond, so that `meta.lastModified gt
                // <the last one seen>` does not return that one again.
                let start = t
                    .duration_trunc(chrono::TimeDelta::milliseconds(1))
                    .map_err(|_| bad("is a dateTime out of range"))?;
                let end = start + chrono::TimeDelta::milliseconds(1);
                match op {
                    CompareOp::Eq => {
                        format!(
                            "({col} >= {} AND {col} < {})",
                            self.bind(start),
                            self.bind(end)
                        )
                    }
                    CompareOp::Ne => {
                        format!(
                            "({col} < {} OR {col} >= {})",
                            self.bind(start),
                            self.bind(end)
                        )
                    }
                    CompareOp::Gt => format!("{col} >= {}", self.bind(end)),
                    CompareOp::Ge => format!("{col} >= {}", self.bind(start)),
                    CompareOp::Lt => format!("{col} < {}", self.bind(start)),
                    CompareOp::Le => format!("{col} < {}", self.bind(end)),
                    CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
                        return Err(bad("is a dateTime: co, sw, ew do not apply"));
                    }
                }
            }
            Operand::Text { sql, folded } => {
                let Literal::String(s) = value else {
                    return Err(bad("is a string"));
                };
                let (lhs, v) = if folded {
                    (sql, s.to_lowercase())
                } else if case_exact {
                    (sql, s.clone())
                } else {
                    (format!("lower({sql})"), s.clone())
                };
                let fold_rhs = !folded && !case_exact;
                self.text_compare(&lhs, op, v, fold_rhs)
            }
            Operand::Json { sql, ty, keys } => match (ty, value) {
                (Type::Boolean, Literal::Bool(b)) => {
                    let b = match self.backend {
                        DbBackend::Postgres => self.bind(if *b { "true" } else { "false" }),
                        _ => self.bind(i32::from(*b)),
                    };
                    match op {
                        CompareOp::Eq => format!("{sql} = {b}"),
                        CompareOp::Ne => format!("{sql} <> {b}"),
                        _ => return Err(bad("is a boolean: only eq, ne and pr apply")),
                    }
                }
                (Type::Boolean, _) => return Err(bad("is a boolean")),
                (Type::Integer | Type::Decimal, Literal::Number(n)) => {
                    let sym =
                        ordering(op).ok_or_else(|| bad("is a number: co, sw, ew do not apply"))?;
                    let v = n.as_f64().unwrap_or(0.0);
                    let lhs = match self.backend {
                        DbBackend::Postgres => format!("({sql})::numeric"),
                        _ => sql,
                    };
                    let rhs = self.bind(v);
                    let rhs = match self.backend {
                        DbBackend::Postgres => format!("({rhs})::numeric"),
                        _ => rhs,
                    };
                    format!("{lhs} {sym} {rhs}")
                }
                (Type::Integer | Type::Decimal, _) => return Err(bad("is a number")),
                (Type::Complex, _) => {
                    return Err(bad("is complex: compare one of its sub-attributes"));
                }
                (_, Literal::String(s)) => {
                    let lhs = if case_exact {
                        sql
                    } else {
                        format!("lower({sql})")
                    };
                    let exact = self.text_compare(&lhs, op, s.clone(), !case_exact);
                    match keys.filter(|_| op == CompareOp::Eq) {
                        Some(keys) => {
                            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                            match self.contains(&keys, Value::String(s.clone())) {
                                Some(pre) => format!("{pre} AND {exact}"),
                                None => exact,
                            }
                        }
                        None => exact,
                    }
                }
                _ => return Err(bad("is a string")),
            },
        };
        Ok(format!("({sql})"))
    }

    fn text_compare(&mut self, lhs: &str, op: CompareOp, v: String, fold: bool) -> String {
        let rhs = |b: &mut Self| {
            let p = b.bind(v.clone());
            if fold { format!("lower({p})") } else { p }
        };
        match op {
            CompareOp::Co => match self.backend {
                DbBackend::Postgres => format!("strpos({lhs}, {}) > 0", rhs(self)),
                _ => format!("instr({lhs}, {}) > 0", rhs(self)),
            },
            CompareOp::Sw => {
                let (a, b) = (rhs(self), rhs(self));
                format!("substr({lhs}, 1, length({a})) = {b}")
            }
            CompareOp::Ew => {
                let (a, b, c) = (rhs(self), rhs(self), rhs(self));
                format!(
                    "(length({lhs}) >= length({a}) AND \
                     substr({lhs}, length({lhs}) - length({b}) + 1) = {c})"
                )
            }
            other => {
                let sym = ordering(other).unwrap_or("=");
                format!("{lhs} {sym} {}", rhs(self))
            }
        }
    }
}

/// The `attr eq "string"` terms that a filter inside `[…]` requires (its top-level `and`s).
fn eq_leaves<'f>(f: &'f Filter, out: &mut Vec<(&'f str, &'f str)>) {
    match f {
        Filter::And(a, b) => {
            eq_leaves(a, out);
            eq_leaves(b, out);
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Literal::String(v),
        } if path.schema.is_none() && path.sub.is_none() => out.push((&path.attr, v)),
        _ => {}
    }
}

fn ordering(op: CompareOp) -> Option<&'static str> {
    Some(match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => return None,
    })
}

/// The `'static` id of one of the resource type's extension schemas.
fn leak_schema_id(rt: &'static ResourceType, id: &str) -> &'static str {
    rt.extensions
        .iter()
        .find(|s| s.id == id)
        .map_or("", |s| s.id.as_str())
}

/// The `'static` attribute `name` of the core schema (`ext` `None`) or of an extension.
fn leak_attr(
    rt: &'static ResourceType,
    ext: Option<&'static str>,
    name: &str,
) -> Option<&'static Attribute> {
    let schema = match ext {
        None => &rt.core,
        Some(id) => rt.extensions.iter().find(|s| s.id == id)?,
    };
    schema.attributes.iter().find(|a| a.name == name)
}
