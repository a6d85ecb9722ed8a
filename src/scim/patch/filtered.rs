//! Operations on the elements of a multi-valued attribute: all of them, or a value filter's.

use serde_json::{Map, Value};

use super::cleanup::is_unassigned;
use super::sub::{append_sub, merge, remove_sub, set_sub};
use super::values::{fix_primary, norm_sub, single_element, take_array};
use super::{NO_TARGET, OpKind, PatchError, Res, find_sub, not_an_object};
use crate::scim::filter::{self, AttrPath, CompareOp, Filter, Literal};
use crate::scim::schema::{Attribute, Type};

/// An operation on the elements of a multi-valued attribute that match `filter` (all of them
/// without one), or on their sub-attribute `sub`.
pub(super) fn elements(
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
