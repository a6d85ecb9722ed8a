//! Evaluating a [`Filter`] against a JSON value in memory, for [`matches`](super::matches).

use serde_json::{Number, Value};

use super::{AttrPath, CompareOp, Filter, Literal};

pub(super) fn eval(
    filter: &Filter,
    element: &Value,
    parent: Option<&AttrPath>,
    case_exact: &dyn Fn(&AttrPath) -> bool,
) -> bool {
    match filter {
        Filter::And(a, b) => {
            eval(a, element, parent, case_exact) && eval(b, element, parent, case_exact)
        }
        Filter::Or(a, b) => {
            eval(a, element, parent, case_exact) || eval(b, element, parent, case_exact)
        }
        Filter::Not(a) => !eval(a, element, parent, case_exact),
        Filter::Present(path) => resolve(element, path).into_iter().any(is_present),
        Filter::Compare { path, op, value } => {
            let mut leaves = Vec::new();
            for v in resolve(element, path) {
                collect_leaves(v, &mut leaves);
            }
            if leaves.is_empty() {
                // Missing or null: `eq null` holds, and `ne` anything but null.
                return match (op, value) {
                    (CompareOp::Eq, Literal::Null) => true,
                    (CompareOp::Ne, Literal::Null) => false,
                    (op, _) => *op == CompareOp::Ne,
                };
            }
            let exact = matches!(value, Literal::String(_))
                && leaves.iter().any(|v| v.is_string())
                && match parent {
                    Some(parent) if path.schema.is_none() && path.sub.is_none() => {
                        case_exact(&AttrPath {
                            schema: parent.schema.clone(),
                            attr: parent.attr.clone(),
                            sub: Some(path.attr.clone()),
                        })
                    }
                    _ => case_exact(path),
                };
            leaves.iter().any(|v| compare(v, *op, value, exact))
        }
        Filter::ValuePath { attr, filter } => {
            let on_element = |item: &Value| match item {
                Value::Object(_) => eval(filter, item, Some(attr), case_exact),
                Value::Null => false,
                // A multi-valued attribute of simple values: its elements are `value`.
                other => {
                    let mut wrapped = serde_json::Map::new();
                    wrapped.insert("value".to_owned(), other.clone());
                    eval(filter, &Value::Object(wrapped), Some(attr), case_exact)
                }
            };
            resolve(element, attr).into_iter().any(|v| match v {
                Value::Array(items) => items.iter().any(on_element),
                other => on_element(other),
            })
        }
    }
}

/// The value(s) at `path` in `element`: one for a plain attribute, one per element for a
/// sub-attribute of a multi-valued complex attribute.
fn resolve<'v>(element: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let Some(base) = lookup_attr(element, path) else {
        return Vec::new();
    };
    let Some(sub) = &path.sub else {
        return vec![base];
    };
    match base {
        Value::Object(o) => get_ci(o, sub).into_iter().collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|item| item.as_object().and_then(|o| get_ci(o, sub)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The attribute `path.attr` of `element`, honouring a schema prefix: first inside the
/// extension object keyed by the schema URN, then directly on the element (core attributes
/// written with the core URN), then under the whole `schema:attr` key (a bare extension URN).
fn lookup_attr<'v>(element: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    let object = element.as_object()?;
    let Some(schema) = &path.schema else {
        return get_ci(object, &path.attr);
    };
    if let Some(Value::Object(extension)) = get_ci(object, schema)
        && let Some(v) = get_ci(extension, &path.attr)
    {
        return Some(v);
    }
    get_ci(object, &path.attr).or_else(|| get_ci(object, &format!("{schema}:{}", path.attr)))
}

fn get_ci<'v>(object: &'v serde_json::Map<String, Value>, key: &str) -> Option<&'v Value> {
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The values a comparison looks at: arrays are flattened, elements that are objects stand
/// for their `value` sub-attribute, nulls are absent.
fn collect_leaves<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Null | Value::Array(_) => {}
                    Value::Object(o) => {
                        if let Some(inner) = get_ci(o, "value")
                            && !inner.is_null()
                        {
                            out.push(inner);
                        }
                    }
                    other => out.push(other),
                }
            }
        }
        other => out.push(other),
    }
}

/// `pr`: present and not null, not an empty string, array or object.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(v: &Value, op: CompareOp, literal: &Literal, case_exact: bool) -> bool {
    use std::cmp::Ordering;
    let ordering = |ord: Option<Ordering>| match op {
        CompareOp::Eq => ord == Some(Ordering::Equal),
        CompareOp::Ne => ord != Some(Ordering::Equal),
        CompareOp::Gt => ord == Some(Ordering::Greater),
        CompareOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        CompareOp::Lt => ord == Some(Ordering::Less),
        CompareOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    };
    match (v, literal) {
        (Value::String(s), Literal::String(l)) => {
            use std::borrow::Cow;
            let (s, l): (Cow<'_, str>, Cow<'_, str>) = if case_exact {
                (Cow::Borrowed(s), Cow::Borrowed(l))
            } else {
                (Cow::Owned(s.to_lowercase()), Cow::Owned(l.to_lowercase()))
            };
            match op {
                CompareOp::Co => s.contains(&*l),
                CompareOp::Sw => s.starts_with(&*l),
                CompareOp::Ew => s.ends_with(&*l),
                _ => ordering(Some(s.cmp(&l))),
            }
        }
        (Value::Number(n), Literal::Number(l)) => ordering(compare_numbers(n, l)),
        (Value::Bool(b), Literal::Bool(l)) => match op {
            CompareOp::Eq => b == l,
            CompareOp::Ne => b != l,
            _ => false,
        },
        // Different types (or a present value against null) are never equal.
        _ => op == CompareOp::Ne,
    }
}

fn compare_numbers(a: &Number, b: &Number) -> Option<std::cmp::Ordering> {
    fn integer(n: &Number) -> Option<i128> {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    }
    match (integer(a), integer(b)) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}
