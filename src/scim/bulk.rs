//! SCIM Bulk (RFC 7644 §3.7): up to `maxOperations` operations in one request, each run as
//! the single request it stands for. `bulkId:<id>` anywhere in an
//! operation's `data` or `path` is replaced by the id of the resource that the operation
//! with that `bulkId` created; operations run in an order that resolves such references
//! (an operation that refers to a later one waits for it). `failOnErrors` stops processing
//! after that many errors. The operations run in one transaction, each in a savepoint: a
//! failed one is rolled back alone, and the whole request is one commit.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use sea_orm::TransactionSession;
use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimResult};
use super::{BULK_REQUEST, BULK_RESPONSE, Ctx, Db, LIMITS, groups, users};

struct Op {
    /// The bulkIds it refers to (in `data` and `path`), found once.
    refs: Vec<String>,
    method: String,
    bulk_id: Option<String>,
    version: Option<String>,
    path: String,
    data: Option<Value>,
}

/// The passwords an operation's data sets: a resource's `password`, or a PATCH operation on
/// `password` (by path or in a value object).
fn passwords(data: &Value) -> Vec<&str> {
    fn key(o: &Map<String, Value>) -> Option<&str> {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("password"))
            .and_then(|(_, v)| v.as_str())
    }
    let mut out = Vec::new();
    if let Some(o) = data.as_object() {
        out.extend(key(o));
        let ops = o
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
            .and_then(|(_, v)| v.as_array());
        for op in ops.into_iter().flatten() {
            let by_path = op
                .get("path")
                .and_then(Value::as_str)
                .is_some_and(|p| p.eq_ignore_ascii_case("password"));
            match op.get("value") {
                Some(Value::String(s)) if by_path => out.push(s),
                Some(Value::Object(v)) => out.extend(key(v)),
                _ => {}
            }
        }
    }
    out
}

/// The bulkIds an operation refers to.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                out.push(id.to_string());
            }
        }
        Value::Array(a) => a.iter().for_each(|x| references(x, out)),
        Value::Object(o) => o.values().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn path_reference(path: &str) -> Option<String> {
    path.rsplit('/')
        .next()
        .and_then(|last| last.strip_prefix("bulkId:"))
        .map(str::to_string)
}

fn substitute(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, ids)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute(x, ids)),
        _ => {}
    }
}

fn parse(body: &Value) -> ScimResult<(Option<usize>, Vec<Op>)> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest is a JSON object"))?;
    let schemas_ok = obj
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(BULK_REQUEST)));
    if !schemas_ok {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must contain {BULK_REQUEST}"
        )));
    }
    let fail_on_errors = match obj.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ScimError::invalid_syntax("failOnErrors is a positive integer"))?
                as usize,
        ),
    };
    let ops = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::invalid_syntax("Operations is required"))?;
    if ops.len() > LIMITS.max_operations {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!(
                "a bulk request has at most {} operations",
                LIMITS.max_operations
            ),
        ));
    }
    let mut out = Vec::with_capacity(ops.len());
    let mut seen = std::collections::HashSet::new();
    for (index, op) in ops.iter().enumerate() {
        let field = |k: &str| op.get(k).and_then(Value::as_str).map(str::to_string);
        let method = field("method")
            .ok_or_else(|| {
                ScimError::invalid_syntax(format!("operation {index}: method is required"))
            })?
            .to_ascii_uppercase();
        let path = field("path").ok_or_else(|| {
            ScimError::invalid_syntax(format!("operation {index}: path is required"))
        })?;
        let bulk_id = field("bulkId");
        if method == "POST" && bulk_id.is_none() {
            return Err(ScimError::invalid_syntax(format!(
                "operation {index}: a POST needs a bulkId"
            )));
        }
        if let Some(b) = &bulk_id
            && !seen.insert(b.clone())
        {
            return Err(ScimError::invalid_syntax(format!(
                "bulkId {b:?} is used twice"
            )));
        }
        let data = op.get("data").cloned();
        let mut refs = Vec::new();
        if let Some(d) = &data {
            references(d, &mut refs);
        }
        refs.extend(path_reference(&path));
        out.push(Op {
            refs,
            method,
            bulk_id,
            version: field("version"),
            path,
            data,
        });
    }
    Ok((fail_on_errors, out))
}

/// What one operation did.
struct Outcome {
    status: StatusCode,
    location: Option<String>,
    version: Option<String>,
    id: Option<String>,
}

async fn execute<C: Db>(ctx: &Ctx<'_, C>, op: &Op) -> ScimResult<Outcome> {
    let segments: Vec<&str> = op.path.trim_matches('/').split('/').collect();
    let data = || {
        op.data
            .as_ref()
            .ok_or_else(|| ScimError::invalid_syntax("data is required"))
    };
    let done = |status, kind: &str, id: uuid::Uuid, version: i64| Outcome {
        status,
        location: Some(format!("{}/{kind}/{id}", ctx.base)),
        version: Some(super::etag(version)),
        id: Some(id.to_string()),
    };
    let v = op.version.as_deref();
    match (op.method.as_str(), segments.as_slice()) {
        ("POST", ["Users"]) => {
            let u = users::create(ctx, data()?).await?;
            Ok(done(StatusCode::CREATED, "Users", u.id, u.version))
        }
        ("POST", ["Groups"]) => {
            let g = groups::create(ctx, data()?).await?;
            Ok(done(StatusCode::CREATED, "Groups", g.id, g.version))
        }
        ("PUT", ["Users", id]) => {
            let u = users::replace(ctx, id, data()?, v).await?;
            Ok(done(StatusCode::OK, "Users", u.id, u.version))
        }
        ("PUT", ["Groups", id]) => {
            let g = groups::replace(ctx, id, data()?, v).await?;
            Ok(done(StatusCode::OK, "Groups", g.id, g.version))
        }
        ("PATCH", ["Users", id]) => {
            let u = users::patch(ctx, id, data()?, v).await?;
            Ok(done(StatusCode::OK, "Users", u.id, u.version))
        }
        ("PATCH", ["Groups", id]) => {
            let g = groups::patch(ctx, id, data()?, v).await?;
            Ok(done(StatusCode::OK, "Groups", g.id, g.version))
        }
        ("DELETE", ["Users", id]) => {
            users::delete(ctx, id, v).await?;
            Ok(Outcome {
                status: StatusCode::NO_CONTENT,
                location: Some(format!("{}/Users/{id}", ctx.base)),
                version: None,
                id: None,
            })
        }
        ("DELETE", ["Groups", id]) => {
            groups::delete(ctx, id, v).await?;
            Ok(Outcome {
                status: StatusCode::NO_CONTENT,
                location: Some(format!("{}/Groups/{id}", ctx.base)),
                version: None,
                id: None,
            })
        }
        ("POST" | "PUT" | "PATCH" | "DELETE", _) => Err(ScimError::invalid_syntax(format!(
            "{} is not a path that {} applies to",
            op.path, op.method
        ))),
        _ => Err(ScimError::invalid_syntax(format!(
            "method {} is not POST, PUT, PATCH or DELETE",
            op.method
        ))),
    }
}

/// Run a bulk request; the `BulkResponse`.
pub async fn run<C: Db>(ctx: &Ctx<'_, C>, body: &Value) -> ScimResult<Value> {
    let (fail_on_errors, ops) = parse(body)?;
    // Hash the passwords first: argon2 takes tens of milliseconds each, too long to hold the
    // transaction's locks (SQLite's one write lock above all) while it runs.
    // One hash for each use of a password, each with its own salt: the same password for two
    // users must not give them the same stored hash.
    let mut prehashed: std::collections::HashMap<String, Vec<String>> = Default::default();
    for op in &ops {
        for pw in op.data.iter().flat_map(passwords) {
            if pw.len() <= crate::accounts::validation::MAX_PASSWORD_BYTES {
                let hash = ctx.hasher.hash(pw).await?;
                prehashed.entry(pw.to_string()).or_default().push(hash);
            }
        }
    }
    let mut outer = ctx.on(ctx.db);
    outer.prehashed = std::sync::Arc::new(std::sync::Mutex::new(prehashed));
    let ctx = &outer;
    // One transaction for the request, one savepoint per operation: an operation that fails
    // leaves no trace and the others stand, and the request costs one commit, not one per
    // operation.
    let txn = crate::db::begin(ctx.db).await?;
    let inner = ctx.on(&txn);
    let ctx = &inner;
    let defined: std::collections::HashSet<String> =
        ops.iter().filter_map(|o| o.bulk_id.clone()).collect();
    let mut created: HashMap<String, String> = HashMap::new();
    // bulkIds whose operation failed: operations referring to them fail too.
    let mut failed_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut pending: Vec<Op> = ops;
    let mut results: Vec<Value> = Vec::new();
    let mut errors = 0usize;
    while !pending.is_empty() {
        if fail_on_errors.is_some_and(|n| errors >= n) {
            break;
        }
        // The first operation whose references are all resolved (or can never be).
        let ready = pending.iter().position(|op| {
            op.refs
                .iter()
                .all(|r| created.contains_key(r) || failed_ids.contains(r) || !defined.contains(r))
        });
        let (mut op, cycle) = match ready {
            Some(i) => (pending.remove(i), false),
            // Every remaining operation waits for another: a circular reference.
            None => (pending.remove(0), true),
        };
        let unresolved: Vec<&String> = op
            .refs
            .iter()
            .filter(|r| !created.contains_key(*r))
            .collect();
        let outcome = if cycle {
            Err(ScimError::new(
                StatusCode::CONFLICT,
                Some("invalidValue"),
                "circular bulkId references cannot be resolved",
            ))
        } else if let Some(r) = unresolved.first() {
            Err(ScimError::new(
                StatusCode::CONFLICT,
                Some("invalidValue"),
                format!("bulkId:{r} does not refer to a resource created in this request"),
            ))
        } else {
            if let Some(d) = &mut op.data {
                substitute(d, &created);
            }
            if let Some(r) = path_reference(&op.path)
                && let Some(id) = created.get(&r)
            {
                op.path = op.path.replace(&format!("bulkId:{r}"), id);
            }
            execute(ctx, &op).await
        };
        let mut entry = Map::new();
        entry.insert("method".into(), op.method.clone().into());
        if let Some(b) = &op.bulk_id {
            entry.insert("bulkId".into(), b.clone().into());
        }
        match outcome {
            Ok(o) => {
                if let (Some(b), Some(id)) = (&op.bulk_id, &o.id) {
                    created.insert(b.clone(), id.clone());
                }
                if let Some(l) = o.location {
                    entry.insert("location".into(), l.into());
                }
                if let Some(v) = o.version {
                    entry.insert("version".into(), v.into());
                }
                entry.insert("status".into(), o.status.as_u16().to_string().into());
            }
            Err(e) => {
                if e.status.is_server_error() {
                    // Storage trouble is the whole request's problem, not one operation's.
                    return Err(e);
                }
                errors += 1;
                if let Some(b) = &op.bulk_id {
                    failed_ids.insert(b.clone());
                }
                entry.insert("status".into(), e.status.as_u16().to_string().into());
                entry.insert("response".into(), e.body());
            }
        }
        results.push(Value::Object(entry));
    }
    txn.commit().await?;
    Ok(json!({ "schemas": [BULK_RESPONSE], "Operations": results }))
}
