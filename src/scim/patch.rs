//! SCIM PATCH (RFC 7644 §3.5.2): [`parse_request`] reads a `PatchOp` request body and [`apply`]
//! applies its operations, in order, to a canonical resource document.
//!
//! The document is the resource as stored: core attributes (and `externalId`) at the top level,
//! each extension's attributes in an object under the extension URN, canonical attribute names,
//! no `id`, `meta` or `schemas`, and no unassigned values (null, `""`, `[]`, `{}`). [`apply`]
//! keeps it that way: every value is checked and canonicalised with
//! [`schema::normalize_value`], and unassigned values are removed after each operation.
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

use std::fmt;

use serde_json::{Map, Value};

use super::PATCH_OP;
use super::filter::{self, AttrPath, CompareOp, Filter, Literal, PatchPath};
use super::schema::{self, Attribute, Mutability, ResourceType, Schema, SchemaError, Target, Type};

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

/// `add` or `replace` without a path: `value` is an object of attributes, each applied as if
/// it were the path. Unknown and readOnly attributes are ignored.
fn apply_value_object(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    value: &Value,
) -> Res<()> {
    let Value::Object(obj) = value else {
        return Err(PatchError::new(
            INVALID_VALUE,
            format!(
                "{} without a \"path\" needs an object of attributes as its \"value\"",
                kind.name()
            ),
        ));
    };
    for (key, v) in obj {
        if key.eq_ignore_ascii_case(&rt.core.id) {
            // The core attributes nested under the core schema URN, like an extension.
            if let Value::Object(inner) = v {
                for (k, v) in inner {
                    let path = AttrPath {
                        schema: None,
                        attr: k.clone(),
                        sub: None,
                    };
                    if let Some(Target::Attr { schema, attr, sub }) = rt.resolve(&path) {
                        apply_listed(rt, doc, schema, attr, sub, kind, v)?;
                    }
                }
            }
            continue;
        }
        if let Some(ext) = rt
            .extensions
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(key))
        {
            apply_extension(rt, doc, ext, kind, Some(v))?;
            continue;
        }
        let Ok(path) = filter::parse_path(key) else {
            continue;
        };
        if path.filter.is_some() || path.sub.is_some() {
            continue;
        }
        match rt.resolve(&path.attr) {
            Some(Target::Extension(ext)) => apply_extension(rt, doc, ext, kind, Some(v))?,
            Some(Target::Attr { schema, attr, sub }) => {
                apply_listed(rt, doc, schema, attr, sub, kind, v)?;
            }
            None => {}
        }
    }
    Ok(())
}

/// One attribute of a path-less value object: skipped if readOnly.
fn apply_listed(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    schema: &Schema,
    attr: &Attribute,
    sub: Option<&Attribute>,
    kind: OpKind,
    value: &Value,
) -> Res<()> {
    let read_only = |a: &Attribute| a.mutability == Mutability::ReadOnly;
    if read_only(attr) || sub.is_some_and(read_only) {
        return Ok(());
    }
    let sel = sub.map_or(Sel::Whole, Sel::Sub);
    apply_attr(rt, doc, schema, attr, sel, kind, Some(value))
}

/// A path naming an extension schema: `add`/`replace` merge the object of its attributes
/// (unknown and readOnly ones ignored), `remove` drops the whole extension.
fn apply_extension(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    ext: &Schema,
    kind: OpKind,
    value: Option<&Value>,
) -> Res<()> {
    match (kind, value) {
        (OpKind::Remove, _) | (OpKind::Replace, Some(Value::Null)) => {
            doc.remove(&ext.id);
            Ok(())
        }
        (OpKind::Add, Some(Value::Null)) => Ok(()),
        (_, Some(Value::Object(obj))) => {
            for (k, v) in obj {
                if let Some(attr) = find_attr(ext, k) {
                    apply_listed(rt, doc, ext, attr, None, kind, v)?;
                }
            }
            Ok(())
        }
        (_, Some(_)) => Err(PatchError::new(
            INVALID_VALUE,
            format!(
                "the value for \"{}\" must be an object of its attributes",
                ext.id
            ),
        )),
        (_, None) => Err(missing_value(kind)),
    }
}

/// Applies an operation to one attribute, in the top-level document for the core schema (and
/// the common attributes) or in the extension's object.
fn apply_attr(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    schema: &Schema,
    attr: &Attribute,
    sel: Sel<'_>,
    kind: OpKind,
    value: Option<&Value>,
) -> Res<()> {
    if schema.id == rt.core.id {
        return apply_in(doc, attr, sel, kind, value);
    }
    let mut ext = match doc.remove(&schema.id) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let result = apply_in(&mut ext, attr, sel, kind, value);
    if !ext.is_empty() {
        doc.insert(schema.id.clone(), Value::Object(ext));
    }
    result
}

fn apply_in(
    map: &mut Map<String, Value>,
    attr: &Attribute,
    sel: Sel<'_>,
    kind: OpKind,
    value: Option<&Value>,
) -> Res<()> {
    let key = attr.name.as_str();
    let old = map.get(key).cloned();
    let slot = map.entry(key).or_insert(Value::Null);
    match sel {
        Sel::Whole => whole(slot, attr, kind, value)?,
        Sel::Sub(sub) if attr.multi_valued => elements(slot, attr, None, Some(sub), kind, value)?,
        Sel::Sub(sub) => {
            let mut obj = take_object(slot);
            let result = on_sub(&mut obj, attr, sub, kind, value);
            *slot = Value::Object(obj);
            result?;
        }
        Sel::Filter { filter, sub } => elements(slot, attr, Some(&filter), sub, kind, value)?,
    }
    clean(slot);
    if is_unassigned(slot) {
        map.remove(key);
    }
    if attr.mutability == Mutability::Immutable
        && let Some(old) = &old
        && map.get(key) != Some(old)
    {
        return Err(PatchError::new(
            MUTABILITY,
            format!("\"{key}\" is immutable and already has a value"),
        ));
    }
    Ok(())
}

/// An operation on a whole attribute.
fn whole(slot: &mut Value, attr: &Attribute, kind: OpKind, value: Option<&Value>) -> Res<()> {
    match (kind, value) {
        (OpKind::Remove, Some(v)) if attr.multi_valued && !v.is_null() => {
            // Entra ID: remove the listed values.
            let gone = into_vec(norm(attr, v)?);
            let mut items = take_array(slot);
            items.retain(|e| !gone.iter().any(|g| same_value(attr, e, g)));
            *slot = Value::Array(items);
            Ok(())
        }
        (OpKind::Remove, _) => {
            *slot = Value::Null;
            Ok(())
        }
        (_, None) => Err(missing_value(kind)),
        (_, Some(v)) if is_unassigned(v) => {
            // null, "", [] or {}: replace unassigns, add adds nothing.
            if kind == OpKind::Replace {
                *slot = Value::Null;
            }
            Ok(())
        }
        (_, Some(v)) => {
            let new = norm(attr, v)?;
            if attr.multi_valued {
                let mut items = if kind == OpKind::Replace {
                    Vec::new()
                } else {
                    take_array(slot)
                };
                let result = append(attr, &mut items, into_vec(new))
                    .and_then(|touched| fix_primary(attr, &mut items, &touched));
                *slot = Value::Array(items);
                result
            } else if attr.ty == Type::Complex {
                let new = match new {
                    Value::Object(new) => new,
                    // Nothing assigned (sub-attributes may still be cleared below).
                    Value::Null => Map::new(),
                    _ => return Err(not_an_object(attr)),
                };
                let mut obj = take_object(slot);
                let result =
                    merge(&mut obj, attr, new).and_then(|()| clear_unassigned(&mut obj, attr, v));
                *slot = Value::Object(obj);
                result
            } else {
                *slot = new;
                Ok(())
            }
        }
    }
}

/// An operation on the elements of a multi-valued attribute that match `filter` (all of them
/// without one), or on their sub-attribute `sub`.
fn elements(
    slot: &mut Value,
    attr: &Attribute,
    filter: Option<&Filter>,
    sub: Option<&Attribute>,
    kind: OpKind,
    value: Option<&Value>,
) -> Res<()> {
    let mut items = take_array(slot);
    let result = elements_in(&mut items, attr, filter, sub, kind, value);
    *slot = Value::Array(items);
    result
}

fn elements_in(
    items: &mut Vec<Value>,
    attr: &Attribute,
    filter: Option<&Filter>,
    sub: Option<&Attribute>,
    kind: OpKind,
    value: Option<&Value>,
) -> Res<()> {
    let matched: Vec<usize> = match filter {
        Some(f) => items
            .iter()
            .enumerate()
            .filter(|(_, e)| element_matches(attr, f, e))
            .map(|(i, _)| i)
            .collect(),
        None => (0..items.len()).collect(),
    };
    let value = value.filter(|v| !is_unassigned(v));
    if matched.is_empty() {
        let no_target = || {
            PatchError::new(
                NO_TARGET,
                format!("no value of \"{}\" matches the filter", attr.name),
            )
        };
        let Some(f) = filter else {
            // `attr.sub` on an empty attribute: add/replace create the element.
            return match (kind, value, sub) {
                (OpKind::Add | OpKind::Replace, Some(v), Some(sub)) => {
                    create(items, attr, Map::new(), Some(sub), v)
                }
                _ => Ok(()),
            };
        };
        return match (kind, value) {
            (OpKind::Remove, _) => Err(no_target()),
            (_, None) => Ok(()),
            (_, Some(v)) if kind == OpKind::Add || sub.is_some() => {
                let mut fields = Map::new();
                if eq_fields(f, &mut fields) {
                    create(items, attr, fields, sub, v)
                } else {
                    Err(no_target())
                }
            }
            _ => Err(no_target()),
        };
    }
    match (kind, sub, value) {
        (OpKind::Remove, None, _) | (OpKind::Replace, None, None) => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !matched.contains(&i);
                i += 1;
                keep
            });
            Ok(())
        }
        (OpKind::Add, None, None) => Ok(()),
        (OpKind::Remove, Some(sub), _) | (_, Some(sub), None) => {
            for &i in &matched {
                if let Some(Value::Object(obj)) = items.get_mut(i) {
                    remove_sub(obj, attr, sub)?;
                }
            }
            Ok(())
        }
        (_, Some(sub), Some(v)) => {
            let new = norm_sub(attr, sub, v)?;
            for &i in &matched {
                if let Some(Value::Object(obj)) = items.get_mut(i) {
                    if sub.multi_valued && kind == OpKind::Add {
                        append_sub(obj, sub, new.clone());
                    } else {
                        set_sub(obj, attr, sub, new.clone())?;
                    }
                }
            }
            fix_primary(attr, items, &matched)
        }
        (_, None, Some(v)) => {
            let new = single_element(attr, v)?;
            for &i in &matched {
                let Some(item) = items.get_mut(i) else {
                    continue;
                };
                match (kind, &mut *item, &new) {
                    (OpKind::Add, Value::Object(obj), Value::Object(new)) => {
                        merge(obj, attr, new.clone())?;
                    }
                    _ => *item = new.clone(),
                }
            }
            fix_primary(attr, items, &matched)
        }
    }
}

/// Appends a new element built from the `eq` filter's fields and the value (of `sub`, or the
/// element's when `sub` is `None`).
fn create(
    items: &mut Vec<Value>,
    attr: &Attribute,
    fields: Map<String, Value>,
    sub: Option<&Attribute>,
    value: &Value,
) -> Res<()> {
    let element = if attr.ty != Type::Complex {
        single_element(attr, value)?
    } else {
        let mut element = match single_element(attr, &Value::Object(fields))? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        match sub {
            Some(sub) => {
                element.insert(sub.name.clone(), norm_sub(attr, sub, value)?);
            }
            None => match single_element(attr, value)? {
                Value::Object(m) => element.extend(m),
                _ => return Err(not_an_object(attr)),
            },
        }
        Value::Object(element)
    };
    if is_unassigned(&element) {
        return Ok(());
    }
    items.push(element);
    let added = items.len() - 1;
    fix_primary(attr, items, &[added])
}

/// The sub-attribute values a filter of `eq` comparisons joined by `and` pins down, or `false`
/// if the filter has any other form.
fn eq_fields(filter: &Filter, out: &mut Map<String, Value>) -> bool {
    match filter {
        Filter::And(a, b) => eq_fields(a, out) && eq_fields(b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            let v = match value {
                Literal::String(s) => Value::String(s.clone()),
                Literal::Number(n) => Value::Number(n.clone()),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Null => return false,
            };
            match out.get(&path.attr) {
                Some(existing) => *existing == v,
                None => {
                    out.insert(path.attr.clone(), v);
                    true
                }
            }
        }
        _ => false,
    }
}

fn element_matches(attr: &Attribute, filter: &Filter, element: &Value) -> bool {
    let case_exact = |p: &AttrPath| {
        if attr.ty == Type::Complex {
            find_sub(attr, &p.attr).is_some_and(|s| s.case_exact)
        } else {
            attr.case_exact
        }
    };
    if attr.ty == Type::Complex {
        filter::matches(filter, element, &case_exact)
    } else {
        // A simple multi-valued attribute's elements are filtered as `value`.
        let mut wrapped = Map::new();
        wrapped.insert("value".into(), element.clone());
        filter::matches(filter, &Value::Object(wrapped), &case_exact)
    }
}

/// An operation on a sub-attribute of a single-valued complex attribute.
fn on_sub(
    obj: &mut Map<String, Value>,
    attr: &Attribute,
    sub: &Attribute,
    kind: OpKind,
    value: Option<&Value>,
) -> Res<()> {
    match (kind, value.filter(|v| !is_unassigned(v))) {
        (OpKind::Remove, _) | (OpKind::Replace, None) => remove_sub(obj, attr, sub),
        (OpKind::Add, None) => Ok(()),
        (_, Some(v)) => {
            let new = norm_sub(attr, sub, v)?;
            if sub.multi_valued && kind == OpKind::Add {
                append_sub(obj, sub, new);
                Ok(())
            } else {
                set_sub(obj, attr, sub, new)
            }
        }
    }
}

fn remove_sub(obj: &mut Map<String, Value>, attr: &Attribute, sub: &Attribute) -> Res<()> {
    if sub.mutability == Mutability::Immutable
        && obj.get(&sub.name).is_some_and(|v| !is_unassigned(v))
    {
        return Err(immutable_sub(attr, sub));
    }
    if obj.remove(&sub.name).is_some() && sub.name == "value" {
        drop_derived(obj, attr);
    }
    Ok(())
}

/// Sets a sub-attribute. Changing an existing `value` (what a reference points to) also drops
/// the readOnly sub-attributes derived from it, such as `manager.displayName`.
fn set_sub(obj: &mut Map<String, Value>, attr: &Attribute, sub: &Attribute, new: Value) -> Res<()> {
    if let Some(old) = obj.get(&sub.name)
        && !is_unassigned(old)
        && *old != new
    {
        if sub.mutability == Mutability::Immutable {
            return Err(immutable_sub(attr, sub));
        }
        if sub.name == "value" {
            drop_derived(obj, attr);
        }
    }
    obj.insert(sub.name.clone(), new);
    Ok(())
}

/// `add` to a multi-valued sub-attribute.
fn append_sub(obj: &mut Map<String, Value>, sub: &Attribute, new: Value) {
    let mut items = match obj.remove(&sub.name) {
        Some(Value::Array(a)) => a,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    };
    for v in into_vec(new) {
        if !items.contains(&v) {
            items.push(v);
        }
    }
    obj.insert(sub.name.clone(), Value::Array(items));
}

fn immutable_sub(attr: &Attribute, sub: &Attribute) -> PatchError {
    PatchError::new(
        MUTABILITY,
        format!(
            "\"{}.{}\" is immutable and already has a value",
            attr.name, sub.name
        ),
    )
}

fn not_an_object(attr: &Attribute) -> PatchError {
    PatchError::new(
        INVALID_VALUE,
        format!("\"{}\" takes an object of sub-attributes", attr.name),
    )
}

/// Merges canonical sub-attributes into a complex value.
fn merge(obj: &mut Map<String, Value>, attr: &Attribute, new: Map<String, Value>) -> Res<()> {
    for (k, v) in new {
        match find_sub(attr, &k) {
            Some(sub) => set_sub(obj, attr, sub, v)?,
            None => {
                obj.insert(k, v);
            }
        }
    }
    Ok(())
}

/// The sub-attributes given as null or `""` in the client's value for a complex attribute are
/// unassigned (normalisation drops them, so they are read from the raw value): `{"value": ""}`
/// clears a manager.
fn clear_unassigned(obj: &mut Map<String, Value>, attr: &Attribute, raw: &Value) -> Res<()> {
    let Value::Object(raw) = raw else {
        return Ok(());
    };
    for (k, v) in raw {
        let Some(sub) = find_sub(attr, k) else {
            continue;
        };
        if is_unassigned(v) && sub.mutability != Mutability::ReadOnly {
            remove_sub(obj, attr, sub)?;
        }
    }
    Ok(())
}

/// Drops the readOnly sub-attributes derived from `value` (such as `manager.displayName`).
fn drop_derived(obj: &mut Map<String, Value>, attr: &Attribute) {
    obj.retain(|k, _| {
        !attr
            .sub_attributes
            .iter()
            .any(|s| s.mutability == Mutability::ReadOnly && s.name == *k)
    });
}

/// Adds values to a multi-valued attribute. A value already present (see [`same_value`]) is
/// merged into the existing element rather than appended. Returns the indices of the elements
/// added or changed.
fn append(attr: &Attribute, items: &mut Vec<Value>, new: Vec<Value>) -> Res<Vec<usize>> {
    let mut touched = Vec::new();
    for v in new {
        if is_unassigned(&v) {
            continue;
        }
        match items.iter().position(|e| same_value(attr, e, &v)) {
            Some(i) => {
                if let (Some(Value::Object(existing)), Value::Object(v)) = (items.get_mut(i), v) {
                    merge(existing, attr, v)?;
                }
                touched.push(i);
            }
            None => {
                items.push(v);
                touched.push(items.len() - 1);
            }
        }
    }
    touched.sort_unstable();
    touched.dedup();
    Ok(touched)
}

/// Whether `new` denotes the same value of a multi-valued attribute as `existing`: equal
/// (honouring caseExact) for simple attributes; for complex ones with a `value`
/// sub-attribute, the same `value` and no different `type`; otherwise `new`'s sub-attributes
/// all equal in `existing`.
fn same_value(attr: &Attribute, existing: &Value, new: &Value) -> bool {
    if attr.ty != Type::Complex {
        return scalar_eq(attr.case_exact, existing, new);
    }
    let (Value::Object(e), Value::Object(n)) = (existing, new) else {
        return existing == new;
    };
    if let Some(value_sub) = find_sub(attr, "value")
        && let (Some(a), Some(b)) = (e.get(&value_sub.name), n.get(&value_sub.name))
    {
        if !scalar_eq(value_sub.case_exact, a, b) {
            return false;
        }
        return match (find_sub(attr, "type"), e.get("type"), n.get("type")) {
            (Some(t), Some(a), Some(b)) => scalar_eq(t.case_exact, a, b),
            _ => true,
        };
    }
    !n.is_empty() && n.iter().all(|(k, v)| e.get(k) == Some(v))
}

fn scalar_eq(case_exact: bool, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) if !case_exact => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

/// At most one element of a multi-valued attribute may have `primary: true` (RFC 7643
/// §2.4): when one of the `touched` elements does, the others lose it; more than one touched
/// element with it is an error.
fn fix_primary(attr: &Attribute, items: &mut [Value], touched: &[usize]) -> Res<()> {
    let Some(primary) = attr
        .sub_attributes
        .iter()
        .find(|s| s.name == "primary" && s.ty == Type::Boolean)
    else {
        return Ok(());
    };
    let key = primary.name.as_str();
    let is_primary = |e: &Value| e.get(key) == Some(&Value::Bool(true));
    let mut new: Vec<usize> = touched
        .iter()
        .copied()
        .filter(|&i| items.get(i).is_some_and(is_primary))
        .collect();
    new.dedup();
    match new.as_slice() {
        [] => Ok(()),
        [keep] => {
            for (i, e) in items.iter_mut().enumerate() {
                if i != *keep
                    && is_primary(e)
                    && let Value::Object(obj) = e
                {
                    obj.remove(key);
                }
            }
            Ok(())
        }
        _ => Err(PatchError::new(
            INVALID_VALUE,
            format!("at most one value of \"{}\" may be primary", attr.name),
        )),
    }
}

/// The value as exactly one element of the multi-valued `attr`.
fn single_element(attr: &Attribute, value: &Value) -> Res<Value> {
    let mut items = into_vec(norm(attr, value)?).into_iter();
    match (items.next(), items.next()) {
        (Some(e), None) => Ok(e),
        _ => Err(PatchError::new(
            INVALID_VALUE,
            format!(
                "a filtered path on \"{}\" takes exactly one value",
                attr.name
            ),
        )),
    }
}

/// Coerces what clients send (see the module docs), normalises with the schema and drops
/// readOnly sub-attributes.
fn norm(attr: &Attribute, value: &Value) -> Res<Value> {
    let coerced = coerce(attr, value);
    let mut normal = schema::normalize_value(attr, &coerced)?;
    if attr.ty == Type::Complex {
        let read_only: Vec<&str> = attr
            .sub_attributes
            .iter()
            .filter(|s| s.mutability == Mutability::ReadOnly)
            .map(|s| s.name.as_str())
            .collect();
        if !read_only.is_empty() {
            let strip = |v: &mut Value| {
                if let Value::Object(obj) = v {
                    obj.retain(|k, _| !read_only.contains(&k.as_str()));
                }
            };
            match &mut normal {
                Value::Array(items) => items.iter_mut().for_each(strip),
                other => strip(other),
            }
        }
    }
    Ok(normal)
}

/// A value for the sub-attribute `sub` of `attr`, normalised in its parent's context (Group
/// `members.type` is checked against its canonical values only there).
fn norm_sub(attr: &Attribute, sub: &Attribute, value: &Value) -> Res<Value> {
    let mut obj = Map::new();
    obj.insert(sub.name.clone(), value.clone());
    let wrapped = Value::Object(obj);
    let normal = if attr.multi_valued {
        single_element(attr, &wrapped)?
    } else {
        norm(attr, &wrapped)?
    };
    Ok(normal.get(&sub.name).cloned().unwrap_or(Value::Null))
}

fn coerce(attr: &Attribute, value: &Value) -> Value {
    match value {
        Value::Array(items) if attr.multi_valued => {
            Value::Array(items.iter().map(|v| coerce_one(attr, v)).collect())
        }
        other => coerce_one(attr, other),
    }
}

fn coerce_one(attr: &Attribute, value: &Value) -> Value {
    match (attr.ty, value) {
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        (Type::Complex, Value::String(s)) => match find_sub(attr, "value") {
            Some(sub) => {
                let mut obj = Map::new();
                obj.insert(sub.name.clone(), Value::String(s.clone()));
                Value::Object(obj)
            }
            None => value.clone(),
        },
        (Type::Complex, Value::Object(obj)) => Value::Object(
            obj.iter()
                .map(|(k, v)| {
                    let v = match find_sub(attr, k) {
                        Some(sub) => coerce(sub, v),
                        None => v.clone(),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        _ => value.clone(),
    }
}

fn into_vec(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

fn take_array(slot: &mut Value) -> Vec<Value> {
    into_vec(std::mem::take(slot))
}

fn take_object(slot: &mut Value) -> Map<String, Value> {
    match std::mem::take(slot) {
        Value::Object(obj) => obj,
        _ => Map::new(),
    }
}

/// null, `""`, `[]` and `{}`: an unassigned attribute (RFC 7643 §2.5).
fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn clean(v: &mut Value) {
    match v {
        Value::Object(obj) => clean_map(obj),
        Value::Array(items) => {
            items.iter_mut().for_each(clean);
            items.retain(|e| !is_unassigned(e));
        }
        _ => {}
    }
}

fn clean_map(obj: &mut Map<String, Value>) {
    obj.values_mut().for_each(clean);
    obj.retain(|_, v| !is_unassigned(v));
}

/// A required attribute that had a value must still have one, and a complex attribute that
/// changed must have its required sub-attributes.
fn check_required(
    rt: &ResourceType,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> Res<()> {
    check_attrs(&rt.core.attributes, Some(before), after)?;
    for ext in &rt.extensions {
        let Some(Value::Object(ext_after)) = after.get(&ext.id) else {
            continue;
        };
        let ext_before = before.get(&ext.id).and_then(Value::as_object);
        check_attrs(&ext.attributes, ext_before, ext_after)?;
    }
    Ok(())
}

fn check_attrs(
    attrs: &[Attribute],
    before: Option<&Map<String, Value>>,
    after: &Map<String, Value>,
) -> Res<()> {
    for attr in attrs {
        let old = before.and_then(|m| m.get(&attr.name));
        let new = after.get(&attr.name);
        if attr.required && old.is_some() && new.is_none() {
            return Err(PatchError::new(
                INVALID_VALUE,
                format!("\"{}\" is required and cannot be removed", attr.name),
            ));
        }
        let Some(new) = new else { continue };
        if attr.ty != Type::Complex || old == Some(new) {
            continue;
        }
        let values: Vec<&Value> = match new {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for sub in attr.sub_attributes.iter().filter(|s| s.required) {
            if values.iter().any(|v| v.get(&sub.name).is_none()) {
                return Err(PatchError::new(
                    INVALID_VALUE,
                    format!("\"{}.{}\" is required", attr.name, sub.name),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::schema::{ENTERPRISE_USER, GROUP, Returned, USER, Uniqueness};

    fn attr(name: &str, ty: Type) -> Attribute {
        Attribute {
            name: name.into(),
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: vec![],
            sub_attributes: vec![],
        }
    }

    fn string(name: &str) -> Attribute {
        attr(name, Type::String)
    }

    fn complex(name: &str, subs: Vec<Attribute>) -> Attribute {
        Attribute {
            sub_attributes: subs,
            ..attr(name, Type::Complex)
        }
    }

    fn multi(a: Attribute) -> Attribute {
        Attribute {
            multi_valued: true,
            ..a
        }
    }

    fn with(mutability: Mutability, a: Attribute) -> Attribute {
        Attribute { mutability, ..a }
    }

    fn required(a: Attribute) -> Attribute {
        Attribute {
            required: true,
            ..a
        }
    }

    fn case_exact(a: Attribute) -> Attribute {
        Attribute {
            case_exact: true,
            ..a
        }
    }

    fn schema(id: &str, name: &str, attributes: Vec<Attribute>) -> Schema {
        Schema {
            id: id.into(),
            name: name.into(),
            attributes,
        }
    }

    fn user() -> ResourceType {
        ResourceType {
            name: "User",
            endpoint: "/Users",
            core: schema(
                USER,
                "User",
                vec![
                    required(string("userName")),
                    complex(
                        "name",
                        vec![
                            string("formatted"),
                            string("familyName"),
                            string("givenName"),
                        ],
                    ),
                    string("displayName"),
                    attr("active", Type::Boolean),
                    multi(complex(
                        "emails",
                        vec![
                            string("value"),
                            string("type"),
                            attr("primary", Type::Boolean),
                        ],
                    )),
                    with(Mutability::WriteOnly, case_exact(string("password"))),
                    with(
                        Mutability::ReadOnly,
                        multi(complex(
                            "groups",
                            vec![
                                with(Mutability::ReadOnly, string("value")),
                                with(Mutability::ReadOnly, string("display")),
                            ],
                        )),
                    ),
                ],
            ),
            extensions: vec![schema(
                ENTERPRISE_USER,
                "EnterpriseUser",
                vec![
                    string("employeeNumber"),
                    string("department"),
                    complex(
                        "manager",
                        vec![
                            string("value"),
                            attr("$ref", Type::Reference),
                            with(Mutability::ReadOnly, string("displayName")),
                        ],
                    ),
                ],
            )],
        }
    }

    fn group() -> ResourceType {
        ResourceType {
            name: "Group",
            endpoint: "/Groups",
            core: schema(
                GROUP,
                "Group",
                vec![
                    required(string("displayName")),
                    multi(complex(
                        "members",
                        vec![
                            with(Mutability::Immutable, case_exact(string("value"))),
                            with(Mutability::Immutable, attr("$ref", Type::Reference)),
                            with(Mutability::Immutable, string("type")),
                            with(Mutability::ReadOnly, string("display")),
                        ],
                    )),
                ],
            ),
            extensions: vec![],
        }
    }

    fn barbara() -> Value {
        json!({
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "groups": [{"value": "g1", "display": "Staff"}],
            ENTERPRISE_USER: {
                "department": "Tour Operations",
                "manager": {"value": "m1", "displayName": "John Smith"}
            }
        })
    }

    fn body(ops: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": ops})
    }

    /// Parses and applies a request body to a copy of `doc`.
    fn run(rt: &ResourceType, doc: &Value, body: &Value) -> Result<Value, PatchError> {
        let ops = parse_request(body)?;
        let mut doc = doc.as_object().unwrap().clone();
        apply(rt, &mut doc, &ops)?;
        Ok(Value::Object(doc))
    }

    fn patch(rt: &ResourceType, doc: &Value, ops: Value) -> Result<Value, PatchError> {
        run(rt, doc, &body(ops))
    }

    fn ok(rt: &ResourceType, doc: &Value, ops: Value) -> Value {
        patch(rt, doc, ops).unwrap()
    }

    fn err(rt: &ResourceType, doc: &Value, ops: Value) -> PatchError {
        patch(rt, doc, ops).unwrap_err()
    }

    // ---- parse_request ----

    #[test]
    fn parses_entra_replace_active_string() {
        let ops = parse_request(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        }))
        .unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].op, OpKind::Replace);
        assert_eq!(ops[0].path.as_ref().unwrap().attr.attr, "active");
        assert_eq!(ops[0].value, Some(json!("False")));
    }

    #[test]
    fn operations_key_and_op_names_are_case_insensitive() {
        let ops = parse_request(&json!({
            "schemas": [PATCH_OP],
            "operations": [
                {"op": "ADD", "path": "displayName", "value": "x"},
                {"op": "remove", "path": "displayName"},
                {"OP": "RePlAcE", "Path": "displayName", "Value": "y"}
            ]
        }))
        .unwrap();
        let kinds: Vec<OpKind> = ops.iter().map(|o| o.op).collect();
        assert_eq!(kinds, [OpKind::Add, OpKind::Remove, OpKind::Replace]);
        assert_eq!(ops[2].value, Some(json!("y")));
    }

    #[test]
    fn rejects_missing_or_wrong_schemas() {
        let ops = json!([{"op": "add", "path": "displayName", "value": "x"}]);
        for b in [
            json!({"Operations": ops}),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": ops}),
            json!({"schemas": PATCH_OP, "Operations": ops}),
        ] {
            assert_eq!(parse_request(&b).unwrap_err().scim_type, "invalidSyntax");
        }
    }

    #[test]
    fn rejects_missing_empty_or_non_array_operations() {
        for b in [
            json!({"schemas": [PATCH_OP]}),
            json!({"schemas": [PATCH_OP], "Operations": []}),
            json!({"schemas": [PATCH_OP], "Operations": {"op": "add"}}),
            json!([]),
        ] {
            assert_eq!(parse_request(&b).unwrap_err().scim_type, "invalidSyntax");
        }
    }

    #[test]
    fn rejects_bad_op_names() {
        for op in [
            json!({"op": "merge", "path": "displayName", "value": "x"}),
            json!({"path": "displayName", "value": "x"}),
            json!({"op": 1, "path": "displayName", "value": "x"}),
            json!("add"),
        ] {
            let e = parse_request(&body(json!([op]))).unwrap_err();
            assert_eq!(e.scim_type, "invalidSyntax", "{e:?}");
        }
    }

    #[test]
    fn bad_path_syntax_is_invalid_path() {
        for path in [
            json!("emails[type eq \"work\""),
            json!("na me"),
            json!(""),
            json!(3),
        ] {
            let e = parse_request(&body(
                json!([{"op": "replace", "path": path, "value": "x"}]),
            ))
            .unwrap_err();
            assert_eq!(e.scim_type, "invalidPath", "{e:?}");
        }
    }

    #[test]
    fn add_and_replace_need_a_value() {
        for op in ["add", "replace"] {
            let e = parse_request(&body(json!([{"op": op, "path": "displayName"}]))).unwrap_err();
            assert_eq!(e.scim_type, "invalidSyntax");
            assert!(e.detail.contains("value"), "{e:?}");
        }
        // An explicit null is a value.
        let ops = parse_request(&body(
            json!([{"op": "replace", "path": "displayName", "value": null}]),
        ))
        .unwrap();
        assert_eq!(ops[0].value, Some(Value::Null));
    }

    #[test]
    fn remove_without_path_is_no_target() {
        let e = parse_request(&body(
            json!([{"op": "remove", "value": {"displayName": "x"}}]),
        ))
        .unwrap_err();
        assert_eq!(e.scim_type, "noTarget");
        // `apply` refuses it too when built by hand.
        let mut doc = barbara().as_object().unwrap().clone();
        let op = PatchOp {
            op: OpKind::Remove,
            path: None,
            value: None,
        };
        assert_eq!(
            apply(&user(), &mut doc, &[op]).unwrap_err().scim_type,
            "noTarget"
        );
    }

    #[test]
    fn errors_name_the_operation() {
        let e = parse_request(&body(json!([
            {"op": "add", "path": "displayName", "value": "x"},
            {"op": "frobnicate"}
        ])))
        .unwrap_err();
        assert!(e.detail.starts_with("Operations[1]: "), "{e:?}");
        let e = err(
            &user(),
            &barbara(),
            json!([
                {"op": "replace", "path": "displayName", "value": "x"},
                {"op": "replace", "path": "id", "value": "y"}
            ]),
        );
        assert!(e.detail.starts_with("Operations[1]: "), "{e:?}");
    }

    #[test]
    fn null_path_means_no_path() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": null, "value": {"displayName": "B"}}]),
        );
        assert_eq!(doc["displayName"], "B");
    }

    // ---- single-valued attributes ----

    #[test]
    fn entra_replace_active_false_string() {
        let doc = run(
            &user(),
            &barbara(),
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
            }),
        )
        .unwrap();
        assert_eq!(doc["active"], false);
        let doc = ok(
            &user(),
            &doc,
            json!([{"op": "Replace", "path": "active", "value": "TRUE"}]),
        );
        assert_eq!(doc["active"], true);
    }

    #[test]
    fn non_boolean_string_for_boolean_is_invalid_value() {
        for v in [json!("yes"), json!(1)] {
            let e = err(
                &user(),
                &barbara(),
                json!([{"op": "replace", "path": "active", "value": v}]),
            );
            assert_eq!(e.scim_type, "invalidValue", "{e:?}");
        }
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "userName", "value": 5}]),
        );
        assert_eq!(e.scim_type, "invalidValue");
    }

    #[test]
    fn add_and_replace_single_valued_set_the_value() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([
                {"op": "add", "path": "displayName", "value": "Barb"},
                {"op": "add", "path": "externalId", "value": "ext-1"}
            ]),
        );
        assert_eq!(doc["displayName"], "Barb");
        assert_eq!(doc["externalId"], "ext-1");
        let doc = ok(
            &user(),
            &doc,
            json!([{"op": "replace", "path": "DISPLAYNAME", "value": "B"}]),
        );
        assert_eq!(doc["displayName"], "B");
    }

    #[test]
    fn write_only_password_can_be_set() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "password", "value": "t1meMachine"}]),
        );
        assert_eq!(doc["password"], "t1meMachine");
        let doc = ok(
            &user(),
            &doc,
            json!([{"op": "add", "path": "password", "value": "other"}]),
        );
        assert_eq!(doc["password"], "other");
    }

    #[test]
    fn replace_with_empty_or_null_unassigns() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "displayName", "value": ""}]),
        );
        assert!(doc.get("displayName").is_none());
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "displayName", "value": null}]),
        );
        assert!(doc.get("displayName").is_none());
        // add null changes nothing
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "displayName", "value": null}]),
        );
        assert_eq!(doc["displayName"], "Babs");
    }

    // ---- complex attributes ----

    #[test]
    fn add_complex_merges_sub_attributes() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "name", "value": {"givenName": "Barb", "Formatted": "Ms. Barb Jensen"}}]),
        );
        assert_eq!(
            doc["name"],
            json!({"givenName": "Barb", "familyName": "Jensen", "formatted": "Ms. Barb Jensen"})
        );
    }

    #[test]
    fn replace_complex_merges_sub_attributes() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "name", "value": {"familyName": "Smith"}}]),
        );
        assert_eq!(
            doc["name"],
            json!({"givenName": "Barbara", "familyName": "Smith"})
        );
    }

    #[test]
    fn sub_attribute_paths_are_case_insensitive() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([
                {"op": "replace", "path": "name.familyName", "value": "Smith"},
                {"op": "Add", "path": "Name.GivenName", "value": "Barb"}
            ]),
        );
        assert_eq!(
            doc["name"],
            json!({"givenName": "Barb", "familyName": "Smith"})
        );
    }

    #[test]
    fn sub_attribute_on_absent_complex_creates_it() {
        let mut doc = barbara();
        doc.as_object_mut().unwrap().remove("name");
        let doc = ok(
            &user(),
            &doc,
            json!([{"op": "add", "path": "name.givenName", "value": "B"}]),
        );
        assert_eq!(doc["name"], json!({"givenName": "B"}));
    }

    #[test]
    fn removing_last_sub_attribute_removes_the_complex_attribute() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([
                {"op": "remove", "path": "name.givenName"},
                {"op": "replace", "path": "name.familyName", "value": ""}
            ]),
        );
        assert!(doc.get("name").is_none(), "{doc}");
    }

    #[test]
    fn complex_value_must_be_an_object() {
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "name", "value": "Barbara Jensen"}]),
        );
        assert_eq!(e.scim_type, "invalidValue");
    }

    // ---- multi-valued attributes ----

    #[test]
    fn add_multi_valued_appends() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "b@other.org", "type": "other"}]}]),
        );
        assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
        assert_eq!(
            doc["emails"][2],
            json!({"value": "b@other.org", "type": "other"})
        );
        // A single object is one value.
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "emails", "value": {"value": "c@other.org"}}]),
        );
        assert_eq!(doc["emails"][2], json!({"value": "c@other.org"}));
    }

    #[test]
    fn add_existing_value_does_not_duplicate() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "emails", "value": [
                {"value": "BJENSEN@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org"}
            ]}]),
        );
        // The same address (emails are not caseExact) and type: merged, not appended.
        assert_eq!(
            doc["emails"],
            json!([
                {"value": "BJENSEN@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ])
        );
        // Same address, different type: a different value.
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "other"}]}]),
        );
        assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn replace_multi_valued_replaces_the_array() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails", "value": [{"value": "new@example.com", "type": "work"}]}]),
        );
        assert_eq!(
            doc["emails"],
            json!([{"value": "new@example.com", "type": "work"}])
        );
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails", "value": []}]),
        );
        assert!(doc.get("emails").is_none());
    }

    #[test]
    fn entra_add_filtered_sub_attribute_creates_element() {
        let mut doc = barbara();
        doc.as_object_mut().unwrap().remove("emails");
        let doc = ok(
            &user(),
            &doc,
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
        );
        assert_eq!(doc["emails"], json!([{"type": "work", "value": "a@b.c"}]));
        // With several eq terms all of them go into the new element.
        let doc = ok(
            &user(),
            &doc,
            json!([{"op": "replace", "path": "emails[type eq \"home\" and primary eq true].value", "value": "h@b.c"}]),
        );
        assert_eq!(
            doc["emails"],
            json!([{"type": "work", "value": "a@b.c"}, {"type": "home", "value": "h@b.c", "primary": true}])
        );
    }

    #[test]
    fn entra_add_filtered_sub_attribute_sets_matched_element() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"}]),
        );
        assert_eq!(
            doc["emails"][0],
            json!({"value": "a@b.c", "type": "work", "primary": true})
        );
        assert_eq!(doc["emails"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn filtered_paths_are_case_insensitive() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "EMAILS[TYPE eq \"WORK\"].VALUE", "value": "x@y.z"}]),
        );
        assert_eq!(doc["emails"][0]["value"], "x@y.z");
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails[value eq \"BJENSEN@EXAMPLE.COM\"].type", "value": "other"}]),
        );
        assert_eq!(doc["emails"][0]["type"], "other");
    }

    #[test]
    fn replace_filtered_element_replaces_it_whole() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "new@jensen.org", "type": "home"}}]),
        );
        assert_eq!(
            doc["emails"][1],
            json!({"value": "new@jensen.org", "type": "home"})
        );
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": [{"value": "a"}, {"value": "b"}]}]),
        );
        assert_eq!(e.scim_type, "invalidValue");
    }

    #[test]
    fn add_filtered_element_merges_or_creates() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"primary": true}}]),
        );
        assert_eq!(
            doc["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home", "primary": true}
            ])
        );
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "emails[type eq \"other\"]", "value": {"value": "o@x.y"}}]),
        );
        assert_eq!(doc["emails"][2], json!({"type": "other", "value": "o@x.y"}));
    }

    #[test]
    fn filter_that_matches_nothing_is_no_target() {
        // Not an eq filter: nothing to build a new element from.
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails[type sw \"x\"].value", "value": "a@b.c"}]),
        );
        assert_eq!(e.scim_type, "noTarget");
        // replace of whole elements never creates one.
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails[type eq \"other\"]", "value": {"value": "a@b.c"}}]),
        );
        assert_eq!(e.scim_type, "noTarget");
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]),
        );
        assert_eq!(e.scim_type, "noTarget");
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "remove", "path": "emails[type eq \"work\" or type eq \"home\"]"}, {"op": "remove", "path": "emails[type eq \"work\"].value"}]),
        );
        assert_eq!(e.scim_type, "noTarget");
    }

    #[test]
    fn remove_filtered_elements() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        );
        assert_eq!(
            doc["emails"],
            json!([{"value": "babs@jensen.org", "type": "home"}])
        );
        let doc = ok(
            &user(),
            &doc,
            json!([{"op": "remove", "path": "emails[value co \"jensen\"]"}]),
        );
        assert!(doc.get("emails").is_none());
    }

    #[test]
    fn remove_filtered_sub_attribute() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
        );
        assert_eq!(
            doc["emails"][0],
            json!({"value": "bjensen@example.com", "type": "work"})
        );
    }

    #[test]
    fn sub_attribute_of_multi_valued_without_filter_applies_to_all() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "remove", "path": "emails.type"}]),
        );
        assert_eq!(
            doc["emails"],
            json!([{"value": "bjensen@example.com", "primary": true}, {"value": "babs@jensen.org"}])
        );
    }

    #[test]
    fn remove_whole_attribute_and_absent_attribute() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([
                {"op": "remove", "path": "emails"},
                {"op": "remove", "path": "emails"},
                {"op": "remove", "path": "externalId"},
                {"op": "remove", "path": "name.formatted"}
            ]),
        );
        assert!(doc.get("emails").is_none());
        assert_eq!(doc["name"], barbara()["name"]);
    }

    #[test]
    fn filter_on_single_valued_or_unknown_sub_attribute_is_invalid_path() {
        for path in [
            "name[givenName eq \"x\"]",
            "emails[kind eq \"work\"].value",
            "emails[type eq \"work\"].nope",
            "name.nope",
            "emails.value[type eq \"work\"]",
        ] {
            let e = err(
                &user(),
                &barbara(),
                json!([{"op": "replace", "path": path, "value": "x"}]),
            );
            assert_eq!(e.scim_type, "invalidPath", "{path}: {e:?}");
        }
    }

    #[test]
    fn unknown_attribute_path_is_invalid_path() {
        for path in [
            "nickName",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenterX",
            "urn:example:nope:thing",
            "schemas",
        ] {
            for op in ["add", "replace", "remove"] {
                let e = err(
                    &user(),
                    &barbara(),
                    json!([{"op": op, "path": path, "value": "x"}]),
                );
                assert_eq!(e.scim_type, "invalidPath", "{op} {path}: {e:?}");
            }
        }
    }

    // ---- primary ----

    #[test]
    fn new_primary_clears_the_others() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": "emails", "value": [{"value": "n@x.y", "primary": true}]}]),
        );
        assert_eq!(
            doc["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home"},
                {"value": "n@x.y", "primary": true}
            ])
        );
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": "True"}]),
        );
        assert_eq!(
            doc["emails"],
            json!([
                {"value": "bjensen@example.com", "type": "work"},
                {"value": "babs@jensen.org", "type": "home", "primary": true}
            ])
        );
    }

    #[test]
    fn two_new_primaries_are_invalid() {
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails", "value": [
                {"value": "a@x.y", "primary": true}, {"value": "b@x.y", "primary": true}
            ]}]),
        );
        assert_eq!(e.scim_type, "invalidValue");
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "emails.primary", "value": true}]),
        );
        assert_eq!(e.scim_type, "invalidValue");
    }

    // ---- path-less ----

    #[test]
    fn entra_pathless_replace_active() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "Replace", "value": {"active": false}}]),
        );
        assert_eq!(doc["active"], false);
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "Replace", "value": {"active": "False"}}]),
        );
        assert_eq!(doc["active"], false);
    }

    #[test]
    fn okta_pathless_replace_ignores_read_only_and_unknown() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "value": {
                "id": "2819c223-7f76-453a-919d-413861904646",
                "meta": {"resourceType": "User"},
                "schemas": [USER],
                "groups": [{"value": "g2"}],
                "favouriteColour": "green",
                "active": false
            }}]),
        );
        let mut want = barbara();
        want["active"] = json!(false);
        assert_eq!(doc, want);
    }

    #[test]
    fn pathless_add_merges_every_kind_of_attribute() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "value": {
                "NAME": {"formatted": "Barbara Jensen"},
                "emails": [{"value": "n@x.y", "type": "other"}],
                "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "BJ",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984",
                ENTERPRISE_USER: {"Department": "Sales", "unknown": 1},
                "externalId": "e1"
            }}]),
        );
        assert_eq!(
            doc["name"],
            json!({"givenName": "Barbara", "familyName": "Jensen", "formatted": "Barbara Jensen"})
        );
        assert_eq!(doc["emails"].as_array().unwrap().len(), 3);
        assert_eq!(doc["displayName"], "BJ");
        assert_eq!(doc["externalId"], "e1");
        assert_eq!(
            doc[ENTERPRISE_USER],
            json!({
                "employeeNumber": "701984",
                "department": "Sales",
                "manager": {"value": "m1", "displayName": "John Smith"}
            })
        );
    }

    #[test]
    fn pathless_core_urn_object() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "value": {USER: {"displayName": "Core"}}}]),
        );
        assert_eq!(doc["displayName"], "Core");
    }

    #[test]
    fn pathless_replace_replaces_multi_valued_and_merges_complex() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "value": {
                "emails": [{"value": "only@x.y"}],
                "name": {"givenName": "B"}
            }}]),
        );
        assert_eq!(doc["emails"], json!([{"value": "only@x.y"}]));
        assert_eq!(
            doc["name"],
            json!({"givenName": "B", "familyName": "Jensen"})
        );
    }

    #[test]
    fn pathless_value_must_be_an_object() {
        for v in [json!("x"), json!([{"active": false}]), Value::Null] {
            let e = err(&user(), &barbara(), json!([{"op": "replace", "value": v}]));
            assert_eq!(e.scim_type, "invalidValue", "{e:?}");
        }
    }

    // ---- mutability and required ----

    #[test]
    fn read_only_targets_are_mutability_errors() {
        for (op, path) in [
            ("replace", "id"),
            ("remove", "id"),
            ("add", "meta"),
            ("replace", "meta.resourceType"),
            ("add", "groups"),
            ("remove", "groups[value eq \"g1\"]"),
            (
                "replace",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
            ),
        ] {
            let e = err(
                &user(),
                &barbara(),
                json!([{"op": op, "path": path, "value": "x"}]),
            );
            assert_eq!(e.scim_type, "mutability", "{op} {path}: {e:?}");
        }
    }

    #[test]
    fn immutable_attribute_can_be_set_once() {
        let rt = ResourceType {
            name: "Thing",
            endpoint: "/Things",
            core: schema(
                "urn:example:Thing",
                "Thing",
                vec![with(Mutability::Immutable, string("serial"))],
            ),
            extensions: vec![],
        };
        let doc = ok(
            &rt,
            &json!({}),
            json!([{"op": "add", "path": "serial", "value": "s1"}]),
        );
        assert_eq!(doc["serial"], "s1");
        // The same value again is no change.
        ok(
            &rt,
            &doc,
            json!([{"op": "replace", "path": "serial", "value": "s1"}]),
        );
        for op in [
            json!({"op": "replace", "path": "serial", "value": "s2"}),
            json!({"op": "remove", "path": "serial"}),
            json!({"op": "replace", "value": {"serial": "s3"}}),
        ] {
            assert_eq!(err(&rt, &doc, json!([op])).scim_type, "mutability");
        }
    }

    #[test]
    fn immutable_sub_attribute_of_existing_element() {
        let doc = json!({"displayName": "G", "members": [{"value": "u1", "type": "User"}]});
        let e = err(
            &group(),
            &doc,
            json!([{"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u2"}]),
        );
        assert_eq!(e.scim_type, "mutability");
        let e = err(
            &group(),
            &doc,
            json!([{"op": "add", "path": "members[value eq \"u1\"]", "value": {"type": "Group"}}]),
        );
        assert_eq!(e.scim_type, "mutability");
        // Unset immutable sub-attributes may be set.
        let doc = ok(
            &group(),
            &doc,
            json!([{"op": "add", "path": "members[value eq \"u1\"].$ref", "value": "https://x/Users/u1"}]),
        );
        assert_eq!(doc["members"][0]["$ref"], "https://x/Users/u1");
    }

    #[test]
    fn removing_required_attribute_is_invalid_value() {
        for ops in [
            json!([{"op": "remove", "path": "userName"}]),
            json!([{"op": "replace", "path": "userName", "value": ""}]),
            json!([{"op": "replace", "value": {"userName": null}}]),
        ] {
            let e = err(&user(), &barbara(), ops);
            assert_eq!(e.scim_type, "invalidValue", "{e:?}");
            assert!(e.detail.contains("userName"));
        }
        let e = err(
            &group(),
            &json!({"displayName": "G"}),
            json!([{"op": "remove", "path": "displayName"}]),
        );
        assert_eq!(e.scim_type, "invalidValue");
        // Removed and set again within one request is fine.
        let doc = ok(
            &user(),
            &barbara(),
            json!([
                {"op": "remove", "path": "userName"},
                {"op": "add", "path": "userName", "value": "bj"}
            ]),
        );
        assert_eq!(doc["userName"], "bj");
    }

    // ---- extensions ----

    #[test]
    fn entra_manager_as_bare_string() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "id-of-mgr"}]),
        );
        // A different manager: the stale readOnly displayName goes too.
        assert_eq!(
            doc[ENTERPRISE_USER]["manager"],
            json!({"value": "id-of-mgr"})
        );
        let mut no_ext = barbara();
        no_ext.as_object_mut().unwrap().remove(ENTERPRISE_USER);
        let doc = ok(
            &user(),
            &no_ext,
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "id-of-mgr"}]),
        );
        assert_eq!(
            doc[ENTERPRISE_USER],
            json!({"manager": {"value": "id-of-mgr"}})
        );
    }

    #[test]
    fn same_manager_keeps_display_name() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m1"}}]),
        );
        assert_eq!(doc, barbara());
    }

    #[test]
    fn extension_attribute_paths() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m2"}
            ]),
        );
        assert_eq!(
            doc[ENTERPRISE_USER],
            json!({"department": "Sales", "manager": {"value": "m2"}})
        );
        // Removing the last extension attribute removes the extension object.
        let doc = ok(
            &user(),
            &barbara(),
            json!([
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"},
                {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}
            ]),
        );
        assert!(doc.get(ENTERPRISE_USER).is_none(), "{doc}");
    }

    #[test]
    fn extension_urn_path_merges_and_removes() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": ENTERPRISE_USER, "value": {"employeeNumber": "7", "manager": {"displayName": "ignored"}}}]),
        );
        assert_eq!(
            doc[ENTERPRISE_USER],
            json!({
                "employeeNumber": "7",
                "department": "Tour Operations",
                "manager": {"value": "m1", "displayName": "John Smith"}
            })
        );
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user", "value": {"department": "Sales"}}]),
        );
        assert_eq!(doc[ENTERPRISE_USER]["department"], "Sales");
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "remove", "path": ENTERPRISE_USER}]),
        );
        assert!(doc.get(ENTERPRISE_USER).is_none());
        let e = err(
            &user(),
            &barbara(),
            json!([{"op": "add", "path": ENTERPRISE_USER, "value": "x"}]),
        );
        assert_eq!(e.scim_type, "invalidValue");
    }

    // ---- groups ----

    #[test]
    fn entra_group_member_add_and_remove() {
        let doc = json!({"displayName": "G", "members": [{"value": "u1", "display": "User One"}]});
        let doc = ok(
            &group(),
            &doc,
            json!([{"op": "Add", "path": "members", "value": [{"value": "u2"}, {"value": "u1"}]}]),
        );
        assert_eq!(
            doc["members"],
            json!([{"value": "u1", "display": "User One"}, {"value": "u2"}])
        );
        let doc = ok(
            &group(),
            &doc,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "not-a-member"}]}]),
        );
        assert_eq!(doc["members"], json!([{"value": "u2"}]));
        let doc = ok(
            &group(),
            &doc,
            json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]),
        );
        assert!(doc.get("members").is_none());
    }

    #[test]
    fn member_values_are_case_exact() {
        let doc = json!({"displayName": "G", "members": [{"value": "U1"}]});
        let e = err(
            &group(),
            &doc,
            json!([{"op": "remove", "path": "members[value eq \"u1\"]"}]),
        );
        assert_eq!(e.scim_type, "noTarget");
        let doc = ok(
            &group(),
            &doc,
            json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}]),
        );
        assert_eq!(doc["members"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn okta_group_pathless_replace() {
        let doc = ok(
            &group(),
            &json!({"displayName": "G"}),
            json!([{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Renamed"}}]),
        );
        assert_eq!(doc, json!({"displayName": "Renamed"}));
    }

    #[test]
    fn entra_user_update_sequence() {
        let doc = run(&user(), &barbara(), &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Barbara J"},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "barbara@example.com"},
                {"op": "Replace", "path": "name.givenName", "value": "Barb"},
                {"op": "Add", "path": "externalId", "value": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Finance"},
                {"op": "Replace", "path": "active", "value": "False"}
            ]
        }))
        .unwrap();
        assert_eq!(
            doc,
            json!({
                "userName": "bjensen",
                "name": {"givenName": "Barb", "familyName": "Jensen"},
                "displayName": "Barbara J",
                "active": false,
                "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "emails": [
                    {"value": "barbara@example.com", "type": "work", "primary": true},
                    {"value": "babs@jensen.org", "type": "home"}
                ],
                "groups": [{"value": "g1", "display": "Staff"}],
                ENTERPRISE_USER: {
                    "department": "Finance",
                    "manager": {"value": "m1", "displayName": "John Smith"}
                }
            })
        );
    }

    // ---- the schemas Plinto serves ----

    #[test]
    fn served_user_schema_entra_payloads() {
        let rt = schema::users();
        let doc = json!({"userName": "bjensen", "active": true});
        let doc = ok(
            rt,
            &doc,
            json!([
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
                {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
                {"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
                {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "id-of-mgr"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Replace", "path": "name.middleName", "value": "Q"}
            ]),
        );
        assert_eq!(
            doc,
            json!({
                "userName": "bjensen",
                "active": false,
                "name": {"middleName": "Q"},
                "emails": [{"type": "work", "value": "a@b.c"}],
                "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}],
                "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield"}],
                ENTERPRISE_USER: {"manager": {"value": "id-of-mgr"}, "employeeNumber": "42"}
            })
        );
    }

    #[test]
    fn served_user_schema_errors() {
        let rt = schema::users();
        let doc = json!({"userName": "bjensen", "groups": [{"value": "g1"}]});
        for (op, want) in [
            (json!({"op": "remove", "path": "userName"}), "invalidValue"),
            (
                json!({"op": "add", "path": "groups", "value": [{"value": "g2"}]}),
                "mutability",
            ),
            (
                json!({"op": "replace", "path": "meta.lastModified", "value": "2020-01-01T00:00:00Z"}),
                "mutability",
            ),
            (
                json!({"op": "replace", "path": "id", "value": "x"}),
                "mutability",
            ),
            (
                json!({"op": "replace", "path": "nickname", "value": 3}),
                "invalidValue",
            ),
            (
                json!({"op": "replace", "path": "favouriteColour", "value": "green"}),
                "invalidPath",
            ),
            (
                json!({"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName", "value": "x"}),
                "mutability",
            ),
            (
                json!({"op": "remove", "path": "emails[type eq \"work\"]"}),
                "noTarget",
            ),
        ] {
            let e = err(rt, &doc, json!([op]));
            assert_eq!(e.scim_type, want, "{op}: {e:?}");
        }
    }

    #[test]
    fn served_user_schema_okta_pathless() {
        let rt = schema::users();
        let doc = ok(
            rt,
            &json!({"userName": "bjensen", "active": true}),
            json!([{"op": "replace", "value": {
                "id": "2819c223-7f76-453a-919d-413861904646",
                "active": false,
                "NickName": "Babs",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"
            }}]),
        );
        assert_eq!(
            doc,
            json!({"userName": "bjensen", "active": false, "nickName": "Babs", ENTERPRISE_USER: {"department": "Sales"}})
        );
    }

    #[test]
    fn served_group_schema_member_type_is_canonical() {
        let rt = schema::groups();
        let doc = json!({"displayName": "G", "members": [{"value": "u1"}]});
        let doc2 = ok(
            rt,
            &doc,
            json!([{"op": "add", "path": "members[value eq \"u1\"].type", "value": "user"}]),
        );
        assert_eq!(doc2["members"], json!([{"value": "u1", "type": "User"}]));
        let e = err(
            rt,
            &doc,
            json!([{"op": "add", "path": "members[value eq \"u1\"].type", "value": "robot"}]),
        );
        assert_eq!(e.scim_type, "invalidValue");
        let doc3 = ok(
            rt,
            &doc,
            json!([{"op": "replace", "value": {"displayName": "H", "externalId": "e"}}]),
        );
        assert_eq!(
            doc3,
            json!({"displayName": "H", "externalId": "e", "members": [{"value": "u1"}]})
        );
    }

    #[test]
    fn unassigned_sub_attributes_in_a_complex_value_are_cleared() {
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "replace", "path": "name", "value": {"givenName": null, "formatted": "B J"}}]),
        );
        assert_eq!(
            doc["name"],
            json!({"familyName": "Jensen", "formatted": "B J"})
        );
        // Clearing the manager's value drops its derived displayName too: no manager left.
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": ""}}]),
        );
        assert_eq!(
            doc[ENTERPRISE_USER],
            json!({"department": "Tour Operations"})
        );
        let doc = ok(
            &user(),
            &barbara(),
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"}]),
        );
        assert_eq!(
            doc[ENTERPRISE_USER],
            json!({"department": "Tour Operations"})
        );
    }

    #[test]
    fn remove_with_empty_value_list_removes_nothing() {
        let doc = json!({"displayName": "G", "members": [{"value": "u1"}]});
        let doc2 = ok(
            &group(),
            &doc,
            json!([{"op": "remove", "path": "members", "value": []}]),
        );
        assert_eq!(doc2, doc);
    }
}
