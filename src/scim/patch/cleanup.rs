//! Between and after operations: dropping unassigned values, checking required attributes.

use serde_json::{Map, Value};

use super::{INVALID_VALUE, PatchError, Res};
use crate::scim::schema::{Attribute, ResourceType, Type};

/// null, `""`, `[]` and `{}`: an unassigned attribute (RFC 7643 §2.5).
pub(super) fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

pub(super) fn clean(v: &mut Value) {
    match v {
        Value::Object(obj) => clean_map(obj),
        Value::Array(items) => {
            items.iter_mut().for_each(clean);
            items.retain(|e| !is_unassigned(e));
        }
        _ => {}
    }
}

pub(super) fn clean_map(obj: &mut Map<String, Value>) {
    obj.values_mut().for_each(clean);
    obj.retain(|_, v| !is_unassigned(v));
}

/// A required attribute that had a value must still have one, and a complex attribute that
/// changed must have its required sub-attributes.
pub(super) fn check_required(
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
