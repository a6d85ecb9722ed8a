//! Applying one operation to one attribute: path-less value objects, extensions, whole values.

use serde_json::{Map, Value};

use super::cleanup::{clean, is_unassigned};
use super::filtered::elements;
use super::sub::{clear_unassigned, merge, on_sub};
use super::values::{append, fix_primary, into_vec, norm, same_value, take_array, take_object};
use super::{
    INVALID_VALUE, MUTABILITY, OpKind, PatchError, Res, Sel, find_attr, missing_value,
    not_an_object,
};
use crate::scim::filter::{self, AttrPath};
use crate::scim::schema::{Attribute, Mutability, ResourceType, Schema, Target, Type};

/// `add` or `replace` without a path: `value` is an object of attributes, each applied as if
/// it were the path. Unknown and readOnly attributes are ignored.
pub(super) fn apply_value_object(
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
pub(super) fn apply_extension(
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
pub(super) fn apply_attr(
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
