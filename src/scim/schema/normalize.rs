//! Input normalisation: a client's resource or PATCH value checked and put in canonical form.

use serde_json::{Map, Value};

use super::{Attribute, Mutability, ResourceType, Type, common_attributes, find_attr};

/// Why a client's resource or value was rejected; becomes a 400 with this `scimType`.
#[derive(Debug)]
pub struct SchemaError {
    /// `"invalidValue"` | `"invalidSyntax"` | `"mutability"`
    pub scim_type: &'static str,
    pub detail: String,
}

impl SchemaError {
    fn invalid_value(detail: String) -> Self {
        SchemaError {
            scim_type: "invalidValue",
            detail,
        }
    }
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.scim_type, self.detail)
    }
}

impl std::error::Error for SchemaError {}

/// Turn a client's resource JSON into canonical form: keys renamed to the schema's canonical
/// case, extension attributes under the extension URN key (also accepted as top-level
/// `urn:...:User:employeeNumber` keys and merged in), unknown attributes and sub-attributes
/// dropped, readOnly attributes and sub-attributes dropped (`id`, `meta`, `groups`,
/// `manager.displayName`; `schemas` too), unassigned values (null, "", [], {}) removed, every
/// value type-checked, Group `members.type` checked against its canonical values, at most one
/// `primary: true` per multi-valued attribute. Returns the object WITHOUT `schemas`, `id`,
/// `meta`. Required attributes are not checked here: see [`check_required`].
pub fn normalize_resource(
    rt: &ResourceType,
    input: &Value,
) -> Result<Map<String, Value>, SchemaError> {
    let Value::Object(input) = input else {
        return Err(SchemaError {
            scim_type: "invalidSyntax",
            detail: format!("a {} resource must be a JSON object", rt.name),
        });
    };
    let mut core = Map::new();
    let mut extensions: Vec<Map<String, Value>> = vec![Map::new(); rt.extensions.len()];
    let ext_index = |urn: &str| {
        rt.extensions
            .iter()
            .position(|e| e.id.eq_ignore_ascii_case(urn))
    };
    for (key, value) in input {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(i) = ext_index(key) {
            let ext = &rt.extensions[i];
            match value {
                v if is_unassigned(v) => {}
                Value::Object(obj) => {
                    for (k, v) in obj {
                        if let Some(attr) = ext.attribute(k) {
                            let path = format!("{}:{}", ext.id, attr.name);
                            put(&mut extensions[i], attr, v, &path)?;
                        }
                    }
                }
                other => {
                    return Err(SchemaError::invalid_value(format!(
                        "\"{}\" must be an object holding the extension's attributes, got {}",
                        ext.id,
                        describe(other)
                    )));
                }
            }
            continue;
        }
        let is_urn = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let (schema, name) = match key.rfind(':') {
            Some(i) if is_urn => (Some(&key[..i]), &key[i + 1..]),
            _ if is_urn => continue,
            _ => (None, key.as_str()),
        };
        match schema {
            Some(urn) if !urn.eq_ignore_ascii_case(&rt.core.id) => {
                let Some(i) = ext_index(urn) else { continue };
                let ext = &rt.extensions[i];
                if let Some(attr) = ext.attribute(name) {
                    let path = format!("{}:{}", ext.id, attr.name);
                    put(&mut extensions[i], attr, value, &path)?;
                }
            }
            _ => {
                let attr = rt
                    .core
                    .attribute(name)
                    .or_else(|| find_attr(common_attributes(), name));
                if let Some(attr) = attr {
                    put(&mut core, attr, value, &attr.name)?;
                }
            }
        }
    }
    for (ext, attrs) in rt.extensions.iter().zip(extensions) {
        if !attrs.is_empty() {
            core.insert(ext.id.clone(), Value::Object(attrs));
        }
    }
    Ok(core)
}

/// Normalise one value for attribute `attr` (used by PATCH): for multi_valued attrs accepts an
/// array (or a single element, wrapped); for complex, canonicalises sub-attribute keys. Same
/// checks as [`normalize_resource`]. A readOnly `attr` is a `mutability` error. Returns
/// `Value::Null` if the value is unassigned (null, "", [], {}, or only unknown sub-attributes).
pub fn normalize_value(attr: &Attribute, value: &Value) -> Result<Value, SchemaError> {
    check_writable(attr)?;
    Ok(normalize(attr, None, value, true, &attr.name)?.unwrap_or(Value::Null))
}

/// Normalise one element of the multi-valued attribute `attr` (a PATCH value for a
/// value-filtered path like `emails[type eq "work"]`): a single element, never an array.
/// `Value::Null` if unassigned.
pub fn normalize_element(attr: &Attribute, value: &Value) -> Result<Value, SchemaError> {
    check_writable(attr)?;
    if let Value::Array(_) = value {
        return Err(SchemaError::invalid_value(format!(
            "\"{}\": expected a single element, got an array",
            attr.name
        )));
    }
    Ok(normalize_single(attr, None, value, &attr.name)?.unwrap_or(Value::Null))
}

/// The attributes marked `required` are present in the canonical `resource` (as returned by
/// [`normalize_resource`]), including required sub-attributes of the complex values present
/// and attributes of the extensions present. For POST and PUT.
pub fn check_required(rt: &ResourceType, resource: &Map<String, Value>) -> Result<(), SchemaError> {
    fn check(
        attrs: &[Attribute],
        obj: &Map<String, Value>,
        prefix: &str,
    ) -> Result<(), SchemaError> {
        for attr in attrs {
            let path = format!("{prefix}{}", attr.name);
            match obj.get(&attr.name) {
                None if attr.required => {
                    return Err(SchemaError::invalid_value(format!(
                        "the required attribute \"{path}\" is missing"
                    )));
                }
                None => {}
                Some(value) if attr.ty == Type::Complex => {
                    let elements = match value {
                        Value::Array(items) => items.iter().collect(),
                        other => vec![other],
                    };
                    for element in elements {
                        if let Value::Object(o) = element {
                            check(&attr.sub_attributes, o, &format!("{path}."))?;
                        }
                    }
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
    check(&rt.core.attributes, resource, "")?;
    for ext in &rt.extensions {
        if let Some(Value::Object(o)) = resource.get(&ext.id) {
            check(&ext.attributes, o, &format!("{}:", ext.id))?;
        }
    }
    Ok(())
}

fn check_writable(attr: &Attribute) -> Result<(), SchemaError> {
    if attr.mutability == Mutability::ReadOnly {
        return Err(SchemaError {
            scim_type: "mutability",
            detail: format!("the attribute \"{}\" is read-only", attr.name),
        });
    }
    Ok(())
}

/// Normalises `value` for the (writable) `attr` and stores it in `out` under the canonical name,
/// unless readOnly or unassigned.
fn put(
    out: &mut Map<String, Value>,
    attr: &Attribute,
    value: &Value,
    path: &str,
) -> Result<(), SchemaError> {
    if attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    match normalize(attr, None, value, false, path)? {
        Some(v) => insert_unique(out, &attr.name, v, path),
        None => Ok(()),
    }
}

/// The same attribute given twice (different case, or both nested and as a URN-prefixed key)
/// is fine if the values agree.
fn insert_unique(
    out: &mut Map<String, Value>,
    key: &str,
    value: Value,
    path: &str,
) -> Result<(), SchemaError> {
    match out.get(key) {
        Some(existing) if *existing != value => Err(SchemaError::invalid_value(format!(
            "the attribute \"{path}\" is given more than once, with different values"
        ))),
        Some(_) => Ok(()),
        None => {
            out.insert(key.to_owned(), value);
            Ok(())
        }
    }
}

/// null, "", [] and {} all mean "unassigned" (RFC 7643 §2.5).
fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `Ok(None)`: unassigned.
fn normalize(
    attr: &Attribute,
    parent: Option<&Attribute>,
    value: &Value,
    wrap_single: bool,
    path: &str,
) -> Result<Option<Value>, SchemaError> {
    if is_unassigned(value) {
        return Ok(None);
    }
    if !attr.multi_valued {
        if let Value::Array(_) = value {
            return Err(SchemaError::invalid_value(format!(
                "\"{path}\" is single-valued: expected {}, got an array",
                expected(attr)
            )));
        }
        return normalize_single(attr, parent, value, path);
    }
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        single if wrap_single => vec![single],
        other => {
            return Err(SchemaError::invalid_value(format!(
                "\"{path}\" is multi-valued: expected an array (elements: {}), got {}",
                expected(attr),
                describe(other)
            )));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        if let Value::Array(_) = item {
            return Err(SchemaError::invalid_value(format!(
                "\"{item_path}\": expected {}, got an array",
                expected(attr)
            )));
        }
        if let Some(v) = normalize_single(attr, parent, item, &item_path)? {
            out.push(v);
        }
    }
    if out.is_empty() {
        return Ok(None);
    }
    let primaries = out
        .iter()
        .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
        .count();
    if primaries > 1 {
        return Err(SchemaError::invalid_value(format!(
            "\"{path}\": at most one value may have \"primary\": true, found {primaries}"
        )));
    }
    Ok(Some(Value::Array(out)))
}

fn expected(attr: &Attribute) -> &'static str {
    match attr.ty {
        Type::String => "a string",
        Type::Boolean => "a boolean",
        Type::Decimal => "a number",
        Type::Integer => "an integer",
        Type::DateTime => "a date-time string (RFC 3339, e.g. \"2015-07-31T11:06:07Z\")",
        Type::Binary => "a base64 string",
        Type::Reference => "a URI string",
        Type::Complex => "an object",
    }
}

/// The canonical values of `sub` within `parent` that are enforced. RFC 7643 says a client
/// SHOULD use the canonical values; only Group `members.type` is checked because the server
/// relies on it.
fn enforces_canonical_values(parent: Option<&Attribute>, attr: &Attribute) -> bool {
    parent.is_some_and(|p| p.name == "members") && attr.name == "type"
}

/// One value of `attr` (an element, if multi-valued). `Ok(None)`: unassigned.
fn normalize_single(
    attr: &Attribute,
    parent: Option<&Attribute>,
    value: &Value,
    path: &str,
) -> Result<Option<Value>, SchemaError> {
    if is_unassigned(value) {
        return Ok(None);
    }
    let mismatch = || {
        SchemaError::invalid_value(format!(
            "\"{path}\" must be {}, got {}",
            expected(attr),
            describe(value)
        ))
    };
    if let Value::String(s) = value
        && s.contains('\0')
    {
        // PostgreSQL cannot store a NUL in text or jsonb: refused here, not a 500 later.
        return Err(SchemaError::invalid_value(format!(
            "\"{path}\" must not contain a NUL character"
        )));
    }
    let out = match (attr.ty, value) {
        (Type::String, Value::String(s)) => {
            if enforces_canonical_values(parent, attr) && !attr.canonical_values.is_empty() {
                let canonical = attr
                    .canonical_values
                    .iter()
                    .find(|c| c.to_lowercase() == s.to_lowercase())
                    .ok_or_else(|| {
                        SchemaError::invalid_value(format!(
                            "\"{path}\" must be one of {}, got \"{s}\"",
                            attr.canonical_values.join(", ")
                        ))
                    })?;
                Value::String(canonical.clone())
            } else {
                value.clone()
            }
        }
        (Type::Reference | Type::Binary, Value::String(_)) => value.clone(),
        (Type::DateTime, Value::String(s)) => {
            if !is_rfc3339(s) {
                return Err(SchemaError::invalid_value(format!(
                    "\"{path}\" must be {}, got \"{s}\"",
                    expected(attr)
                )));
            }
            value.clone()
        }
        (Type::Boolean, Value::Bool(_)) => value.clone(),
        // Microsoft Entra ID sends `"active": "False"` in PATCH operations unless the
        // application opts in to its RFC-compliant behaviour.
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        (Type::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => value.clone(),
        (Type::Decimal, Value::Number(_)) => value.clone(),
        (Type::Complex, Value::Object(obj)) => {
            let mut out = Map::new();
            for (key, v) in obj {
                let Some(sub) = attr.sub_attribute(key) else {
                    continue;
                };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                let sub_path = format!("{path}.{}", sub.name);
                if let Some(v) = normalize(sub, Some(attr), v, false, &sub_path)? {
                    insert_unique(&mut out, &sub.name, v, &sub_path)?;
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Object(out)
        }
        _ => return Err(mismatch()),
    };
    Ok(Some(out))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339 §5.6), with valid field ranges.
pub(super) fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0u32, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt") && at(13, b":") && at(16, b":")) {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b".") {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            i + 6 == b.len()
                && at(i + 3, b":")
                && num(i + 1..i + 3).is_some_and(|h| h <= 23)
                && num(i + 4..i + 6).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}
