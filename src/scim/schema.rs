//! The SCIM schemas Plinto serves (RFC 7643 §4, §8.7): User, the enterprise User extension and
//! Group. The attribute definitions are read once from the same JSON documents that
//! `/Schemas` serves, so what is advertised is what is enforced.

mod documents;
mod normalize;
mod project;

use std::sync::LazyLock;

use serde_json::Value;

use super::filter::AttrPath;

pub use documents::{Limits, resource_type_document, schema_document, service_provider_config};
pub use normalize::{
    SchemaError, check_required, normalize_element, normalize_resource, normalize_value,
};
pub use project::project;

/// Schema URNs.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Plinto's own User extension: what it knows of an account beyond the core schema
/// (`emailVerified`, read-only).
pub const PLINTO_USER: &str = "urn:plinto:params:scim:schemas:extension:plinto:2.0:User";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

#[derive(Debug, Clone)]
pub struct Attribute {
    /// Canonical case, as in the schema document.
    pub name: String,
    pub ty: Type,
    pub multi_valued: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pub sub_attributes: Vec<Attribute>,
}

#[derive(Debug, Clone)]
pub struct Schema {
    pub id: String,
    pub name: String,
    pub attributes: Vec<Attribute>,
}

// ---------------------------------------------------------------------------------------------
// Names of the enum values as they appear in schema documents (RFC 7643 §7).

impl Type {
    pub fn as_str(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Decimal => "decimal",
            Type::Integer => "integer",
            Type::DateTime => "dateTime",
            Type::Binary => "binary",
            Type::Reference => "reference",
            Type::Complex => "complex",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" => Type::String,
            "boolean" => Type::Boolean,
            "decimal" => Type::Decimal,
            "integer" => Type::Integer,
            "dateTime" => Type::DateTime,
            "binary" => Type::Binary,
            "reference" => Type::Reference,
            "complex" => Type::Complex,
            _ => return None,
        })
    }
}

impl Mutability {
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "readOnly" => Mutability::ReadOnly,
            "readWrite" => Mutability::ReadWrite,
            "immutable" => Mutability::Immutable,
            "writeOnly" => Mutability::WriteOnly,
            _ => return None,
        })
    }
}

impl Returned {
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "always" => Returned::Always,
            "never" => Returned::Never,
            "default" => Returned::Default,
            "request" => Returned::Request,
            _ => return None,
        })
    }
}

impl Uniqueness {
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "none" => Uniqueness::None,
            "server" => Uniqueness::Server,
            "global" => Uniqueness::Global,
            _ => return None,
        })
    }
}

impl Attribute {
    /// The sub-attribute called `name` (case-insensitive).
    pub fn sub_attribute(&self, name: &str) -> Option<&Attribute> {
        find_attr(&self.sub_attributes, name)
    }
}

impl Schema {
    /// The top-level attribute called `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        find_attr(&self.attributes, name)
    }
}

fn find_attr<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------------------------
// Loading the embedded documents.

const USER_JSON: &str = include_str!("schemas/user.json");
const ENTERPRISE_USER_JSON: &str = include_str!("schemas/enterprise_user.json");
const GROUP_JSON: &str = include_str!("schemas/group.json");
const PLINTO_USER_JSON: &str = include_str!("schemas/plinto_user.json");

/// A SCIM resource type (RFC 7643 §6): its core schema and its schema extensions.
#[derive(Debug)]
pub struct ResourceType {
    /// `"User"`, `"Group"`; also the resource type's `id` and `meta.resourceType`.
    pub name: &'static str,
    /// `"/Users"`, `"/Groups"`.
    pub endpoint: &'static str,
    pub core: Schema,
    pub extensions: Vec<Schema>,
}

struct Registry {
    users: ResourceType,
    groups: ResourceType,
    /// The documents as embedded, for `/Schemas`: `(id, document)`.
    documents: Vec<(String, Value)>,
    /// `id`, `externalId`, `meta` (RFC 7643 §3.1).
    common: Vec<Attribute>,
}

// The embedded documents are compile-time constants; the unit test `embedded_documents_load`
// proves `load` succeeds on them, so this cannot fail at runtime.
#[allow(clippy::expect_used)]
static REGISTRY: LazyLock<Registry> =
    LazyLock::new(|| load().expect("the embedded SCIM schema documents are valid"));

fn load() -> Result<Registry, String> {
    let mut documents = Vec::new();
    let mut parse = |text: &str| -> Result<Schema, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let schema = parse_schema(&doc)?;
        documents.push((schema.id.clone(), doc));
        Ok(schema)
    };
    let user = parse(USER_JSON)?;
    let enterprise = parse(ENTERPRISE_USER_JSON)?;
    let group = parse(GROUP_JSON)?;
    let plinto = parse(PLINTO_USER_JSON)?;
    for (schema, id) in [
        (&user, USER),
        (&enterprise, ENTERPRISE_USER),
        (&group, GROUP),
        (&plinto, PLINTO_USER),
    ] {
        if schema.id != id {
            return Err(format!("schema document {} should have id {id}", schema.id));
        }
    }
    Ok(Registry {
        users: ResourceType {
            name: "User",
            endpoint: "/Users",
            core: user,
            extensions: vec![enterprise, plinto],
        },
        groups: ResourceType {
            name: "Group",
            endpoint: "/Groups",
            core: group,
            extensions: Vec::new(),
        },
        documents,
        common: common_attributes_list(),
    })
}

fn parse_schema(doc: &Value) -> Result<Schema, String> {
    let obj = doc
        .as_object()
        .ok_or("a schema document must be an object")?;
    let text = |key: &str| -> Result<String, String> {
        obj.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("schema: missing string \"{key}\""))
    };
    let id = text("id")?;
    let name = text("name")?;
    let attributes = obj
        .get("attributes")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("schema {id}: missing \"attributes\" array"))?
        .iter()
        .map(|a| parse_attribute(a, 0).map_err(|e| format!("schema {id}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schema {
        id,
        name,
        attributes,
    })
}

/// One attribute definition, with the defaults of RFC 7643 §2.2 for missing characteristics.
fn parse_attribute(v: &Value, depth: usize) -> Result<Attribute, String> {
    let obj = v
        .as_object()
        .ok_or("an attribute definition must be an object")?;
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .ok_or("attribute without a \"name\"")?
        .to_owned();
    let err = |what: &str| format!("attribute {name}: invalid \"{what}\"");
    let string = |key: &str| -> Result<Option<&str>, String> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(err(key)),
        }
    };
    let boolean = |key: &str| -> Result<bool, String> {
        match obj.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(err(key)),
        }
    };
    let ty = match string("type")? {
        None => Type::String,
        Some(s) => Type::parse(s).ok_or_else(|| err("type"))?,
    };
    let mutability = match string("mutability")? {
        None => Mutability::ReadWrite,
        Some(s) => Mutability::parse(s).ok_or_else(|| err("mutability"))?,
    };
    let returned = match string("returned")? {
        None => Returned::Default,
        Some(s) => Returned::parse(s).ok_or_else(|| err("returned"))?,
    };
    let uniqueness = match string("uniqueness")? {
        None => Uniqueness::None,
        Some(s) => Uniqueness::parse(s).ok_or_else(|| err("uniqueness"))?,
    };
    let canonical_values = match obj.get("canonicalValues") {
        None => Vec::new(),
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err("canonicalValues"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err("canonicalValues")),
    };
    let sub_attributes = match obj.get("subAttributes") {
        None => Vec::new(),
        Some(Value::Array(subs)) if depth == 0 => subs
            .iter()
            .map(|s| parse_attribute(s, depth + 1).map_err(|e| format!("{name}.{e}")))
            .collect::<Result<_, _>>()?,
        // RFC 7643 §2.3.8: a complex attribute has no complex sub-attributes.
        Some(_) => return Err(err("subAttributes")),
    };
    if (ty == Type::Complex) == sub_attributes.is_empty() {
        return Err(format!(
            "attribute {name}: exactly the complex attributes have sub-attributes"
        ));
    }
    Ok(Attribute {
        multi_valued: boolean("multiValued")?,
        required: boolean("required")?,
        case_exact: boolean("caseExact")?,
        name,
        ty,
        mutability,
        returned,
        uniqueness,
        canonical_values,
        sub_attributes,
    })
}

fn simple_attribute(
    name: &str,
    ty: Type,
    case_exact: bool,
    mutability: Mutability,
    returned: Returned,
    uniqueness: Uniqueness,
) -> Attribute {
    Attribute {
        name: name.to_owned(),
        ty,
        multi_valued: false,
        required: false,
        case_exact,
        mutability,
        returned,
        uniqueness,
        canonical_values: Vec::new(),
        sub_attributes: Vec::new(),
    }
}

/// The common attributes of RFC 7643 §3.1, which every resource has but no schema document lists.
fn common_attributes_list() -> Vec<Attribute> {
    use Mutability::{ReadOnly, ReadWrite};
    let meta_sub = |name: &str, ty: Type| {
        simple_attribute(
            name,
            ty,
            true,
            ReadOnly,
            Returned::Default,
            Uniqueness::None,
        )
    };
    vec![
        simple_attribute(
            "id",
            Type::String,
            true,
            ReadOnly,
            Returned::Always,
            Uniqueness::Server,
        ),
        simple_attribute(
            "externalId",
            Type::String,
            true,
            ReadWrite,
            Returned::Default,
            Uniqueness::None,
        ),
        Attribute {
            sub_attributes: vec![
                meta_sub("resourceType", Type::String),
                meta_sub("created", Type::DateTime),
                meta_sub("lastModified", Type::DateTime),
                meta_sub("location", Type::Reference),
                meta_sub("version", Type::String),
            ],
            ..simple_attribute(
                "meta",
                Type::Complex,
                false,
                ReadOnly,
                Returned::Default,
                Uniqueness::None,
            )
        },
    ]
}

/// The User resource type: core User schema plus the enterprise User extension.
pub fn users() -> &'static ResourceType {
    &REGISTRY.users
}

/// The Group resource type.
pub fn groups() -> &'static ResourceType {
    &REGISTRY.groups
}

/// Both resource types, in the order `/ResourceTypes` lists them.
pub fn resource_types() -> [&'static ResourceType; 2] {
    [users(), groups()]
}

/// The resource type whose name (`User`, `Group`) is `name`, case-insensitively.
pub fn resource_type(name: &str) -> Option<&'static ResourceType> {
    resource_types()
        .into_iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
}

/// Every schema served: User, EnterpriseUser, PlintoUser, Group.
pub fn all_schemas() -> Vec<&'static Schema> {
    resource_types()
        .into_iter()
        .flat_map(|rt| std::iter::once(&rt.core).chain(rt.extensions.iter()))
        .collect()
}

/// The schema with URN `id`, case-insensitively (for `/Schemas/{id}`).
pub fn schema_by_id(id: &str) -> Option<&'static Schema> {
    all_schemas()
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

/// `id`, `externalId` and `meta` (RFC 7643 §3.1): part of every resource, in no schema document.
pub fn common_attributes() -> &'static [Attribute] {
    &REGISTRY.common
}

// ---------------------------------------------------------------------------------------------
// Resolving attribute paths.

/// What an attribute path names.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// the whole extension object (path = the extension URN)
    Extension(&'a Schema),
    /// a top-level attribute (possibly in an extension: `schema` tells which) and optionally one
    /// of its sub-attributes. The common attributes (`id`, `externalId`, `meta`) come with
    /// `schema` = the core schema; [`Target::is_common`] tells them apart.
    Attr {
        schema: &'a Schema,
        attr: &'a Attribute,
        sub: Option<&'a Attribute>,
    },
}

impl Target<'_> {
    /// Whether this is one of the [`common_attributes`] (or a sub-attribute of `meta`).
    pub fn is_common(&self) -> bool {
        match self {
            Target::Extension(_) => false,
            Target::Attr { attr, .. } => common_attributes().iter().any(|c| std::ptr::eq(c, *attr)),
        }
    }
}

impl ResourceType {
    /// Case-insensitive. No URN prefix = core schema or common attributes (id, externalId,
    /// meta). A URN prefix must equal core or an extension id (case-insensitive). For a URN-only
    /// path the filter parser splits at the last ':' so `urn:...:enterprise:2.0:User` arrives
    /// as schema `urn:...:enterprise:2.0`, attr `User`: that is [`Target::Extension`].
    /// `meta.lastModified` resolves to the common meta attribute with sub. None if unknown or if
    /// `sub` names no sub-attribute.
    pub fn resolve(&self, path: &AttrPath) -> Option<Target<'_>> {
        let schema = match &path.schema {
            None => &self.core,
            Some(urn) if urn.eq_ignore_ascii_case(&self.core.id) => &self.core,
            Some(urn) => {
                if let Some(ext) = self.extension(urn) {
                    ext
                } else {
                    let whole = format!("{urn}:{}", path.attr);
                    return match (self.extension(&whole), &path.sub) {
                        (Some(ext), None) => Some(Target::Extension(ext)),
                        _ => None,
                    };
                }
            }
        };
        let attr = match find_attr(&schema.attributes, &path.attr) {
            Some(attr) => attr,
            None if std::ptr::eq(schema, &self.core) => find_attr(common_attributes(), &path.attr)?,
            None => return None,
        };
        let sub = match &path.sub {
            None => None,
            Some(sub) => Some(attr.sub_attribute(sub)?),
        };
        Some(Target::Attr { schema, attr, sub })
    }

    /// The schemas URIs of this type: core + extensions.
    pub fn schema_ids(&self) -> Vec<&str> {
        std::iter::once(&self.core)
            .chain(&self.extensions)
            .map(|s| s.id.as_str())
            .collect()
    }

    /// The extension with URN `urn`, case-insensitively.
    pub fn extension(&self, urn: &str) -> Option<&Schema> {
        self.extensions
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(urn))
    }
}

/// Splits an attribute path as written in `attributes`/`excludedAttributes` (or a JSON key such
/// as `urn:...:enterprise:2.0:User:manager.value`) like the filter parser does: a URN prefix
/// up to the last ':', then `attr[.sub]`.
fn split_path(text: &str) -> Option<AttrPath> {
    let text = text.trim();
    let (schema, rest) = match text.rfind(':') {
        Some(i)
            if text
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("urn:")) =>
        {
            (Some(text[..i].to_owned()), &text[i + 1..])
        }
        _ => (None, text),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((attr, sub)) => (attr, Some(sub.to_owned())),
        None => (rest, None),
    };
    if attr.is_empty() || sub.as_deref().is_some_and(str::is_empty) {
        return None;
    }
    Some(AttrPath {
        schema,
        attr: attr.to_owned(),
        sub,
    })
}

#[cfg(test)]
mod tests;
