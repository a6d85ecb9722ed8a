//! Client values: coercion and normalisation, appending without duplicates, one `primary`.

use serde_json::{Map, Value};

use super::cleanup::is_unassigned;
use super::sub::merge;
use super::{INVALID_VALUE, PatchError, Res, find_sub};
use crate::scim::schema::{self, Attribute, Mutability, Type};

/// Adds values to a multi-valued attribute. A value already present (see [`same_value`]) is
/// merged into the existing element rather than appended. Returns the indices of the elements
/// added or changed.
pub(super) fn append(attr: &Attribute, items: &mut Vec<Value>, new: Vec<Value>) -> Res<Vec<usize>> {
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
pub(super) fn same_value(attr: &Attribute, existing: &Value, new: &Value) -> bool {
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
pub(super) fn fix_primary(attr: &Attribute, items: &mut [Value], touched: &[usize]) -> Res<()> {
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
pub(super) fn single_element(attr: &Attribute, value: &Value) -> Res<Value> {
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

/// Coerces what clients send (see the `patch` module docs), normalises with the schema and
/// drops readOnly sub-attributes.
pub(super) fn norm(attr: &Attribute, value: &Value) -> Res<Value> {
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
pub(super) fn norm_sub(attr: &Attribute, sub: &Attribute, value: &Value) -> Res<Value> {
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

pub(super) fn into_vec(v: Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

pub(super) fn take_array(slot: &mut Value) -> Vec<Value> {
    into_vec(std::mem::take(slot))
}

pub(super) fn take_object(slot: &mut Value) -> Map<String, Value> {
    match std::mem::take(slot) {
        Value::Object(obj) => obj,
        _ => Map::new(),
    }
}
