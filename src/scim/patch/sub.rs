//! Operations on the sub-attributes of a complex value: set, remove, append and merge.

use serde_json::{Map, Value};

use super::cleanup::is_unassigned;
use super::values::{into_vec, norm_sub};
use super::{MUTABILITY, OpKind, PatchError, Res, find_sub};
use crate::scim::schema::{Attribute, Mutability};

/// An operation on a sub-attribute of a single-valued complex attribute.
pub(super) fn on_sub(
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

pub(super) fn remove_sub(
    obj: &mut Map<String, Value>,
    attr: &Attribute,
    sub: &Attribute,
) -> Res<()> {
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
pub(super) fn set_sub(
    obj: &mut Map<String, Value>,
    attr: &Attribute,
    sub: &Attribute,
    new: Value,
) -> Res<()> {
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
pub(super) fn append_sub(obj: &mut Map<String, Value>, sub: &Attribute, new: Value) {
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

/// Merges canonical sub-attributes into a complex value.
pub(super) fn merge(
    obj: &mut Map<String, Value>,
    attr: &Attribute,
    new: Map<String, Value>,
) -> Res<()> {
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
pub(super) fn clear_unassigned(
    obj: &mut Map<String, Value>,
    attr: &Attribute,
    raw: &Value,
) -> Res<()> {
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
