//! Projection (RFC 7644 §3.9, §3.4.2.5): `attributes` and `excludedAttributes` applied.

use serde_json::{Map, Value};

use super::{
    Attribute, ResourceType, Returned, Target, Type, common_attributes, find_attr, split_path,
};

/// Which sub-attributes of one attribute to keep.
enum Want<'s> {
    All,
    Only(Vec<&'s str>),
    Except(Vec<&'s str>),
    Nothing,
}

/// The parsed `attributes` or `excludedAttributes`: canonical names.
#[derive(Default)]
struct Selection<'a> {
    /// Whole extension objects, by URN.
    extensions: Vec<&'a str>,
    /// (container: "" for the core schema and common attributes, else the extension URN;
    /// attribute; sub-attribute or None for the whole attribute).
    attrs: Vec<(&'a str, &'a str, Option<&'a str>)>,
}

enum Named<'a> {
    Whole,
    Subs(Vec<&'a str>),
}

impl<'a> Selection<'a> {
    fn parse(rt: &'a ResourceType, paths: &[String]) -> Self {
        let mut sel = Selection::default();
        for target in paths
            .iter()
            .filter_map(|p| split_path(p))
            .filter_map(|p| rt.resolve(&p))
        {
            match target {
                Target::Extension(ext) => sel.extensions.push(&ext.id),
                Target::Attr { schema, attr, sub } => {
                    let container = if std::ptr::eq(schema, &rt.core) {
                        ""
                    } else {
                        schema.id.as_str()
                    };
                    sel.attrs
                        .push((container, &attr.name, sub.map(|s| s.name.as_str())));
                }
            }
        }
        sel
    }

    fn named(&self, container: &str, attr: &str) -> Option<Named<'a>> {
        let mut subs = Vec::new();
        for &(c, a, sub) in &self.attrs {
            if c == container && a == attr {
                match sub {
                    None => return Some(Named::Whole),
                    Some(sub) => subs.push(sub),
                }
            }
        }
        (!subs.is_empty()).then_some(Named::Subs(subs))
    }
}

enum Mode<'a> {
    /// `attributes` given: only these, plus `returned: always`.
    Only(Selection<'a>),
    /// Default set minus `excludedAttributes`.
    Except(Selection<'a>),
}

/// Keep/drop attributes of a full canonical resource representation `doc` (which includes
/// `schemas`, `id`, `meta`, extension objects) per the `attributes` / `excludedAttributes`
/// query parameters (already split at commas). `returned: always` attributes (`id`, `schemas`)
/// are always kept; `returned: never` (`password`) always removed; `returned: request` only
/// when named in `attributes`. With `attributes` non-empty (it wins over `excluded`), only the
/// named ones (+always) are kept, even if none of the names is known; with `excluded`,
/// everything default except the named ones. Sub-attribute granularity (`name.givenName`,
/// `emails.value`) and whole extensions (their URN) are supported. Paths are
/// case-insensitive; unknown names are ignored. An extension object left empty is removed,
/// and its URN is then dropped from `schemas`.
pub fn project(
    rt: &ResourceType,
    doc: &mut Map<String, Value>,
    attributes: &[String],
    excluded: &[String],
) {
    let named = |list: &[String]| list.iter().any(|s| !s.trim().is_empty());
    let mode = if named(attributes) {
        Mode::Only(Selection::parse(rt, attributes))
    } else {
        Mode::Except(Selection::parse(rt, excluded))
    };

    doc.retain(|key, value| {
        if key.eq_ignore_ascii_case("schemas") {
            return true;
        }
        let Some(ext) = rt.extension(key) else {
            return keep_attribute(
                &rt.core.attributes,
                common_attributes(),
                key,
                value,
                &mode,
                "",
                false,
            );
        };
        let whole = match &mode {
            Mode::Only(sel) | Mode::Except(sel) => sel.extensions.contains(&ext.id.as_str()),
        };
        match value {
            Value::Object(obj) => {
                obj.retain(|k, v| {
                    keep_attribute(&ext.attributes, &[], k, v, &mode, &ext.id, whole)
                });
                !obj.is_empty()
            }
            // Not an object: not ours to repair; keep it only if wanted as a whole.
            _ => match mode {
                Mode::Only(_) => whole,
                Mode::Except(_) => !whole,
            },
        }
    });

    // An extension URN stays in `schemas` only if its object is still there.
    let present: Vec<bool> = rt
        .extensions
        .iter()
        .map(|ext| doc.keys().any(|k| k.eq_ignore_ascii_case(&ext.id)))
        .collect();
    if let Some(Value::Array(schemas)) = doc.get_mut("schemas") {
        schemas.retain(|s| {
            let Some(s) = s.as_str() else { return true };
            rt.extensions
                .iter()
                .zip(&present)
                .all(|(ext, present)| *present || !ext.id.eq_ignore_ascii_case(s))
        });
    }
}

/// Whether to keep the attribute `key` of a resource or extension object (whose attributes are
/// `attrs` and `common`), after filtering its sub-attributes in `value`. `whole`: the container
/// was named as a whole (in `attributes`: keep its default attributes; in
/// `excludedAttributes`: drop them).
fn keep_attribute(
    attrs: &[Attribute],
    common: &[Attribute],
    key: &str,
    value: &mut Value,
    mode: &Mode<'_>,
    container: &str,
    whole: bool,
) -> bool {
    let Some(attr) = find_attr(attrs, key).or_else(|| find_attr(common, key)) else {
        // Not in the schema: treat as `returned: default`, which cannot be named.
        return match mode {
            Mode::Only(_) => whole,
            Mode::Except(_) => !whole,
        };
    };
    let want = match (attr.returned, mode) {
        (Returned::Never, _) => Want::Nothing,
        (Returned::Always, _) => Want::All,
        (returned, Mode::Only(sel)) => match sel.named(container, &attr.name) {
            Some(Named::Whole) => Want::All,
            Some(Named::Subs(subs)) => Want::Only(subs),
            None if whole && returned == Returned::Default => Want::All,
            None => Want::Nothing,
        },
        (Returned::Request, Mode::Except(_)) => Want::Nothing,
        (Returned::Default, Mode::Except(_)) if whole => Want::Nothing,
        (Returned::Default, Mode::Except(sel)) => match sel.named(container, &attr.name) {
            Some(Named::Whole) => Want::Nothing,
            Some(Named::Subs(subs)) => Want::Except(subs),
            None => Want::All,
        },
    };
    apply_want(attr, value, &want)
}

/// Filters the sub-attributes of `value` for `attr`; false if nothing is left.
fn apply_want(attr: &Attribute, value: &mut Value, want: &Want<'_>) -> bool {
    if let Want::Nothing = want {
        return false;
    }
    if attr.ty != Type::Complex {
        return true;
    }
    let filter = |obj: &mut Map<String, Value>| {
        obj.retain(|key, _| match attr.sub_attribute(key) {
            None => !matches!(want, Want::Only(_)),
            Some(sub) => match (sub.returned, want) {
                (Returned::Never, _) | (_, Want::Nothing) => false,
                (Returned::Always, _) => true,
                (Returned::Request, Want::Only(subs)) => subs.contains(&sub.name.as_str()),
                (Returned::Request, _) => false,
                (Returned::Default, Want::All) => true,
                (Returned::Default, Want::Only(subs)) => subs.contains(&sub.name.as_str()),
                (Returned::Default, Want::Except(subs)) => !subs.contains(&sub.name.as_str()),
            },
        });
    };
    match value {
        Value::Object(obj) => {
            filter(obj);
            !obj.is_empty()
        }
        Value::Array(items) => {
            items.retain_mut(|item| match item {
                Value::Object(obj) => {
                    filter(obj);
                    !obj.is_empty()
                }
                _ => true,
            });
            !items.is_empty()
        }
        _ => true,
    }
}
