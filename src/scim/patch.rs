//! SCIM PATCH (RFC 7644 §3.5.2): [`parse_request`] reads a `PatchOp` request body and [`apply`]
//! applies its operations, in order, to a canonical resource document.
//!
//! The document is the resource as stored: core attributes (and `externalId`) at the top level,
//! each extension's attributes in an object under the extension URN, canonical attribute names,
//! no `id`, `meta` or `schemas`, and no unassigned values (null, `""`, `[]`, `{}`). [`apply`]
//! keeps it that way: every value is checked and canonicalised with
//! [`schema::normalize_value`](super::schema::normalize_value), and unassigned values are
//! removed after each operation.
//!
//! Beyond the letter of the RFC, for what the big provisioning clients send:
//! - `Operations` and the operation members are matched case-insensitively, and so are the op
//!   names (Entra ID sends `"Replace"`).
//! - A boolean attribute accepts the strings `"true"`/`"false"` in any case (Entra ID sends
//!   `"active": "False"`).
//! - A complex attribute with a `value` sub-attribute accepts a bare string `s` as
//!   `{"value": s}` (Entra ID sends the enterprise `manager` that way).
//! - `add` or `replace` on `attr[filter].sub` where no element matches creates one when the
//!   filter is `eq` comparisons joined by `and`: `emails[type eq "work"].value` adds
//!   `{"type": "work", "value": …}` (Entra ID). `add` on `attr[filter]` does the same. A value
//!   filter on `add` merges the value into the matched elements.
//! - `remove` on a multi-valued attribute with a `value` removes the listed values (Entra ID
//!   removes group members with `{"op": "remove", "path": "members", "value": [{"value": id}]}`).
//! - In a path-less `value` object, unknown and readOnly attributes are ignored, as in a POST
//!   (Okta sends `id` there); with an explicit `path` they are errors.
//! - Adding a value that a multi-valued attribute already holds (same `value`, and same `type`
//!   where both have one) updates that element instead of appending a duplicate.
//! - A null `value` unassigns the target on `replace` and is a no-op on `add`.

mod attr;
mod cleanup;
mod filtered;
mod sub;
mod values;

use std::fmt;

use serde_json::{Map, Value};

use super::PATCH_OP;
use super::filter::{self, AttrPath, Filter, PatchPath};
use super::schema::{Attribute, Mutability, ResourceType, Schema, SchemaError, Target, Type};
use attr::{apply_attr, apply_extension, apply_value_object};
use cleanup::{check_required, clean_map};

const INVALID_SYNTAX: &str = "invalidSyntax";
const INVALID_PATH: &str = "invalidPath";
const INVALID_VALUE: &str = "invalidValue";
const NO_TARGET: &str = "noTarget";
const MUTABILITY: &str = "mutability";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    /// Present (possibly `null`) for every `add` and `replace` that [`parse_request`] returns.
    pub value: Option<Value>,
}

/// A SCIM error (RFC 7644 §3.12), always status 400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    pub scim_type: &'static str,
    pub detail: String,
}

impl PatchError {
    fn new(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self {
            scim_type,
            detail: detail.into(),
        }
    }

    /// Prefixes the detail with the index of the operation that failed.
    fn at(self, index: usize) -> Self {
        Self {
            scim_type: self.scim_type,
            detail: format!("Operations[{index}]: {}", self.detail),
        }
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.scim_type, self.detail)
    }
}

impl std::error::Error for PatchError {}

impl From<SchemaError> for PatchError {
    fn from(e: SchemaError) -> Self {
        Self {
            scim_type: e.scim_type,
            detail: e.detail,
        }
    }
}

type Res<T> = Result<T, PatchError>;

/// A member of a JSON object, by exact name first and then case-insensitively.
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Parses a `PatchOp` request body (RFC 7644 §3.5.2).
pub fn parse_request(body: &Value) -> Res<Vec<PatchOp>> {
    let obj = body
        .as_object()
        .ok_or_else(|| PatchError::new(INVALID_SYNTAX, "the request body must be a JSON object"))?;
    let is_patch = match get_ci(obj, "schemas") {
        Some(Value::Array(schemas)) => schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP))),
        _ => false,
    };
    if !is_patch {
        return Err(PatchError::new(
            INVALID_SYNTAX,
            format!("\"schemas\" must be an array containing \"{PATCH_OP}\""),
        ));
    }
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        Some(Value::Array(_)) => {
            return Err(PatchError::new(INVALID_SYNTAX, "\"Operations\" is empty"));
        }
        Some(_) => {
            return Err(PatchError::new(
                INVALID_SYNTAX,
                "\"Operations\" must be an array",
            ));
        }
        None => {
            return Err(PatchError::new(INVALID_SYNTAX, "\"Operations\" is missing"));
        }
    };
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_op(op).map_err(|e| e.at(i)))
        .collect()
}

fn parse_op(op: &Value) -> Res<PatchOp> {
    let obj = op
        .as_object()
        .ok_or_else(|| PatchError::new(INVALID_SYNTAX, "an operation must be a JSON object"))?;
    let kind = match get_ci(obj, "op") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(Value::String(s)) => {
            return Err(PatchError::new(
                INVALID_SYNTAX,
                format!("unknown op \"{s}\" (expected add, remove or replace)"),
            ));
        }
        Some(_) => return Err(PatchError::new(INVALID_SYNTAX, "\"op\" must be a string")),
        None => return Err(PatchError::new(INVALID_SYNTAX, "\"op\" is missing")),
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(filter::parse_path(s).map_err(|e| {
            PatchError::new(INVALID_PATH, format!("invalid path \"{s}\": {}", e.0))
        })?),
        Some(_) => return Err(PatchError::new(INVALID_PATH, "\"path\" must be a string")),
    };
    let value = get_ci(obj, "value").cloned();
    match kind {
        OpKind::Add | OpKind::Replace if value.is_none() => Err(missing_value(kind)),
        OpKind::Remove if path.is_none() => Err(no_path_remove()),
        _ => Ok(PatchOp {
            op: kind,
            path,
            value,
        }),
    }
}

fn missing_value(kind: OpKind) -> PatchError {
    PatchError::new(
        INVALID_SYNTAX,
        format!("\"value\" is required for {}", kind.name()),
    )
}

fn no_path_remove() -> PatchError {
    PatchError::new(NO_TARGET, "remove requires a \"path\"")
}

fn not_an_object(attr: &Attribute) -> PatchError {
    PatchError::new(
        INVALID_VALUE,
        format!("\"{}\" takes an object of sub-attributes", attr.name),
    )
}

/// Applies `ops` in order to the canonical resource document `doc`. On error `doc` is left
/// partly modified: the caller passes a clone and drops it.
pub fn apply(rt: &ResourceType, doc: &mut Map<String, Value>, ops: &[PatchOp]) -> Res<()> {
    let before = doc.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_op(rt, doc, op).map_err(|e| e.at(i))?;
        clean_map(doc);
    }
    check_required(rt, &before, doc)
}

/// What part of an attribute a path selects.
enum Sel<'a> {
    /// The attribute itself.
    Whole,
    /// `attr.sub`: the sub-attribute of a single-valued complex attribute, or of every element
    /// of a multi-valued one.
    Sub(&'a Attribute),
    /// `attr[filter]` or `attr[filter].sub`; the filter's paths are canonical sub-attribute
    /// names.
    Filter {
        filter: Filter,
        sub: Option<&'a Attribute>,
    },
}

fn apply_op(rt: &ResourceType, doc: &mut Map<String, Value>, op: &PatchOp) -> Res<()> {
    let Some(path) = &op.path else {
        return match (op.op, &op.value) {
            (OpKind::Remove, _) => Err(no_path_remove()),
            (kind, None) => Err(missing_value(kind)),
            (kind, Some(value)) => apply_value_object(rt, doc, kind, value),
        };
    };
    if op.op != OpKind::Remove && op.value.is_none() {
        return Err(missing_value(op.op));
    }
    let value = op.value.as_ref();
    match rt.resolve(&path.attr) {
        None => Err(PatchError::new(
            INVALID_PATH,
            format!("\"{}\" is not an attribute of {}", describe(path), rt.name),
        )),
        Some(Target::Extension(ext)) => {
            if path.filter.is_some() || path.sub.is_some() {
                return Err(PatchError::new(
                    INVALID_PATH,
                    format!("\"{}\" is a schema, not a multi-valued attribute", ext.id),
                ));
            }
            apply_extension(rt, doc, ext, op.op, value)
        }
        Some(Target::Attr { schema, attr, sub }) => {
            let sel = selector(attr, sub, path)?;
            let read_only = |a: &Attribute| a.mutability == Mutability::ReadOnly;
            let sel_sub = match &sel {
                Sel::Whole => None,
                Sel::Sub(s) | Sel::Filter { sub: Some(s), .. } => Some(*s),
                Sel::Filter { sub: None, .. } => None,
            };
            if read_only(attr) || sel_sub.is_some_and(read_only) {
                return Err(PatchError::new(
                    MUTABILITY,
                    format!("\"{}\" is readOnly", describe(path)),
                ));
            }
            apply_attr(rt, doc, schema, attr, sel, op.op, value)
        }
    }
}

fn selector<'a>(attr: &'a Attribute, sub: Option<&'a Attribute>, path: &PatchPath) -> Res<Sel<'a>> {
    let bad = |why: String| PatchError::new(INVALID_PATH, format!("\"{}\": {why}", describe(path)));
    match (&path.filter, sub) {
        (None, _) if path.sub.is_some() => {
            Err(bad("a sub-attribute after a filter needs a filter".into()))
        }
        (None, None) => Ok(Sel::Whole),
        (None, Some(sub)) => Ok(Sel::Sub(sub)),
        (Some(_), Some(_)) => Err(bad(
            "a value filter must follow a multi-valued attribute, not a sub-attribute".into(),
        )),
        (Some(f), None) => {
            if !attr.multi_valued {
                return Err(bad(format!(
                    "\"{}\" is not multi-valued and cannot take a value filter",
                    attr.name
                )));
            }
            let filter = canonical_filter(attr, f).map_err(bad)?;
            let sub = match &path.sub {
                Some(name) => Some(find_sub(attr, name).ok_or_else(|| {
                    bad(format!("\"{}\" has no sub-attribute \"{name}\"", attr.name))
                })?),
                None => None,
            };
            Ok(Sel::Filter { filter, sub })
        }
    }
}

/// The filter with its attribute paths checked against `attr`'s sub-attributes and rewritten
/// to their canonical names.
fn canonical_filter(attr: &Attribute, f: &Filter) -> Result<Filter, String> {
    let path = |p: &AttrPath| -> Result<AttrPath, String> {
        if p.schema.is_some() || p.sub.is_some() {
            return Err(format!(
                "a value filter on \"{}\" compares its sub-attributes by plain name",
                attr.name
            ));
        }
        let name = if attr.ty == Type::Complex {
            find_sub(attr, &p.attr).map(|s| s.name.clone())
        } else {
            p.attr
                .eq_ignore_ascii_case("value")
                .then(|| "value".to_string())
        };
        match name {
            Some(name) => Ok(AttrPath {
                schema: None,
                attr: name,
                sub: None,
            }),
            None => Err(format!(
                "\"{}\" has no sub-attribute \"{}\"",
                attr.name, p.attr
            )),
        }
    };
    Ok(match f {
        Filter::And(a, b) => Filter::And(
            Box::new(canonical_filter(attr, a)?),
            Box::new(canonical_filter(attr, b)?),
        ),
        Filter::Or(a, b) => Filter::Or(
            Box::new(canonical_filter(attr, a)?),
            Box::new(canonical_filter(attr, b)?),
        ),
        Filter::Not(a) => Filter::Not(Box::new(canonical_filter(attr, a)?)),
        Filter::Compare { path: p, op, value } => Filter::Compare {
            path: path(p)?,
            op: *op,
            value: value.clone(),
        },
        Filter::Present(p) => Filter::Present(path(p)?),
        Filter::ValuePath { .. } => return Err("value filters cannot be nested".into()),
    })
}

fn describe(path: &PatchPath) -> String {
    let mut s = String::new();
    if let Some(urn) = &path.attr.schema {
        s.push_str(urn);
        s.push(':');
    }
    s.push_str(&path.attr.attr);
    if let Some(sub) = &path.attr.sub {
        s.push('.');
        s.push_str(sub);
    }
    if path.filter.is_some() {
        s.push_str("[…]");
    }
    if let Some(sub) = &path.sub {
        s.push('.');
        s.push_str(sub);
    }
    s
}

fn find_sub<'a>(attr: &'a Attribute, name: &str) -> Option<&'a Attribute> {
    attr.sub_attributes
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

fn find_attr<'a>(schema: &'a Schema, name: &str) -> Option<&'a Attribute> {
    schema
        .attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests;
