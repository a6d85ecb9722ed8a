//! The SCIM schemas Plinto serves (RFC 7643 §4, §8.7): User, the enterprise User extension and
//! Group. The attribute definitions are read once from the same JSON documents that
//! `/Schemas` serves, so what is advertised is what is enforced.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use super::filter::AttrPath;

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

    /// The resource type's description: that of its core schema document.
    fn description(&self) -> &str {
        REGISTRY
            .documents
            .iter()
            .find(|(id, _)| *id == self.core.id)
            .and_then(|(_, doc)| doc.get("description"))
            .and_then(Value::as_str)
            .unwrap_or(self.name)
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

// ---------------------------------------------------------------------------------------------
// Input normalisation.

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
fn is_rfc3339(s: &str) -> bool {
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

// ---------------------------------------------------------------------------------------------
// Projection (RFC 7644 §3.9, §3.4.2.5).

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

// ---------------------------------------------------------------------------------------------
// Discovery documents (RFC 7643 §5, §6, §7; RFC 7644 §4).

/// The schema as served by `/Schemas/{id}`: the embedded document plus `schemas` and `meta`.
/// `base` = `"https://host/t/acme/scim/v2"` (no trailing slash).
pub fn schema_document(schema: &Schema, base: &str) -> Value {
    let embedded = REGISTRY
        .documents
        .iter()
        .find(|(id, _)| *id == schema.id)
        .and_then(|(_, doc)| doc.as_object().cloned());
    let mut doc = embedded.unwrap_or_else(|| {
        let mut doc = Map::new();
        doc.insert("id".into(), schema.id.clone().into());
        doc.insert("name".into(), schema.name.clone().into());
        let attrs = schema.attributes.iter().map(attribute_json).collect();
        doc.insert("attributes".into(), Value::Array(attrs));
        doc
    });
    doc.insert(
        "schemas".into(),
        json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]),
    );
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "Schema",
            "location": format!("{base}/Schemas/{}", schema.id),
        }),
    );
    Value::Object(doc)
}

/// An attribute definition, for a schema that has no embedded document.
fn attribute_json(attr: &Attribute) -> Value {
    let mut out = json!({
        "name": attr.name,
        "type": attr.ty.as_str(),
        "multiValued": attr.multi_valued,
        "required": attr.required,
        "caseExact": attr.case_exact,
        "mutability": attr.mutability.as_str(),
        "returned": attr.returned.as_str(),
        "uniqueness": attr.uniqueness.as_str(),
    });
    if let Value::Object(obj) = &mut out {
        if !attr.canonical_values.is_empty() {
            obj.insert("canonicalValues".into(), json!(attr.canonical_values));
        }
        if !attr.sub_attributes.is_empty() {
            let subs = attr.sub_attributes.iter().map(attribute_json).collect();
            obj.insert("subAttributes".into(), Value::Array(subs));
        }
    }
    out
}

/// The resource type as served by `/ResourceTypes/{name}`.
pub fn resource_type_document(rt: &ResourceType, base: &str) -> Value {
    let mut doc = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description(),
        "schema": rt.core.id,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", rt.name),
        },
    });
    if !rt.extensions.is_empty()
        && let Value::Object(obj) = &mut doc
    {
        let extensions = rt
            .extensions
            .iter()
            .map(|e| json!({ "schema": e.id, "required": false }))
            .collect();
        obj.insert("schemaExtensions".into(), Value::Array(extensions));
    }
    doc
}

/// Limits advertised in `/ServiceProviderConfig`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_operations: usize,
    pub max_payload_size: usize,
    pub max_results: usize,
}

/// The `/ServiceProviderConfig` document (RFC 7643 §5).
pub fn service_provider_config(base: &str, limits: &Limits) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": { "supported": true },
        "bulk": {
            "supported": true,
            "maxOperations": limits.max_operations,
            "maxPayloadSize": limits.max_payload_size,
        },
        "filter": { "supported": true, "maxResults": limits.max_results },
        "changePassword": { "supported": true },
        "sort": { "supported": true },
        "etag": { "supported": true },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A per-tenant bearer token created with `plinto scim-token create`",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig"),
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn path(schema: Option<&str>, attr: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            schema: schema.map(str::to_owned),
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        }
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn attr<'a>(schema: &'a Schema, name: &str) -> &'a Attribute {
        schema.attribute(name).expect(name)
    }

    fn normalized(rt: &ResourceType, input: Value) -> Value {
        Value::Object(normalize_resource(rt, &input).expect("valid input"))
    }

    fn rejected(rt: &ResourceType, input: Value) -> SchemaError {
        normalize_resource(rt, &input).expect_err("invalid input")
    }

    // --- loading -------------------------------------------------------------------------

    #[test]
    fn embedded_documents_load() {
        // What the `expect` in REGISTRY relies on.
        let registry = load().expect("embedded documents load");
        assert_eq!(registry.users.core.id, USER);
        assert_eq!(registry.users.extensions.len(), 1);
        assert_eq!(registry.users.extensions[0].id, ENTERPRISE_USER);
        assert_eq!(registry.groups.core.id, GROUP);
        assert!(registry.groups.extensions.is_empty());
        assert_eq!(registry.documents.len(), 4);
        for (_, doc) in &registry.documents {
            assert!(doc.get("meta").is_none(), "schema documents carry no meta");
            assert!(doc.get("schemas").is_none());
        }
        let ids: Vec<&str> = all_schemas().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, [USER, ENTERPRISE_USER, PLINTO_USER, GROUP]);
        assert_eq!(users().name, "User");
        assert_eq!(users().endpoint, "/Users");
        assert_eq!(groups().name, "Group");
        assert_eq!(groups().endpoint, "/Groups");
        assert_eq!(users().schema_ids(), [USER, ENTERPRISE_USER, PLINTO_USER]);
        assert_eq!(groups().schema_ids(), [GROUP]);
        assert!(std::ptr::eq(resource_type("user").unwrap(), users()));
        assert!(std::ptr::eq(
            schema_by_id(&GROUP.to_uppercase()).unwrap(),
            &groups().core
        ));
    }

    #[test]
    fn loader_rejects_bad_documents() {
        let bad = |doc: Value| parse_schema(&doc).expect_err("should be rejected");
        bad(json!({"id": "x", "name": "x"}));
        bad(json!({"id": "x", "name": "x", "attributes": [{"name": "a", "type": "text"}]}));
        bad(
            json!({"id": "x", "name": "x", "attributes": [{"name": "a", "returned": "sometimes"}]}),
        );
        bad(json!({"id": "x", "name": "x", "attributes": [{"name": "a", "type": "complex"}]}));
        bad(json!({"id": "x", "name": "x", "attributes": [{"name": "a", "multiValued": "yes"}]}));
        // RFC 7643 §2.2 defaults.
        let ok =
            parse_schema(&json!({"id": "x", "name": "x", "attributes": [{"name": "a"}]})).unwrap();
        let a = &ok.attributes[0];
        assert_eq!(a.ty, Type::String);
        assert!(!a.multi_valued && !a.required && !a.case_exact);
        assert_eq!(a.mutability, Mutability::ReadWrite);
        assert_eq!(a.returned, Returned::Default);
        assert_eq!(a.uniqueness, Uniqueness::None);
    }

    #[test]
    fn user_schema_has_every_rfc_attribute() {
        let user = &users().core;
        assert_eq!(user.name, "User");
        let names: Vec<&str> = user.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates",
            ]
        );

        let user_name = attr(user, "userName");
        assert_eq!(user_name.ty, Type::String);
        assert!(user_name.required && !user_name.case_exact && !user_name.multi_valued);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        assert_eq!(user_name.mutability, Mutability::ReadWrite);
        assert_eq!(user_name.returned, Returned::Default);

        let name = attr(user, "name");
        assert_eq!(name.ty, Type::Complex);
        let subs: Vec<&str> = name
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            subs,
            [
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix"
            ]
        );

        assert_eq!(attr(user, "profileUrl").ty, Type::Reference);
        assert_eq!(attr(user, "active").ty, Type::Boolean);

        let password = attr(user, "password");
        assert_eq!(password.returned, Returned::Never);
        assert_eq!(password.mutability, Mutability::WriteOnly);

        let groups_attr = attr(user, "groups");
        assert_eq!(groups_attr.mutability, Mutability::ReadOnly);
        assert!(groups_attr.multi_valued);
        assert!(
            groups_attr
                .sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::ReadOnly)
        );
        assert_eq!(
            groups_attr.sub_attribute("type").unwrap().canonical_values,
            ["direct", "indirect"]
        );

        for multi in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            let a = attr(user, multi);
            assert!(a.multi_valued, "{multi}");
            assert_eq!(a.ty, Type::Complex, "{multi}");
        }
        let emails = attr(user, "emails");
        let subs: Vec<&str> = emails
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(subs, ["value", "display", "type", "primary"]);
        assert_eq!(
            emails.sub_attribute("TYPE").unwrap().canonical_values,
            ["work", "home", "other"]
        );
        assert_eq!(emails.sub_attribute("primary").unwrap().ty, Type::Boolean);
        assert_eq!(
            attr(user, "phoneNumbers")
                .sub_attribute("type")
                .unwrap()
                .canonical_values,
            ["work", "home", "mobile", "fax", "pager", "other"]
        );
        assert_eq!(
            attr(user, "photos").sub_attribute("value").unwrap().ty,
            Type::Reference
        );
        let addresses = attr(user, "addresses");
        let subs: Vec<&str> = addresses
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            subs,
            [
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "type",
                "primary"
            ]
        );
        assert_eq!(
            attr(user, "x509Certificates")
                .sub_attribute("value")
                .unwrap()
                .ty,
            Type::Binary
        );
        // Every attribute other than the ones above is a single-valued read-write string.
        for a in &user.attributes {
            if matches!(
                a.name.as_str(),
                "userName" | "displayName" | "nickName" | "title" | "userType" | "locale"
            ) {
                assert_eq!(a.ty, Type::String);
                assert!(!a.multi_valued && !a.case_exact);
                assert_eq!(a.mutability, Mutability::ReadWrite);
            }
        }
    }

    #[test]
    fn enterprise_and_group_schemas() {
        let ent = &users().extensions[0];
        assert_eq!(ent.name, "EnterpriseUser");
        let names: Vec<&str> = ent.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "manager"
            ]
        );
        let manager = attr(ent, "manager");
        assert_eq!(manager.ty, Type::Complex);
        assert!(!manager.multi_valued);
        assert_eq!(manager.sub_attribute("$ref").unwrap().ty, Type::Reference);
        assert_eq!(
            manager.sub_attribute("displayName").unwrap().mutability,
            Mutability::ReadOnly
        );
        assert_eq!(
            manager.sub_attribute("value").unwrap().mutability,
            Mutability::ReadWrite
        );

        let group = &groups().core;
        let display_name = attr(group, "displayName");
        assert_eq!(display_name.uniqueness, Uniqueness::Server);
        assert!(!display_name.case_exact);
        let members = attr(group, "members");
        assert!(members.multi_valued);
        let subs: Vec<&str> = members
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(subs, ["value", "$ref", "type"]);
        assert!(
            members
                .sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::Immutable)
        );
        assert_eq!(
            members.sub_attribute("type").unwrap().canonical_values,
            ["User", "Group"]
        );
    }

    #[test]
    fn common_attributes_are_defined() {
        let common = common_attributes();
        let id = find_attr(common, "id").unwrap();
        assert_eq!(id.mutability, Mutability::ReadOnly);
        assert_eq!(id.returned, Returned::Always);
        assert!(id.case_exact);
        let external = find_attr(common, "externalId").unwrap();
        assert_eq!(external.mutability, Mutability::ReadWrite);
        assert!(external.case_exact);
        assert_eq!(external.ty, Type::String);
        let meta = find_attr(common, "meta").unwrap();
        assert_eq!(meta.mutability, Mutability::ReadOnly);
        assert_eq!(
            meta.sub_attribute("lastModified").unwrap().ty,
            Type::DateTime
        );
        assert_eq!(meta.sub_attribute("created").unwrap().ty, Type::DateTime);
        assert_eq!(meta.sub_attribute("location").unwrap().ty, Type::Reference);
        assert!(meta.sub_attribute("resourceType").is_some());
        assert!(meta.sub_attribute("version").is_some());
    }

    // --- resolve -------------------------------------------------------------------------

    fn resolved(rt: &ResourceType, p: AttrPath) -> (String, String, Option<String>, bool) {
        match rt.resolve(&p) {
            Some(t @ Target::Attr { schema, attr, sub }) => (
                schema.id.clone(),
                attr.name.clone(),
                sub.map(|s| s.name.clone()),
                t.is_common(),
            ),
            other => panic!("{p:?} resolved to {other:?}"),
        }
    }

    #[test]
    fn resolve_core_attributes_case_insensitively() {
        let rt = users();
        assert_eq!(
            resolved(rt, path(None, "USERNAME", None)),
            (USER.into(), "userName".into(), None, false)
        );
        assert_eq!(
            resolved(rt, path(None, "name", Some("GIVENNAME"))),
            (USER.into(), "name".into(), Some("givenName".into()), false)
        );
        assert_eq!(
            resolved(rt, path(Some(USER), "userName", None)),
            (USER.into(), "userName".into(), None, false)
        );
        assert_eq!(
            resolved(
                rt,
                path(Some(&USER.to_uppercase()), "emails", Some("value"))
            ),
            (USER.into(), "emails".into(), Some("value".into()), false)
        );
        assert_eq!(
            resolved(groups(), path(None, "members", Some("$REF"))),
            (GROUP.into(), "members".into(), Some("$ref".into()), false)
        );
    }

    #[test]
    fn resolve_extension_attributes() {
        let rt = users();
        assert_eq!(
            resolved(rt, path(Some(ENTERPRISE_USER), "manager", Some("value"))),
            (
                ENTERPRISE_USER.into(),
                "manager".into(),
                Some("value".into()),
                false
            )
        );
        assert_eq!(
            resolved(
                rt,
                path(
                    Some(&ENTERPRISE_USER.to_lowercase()),
                    "EMPLOYEENUMBER",
                    None
                )
            ),
            (ENTERPRISE_USER.into(), "employeeNumber".into(), None, false)
        );
        // The bare URN, split at its last ':' by the filter parser.
        let bare = path(
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
            "user",
            None,
        );
        match rt.resolve(&bare) {
            Some(Target::Extension(ext)) => assert_eq!(ext.id, ENTERPRISE_USER),
            other => panic!("{other:?}"),
        }
        // Extension attributes need their URN; core attributes are not in the extension.
        assert!(rt.resolve(&path(None, "employeeNumber", None)).is_none());
        assert!(
            rt.resolve(&path(Some(ENTERPRISE_USER), "userName", None))
                .is_none()
        );
        assert!(
            rt.resolve(&path(Some(ENTERPRISE_USER), "id", None))
                .is_none()
        );
        // Groups have no extension.
        assert!(groups().resolve(&bare).is_none());
    }

    #[test]
    fn resolve_common_attributes() {
        let rt = users();
        assert_eq!(
            resolved(rt, path(None, "meta", Some("lastModified"))),
            (
                USER.into(),
                "meta".into(),
                Some("lastModified".into()),
                true
            )
        );
        assert_eq!(
            resolved(rt, path(None, "EXTERNALID", None)),
            (USER.into(), "externalId".into(), None, true)
        );
        assert_eq!(
            resolved(rt, path(Some(USER), "id", None)),
            (USER.into(), "id".into(), None, true)
        );
        assert_eq!(
            resolved(groups(), path(None, "meta", Some("LOCATION"))),
            (GROUP.into(), "meta".into(), Some("location".into()), true)
        );
    }

    #[test]
    fn resolve_unknown_is_none() {
        let rt = users();
        assert!(rt.resolve(&path(None, "nope", None)).is_none());
        assert!(rt.resolve(&path(None, "name", Some("nope"))).is_none());
        assert!(rt.resolve(&path(None, "userName", Some("x"))).is_none());
        assert!(rt.resolve(&path(None, "meta", Some("nope"))).is_none());
        assert!(
            rt.resolve(&path(Some("urn:example:other"), "userName", None))
                .is_none()
        );
        // The bare extension URN cannot have a sub-attribute.
        assert!(
            rt.resolve(&path(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                "User",
                Some("manager")
            ))
            .is_none()
        );
        assert!(groups().resolve(&path(None, "userName", None)).is_none());
    }

    #[test]
    fn split_path_like_the_filter_parser() {
        assert_eq!(
            split_path(" name.givenName "),
            Some(path(None, "name", Some("givenName")))
        );
        assert_eq!(
            split_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            Some(path(Some(ENTERPRISE_USER), "manager", Some("value")))
        );
        assert_eq!(
            split_path(ENTERPRISE_USER),
            Some(path(
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0"),
                "User",
                None
            ))
        );
        assert_eq!(split_path(""), None);
        assert_eq!(split_path("name."), None);
    }

    // --- normalize -----------------------------------------------------------------------

    #[test]
    fn normalize_canonicalises_keys_and_drops_junk() {
        let out = normalized(
            users(),
            json!({
                "schemas": [USER],
                "id": "client-chosen",
                "meta": {"resourceType": "User"},
                "USERNAME": "bjensen",
                "ExternalID": "701984",
                "Name": {"GivenName": "Barbara", "familyname": "Jensen", "nope": "x", "middleName": ""},
                "displayName": null,
                "nickName": "",
                "title": {},
                "emails": [],
                "phoneNumbers": [{"VALUE": "tel:+1-201-555-0123", "Type": "work"}, {}, null],
                "groups": [{"value": "g1"}],
                "favouriteColour": "blue",
                "active": true,
                "password": "t1meMa$heen",
            }),
        );
        assert_eq!(
            out,
            json!({
                "userName": "bjensen",
                "externalId": "701984",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "phoneNumbers": [{"value": "tel:+1-201-555-0123", "type": "work"}],
                "active": true,
                "password": "t1meMa$heen",
            })
        );
    }

    #[test]
    fn normalize_accepts_odd_type_values_and_drops_readonly_subattributes() {
        let out = normalized(
            users(),
            json!({
                "userName": "b",
                "emails": [{"value": "b@example.com", "type": "Corporate", "primary": true}],
                ENTERPRISE_USER: {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}},
            }),
        );
        assert_eq!(
            out,
            json!({
                "userName": "b",
                "emails": [{"value": "b@example.com", "type": "Corporate", "primary": true}],
                ENTERPRISE_USER: {"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
            })
        );
    }

    #[test]
    fn normalize_extension_nested_and_flat() {
        let lower = ENTERPRISE_USER.to_lowercase();
        let out = normalized(
            users(),
            json!({
                "userName": "b",
                lower.clone(): {"EMPLOYEENUMBER": "701984", "costCenter": "4130", "unknown": 1},
                format!("{ENTERPRISE_USER}:department"): "Tour Operations",
                format!("{lower}:Manager"): {"Value": "m-1"},
                format!("{ENTERPRISE_USER}:nope"): "x",
                format!("{USER}:displayName"): "Babs",
                "urn:example:other:2.0:User:thing": "x",
            }),
        );
        assert_eq!(
            out,
            json!({
                "userName": "b",
                "displayName": "Babs",
                ENTERPRISE_USER: {
                    "employeeNumber": "701984",
                    "costCenter": "4130",
                    "department": "Tour Operations",
                    "manager": {"value": "m-1"},
                },
            })
        );
        // An empty extension object disappears.
        let out = normalized(
            users(),
            json!({"userName": "b", ENTERPRISE_USER: {"nope": 1}}),
        );
        assert_eq!(out, json!({"userName": "b"}));
        // Nested and flat must agree.
        let err = rejected(
            users(),
            json!({
                ENTERPRISE_USER: {"department": "A"},
                format!("{ENTERPRISE_USER}:department"): "B",
            }),
        );
        assert_eq!(err.scim_type, "invalidValue");
        assert!(err.detail.contains("department"), "{}", err.detail);
        // The extension key must hold an object.
        let err = rejected(users(), json!({ENTERPRISE_USER: "x"}));
        assert_eq!(err.scim_type, "invalidValue");
    }

    #[test]
    fn normalize_type_errors() {
        let cases = [
            (
                json!({"userName": 5}),
                "\"userName\" must be a string, got a number",
            ),
            (
                json!({"active": "yes"}),
                "\"active\" must be a boolean, got a string",
            ),
            (
                json!({"name": "Barbara"}),
                "\"name\" must be an object, got a string",
            ),
            (
                json!({"emails": {"value": "b@example.com"}}),
                "\"emails\" is multi-valued: expected an array (elements: an object), got an object",
            ),
            (
                json!({"emails": [{"value": "b@example.com", "primary": "maybe"}]}),
                "\"emails[0].primary\" must be a boolean",
            ),
            (
                json!({"emails": ["b@example.com"]}),
                "\"emails[0]\" must be an object, got a string",
            ),
            (json!({"userName": ["b"]}), "\"userName\" is single-valued"),
            (
                json!({"profileUrl": 1}),
                "\"profileUrl\" must be a URI string",
            ),
            (
                json!({"x509Certificates": [{"value": 1}]}),
                "\"x509Certificates[0].value\" must be a base64 string",
            ),
            (
                json!({ENTERPRISE_USER: {"employeeNumber": 701984}}),
                "employeeNumber\" must be a string, got a number",
            ),
        ];
        for (input, want) in cases {
            let err = rejected(users(), input.clone());
            assert_eq!(err.scim_type, "invalidValue", "{input}");
            assert!(err.detail.contains(want), "{input}: {}", err.detail);
        }
        let err = rejected(users(), json!(["not", "an", "object"]));
        assert_eq!(err.scim_type, "invalidSyntax");
    }

    #[test]
    fn normalize_booleans_from_strings() {
        let out = normalized(users(), json!({"active": "False"}));
        assert_eq!(out, json!({"active": false}));
        let out = normalized(
            users(),
            json!({"emails": [{"value": "a", "primary": "TRUE"}]}),
        );
        assert_eq!(out, json!({"emails": [{"value": "a", "primary": true}]}));
    }

    #[test]
    fn normalize_rejects_two_primaries() {
        let err = rejected(
            users(),
            json!({"emails": [
                {"value": "a@example.com", "primary": true},
                {"value": "b@example.com", "primary": false},
                {"value": "c@example.com", "primary": true},
            ]}),
        );
        assert_eq!(err.scim_type, "invalidValue");
        assert!(err.detail.contains("emails"), "{}", err.detail);
        assert!(err.detail.contains("primary"), "{}", err.detail);
        // One is fine.
        normalized(
            users(),
            json!({"emails": [
                {"value": "a@example.com", "primary": true},
                {"value": "b@example.com", "primary": false},
            ]}),
        );
    }

    #[test]
    fn normalize_group_members() {
        let out = normalized(
            groups(),
            json!({
                "schemas": [GROUP],
                "DisplayName": "Tour Guides",
                "Members": [
                    {"Value": "2819c223", "type": "user", "$REF": "https://example.com/v2/Users/2819c223", "display": "Babs"},
                    {"value": "e9e30dba", "TYPE": "GROUP"},
                    {"value": "x"},
                ],
            }),
        );
        assert_eq!(
            out,
            json!({
                "displayName": "Tour Guides",
                "members": [
                    {"value": "2819c223", "type": "User", "$ref": "https://example.com/v2/Users/2819c223"},
                    {"value": "e9e30dba", "type": "Group"},
                    {"value": "x"},
                ],
            })
        );
        let err = rejected(
            groups(),
            json!({"members": [{"value": "x", "type": "Device"}]}),
        );
        assert_eq!(err.scim_type, "invalidValue");
        assert!(err.detail.contains("members[0].type"), "{}", err.detail);
        assert!(err.detail.contains("User, Group"), "{}", err.detail);
    }

    #[test]
    fn normalize_datetime_and_numbers() {
        let meta = find_attr(common_attributes(), "meta").unwrap();
        // meta is read-only: a writable copy of its dateTime sub-attribute.
        let last_modified = &Attribute {
            mutability: Mutability::ReadWrite,
            ..meta.sub_attribute("lastModified").unwrap().clone()
        };
        assert_eq!(
            normalize_value(meta.sub_attribute("lastModified").unwrap(), &json!("x"))
                .unwrap_err()
                .scim_type,
            "mutability"
        );
        for ok in [
            "2011-05-13T04:42:34Z",
            "2011-05-13t04:42:34.123z",
            "2024-02-29T23:59:60+05:30",
            "2011-05-13T04:42:34-08:00",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
            assert_eq!(
                normalize_value(last_modified, &json!(ok)).unwrap(),
                json!(ok)
            );
        }
        for bad in [
            "2011-05-13",
            "2011-05-13T04:42:34",
            "2011-13-13T04:42:34Z",
            "2023-02-29T04:42:34Z",
            "2011-05-13T24:00:00Z",
            "2011-05-13T04:42:34.Z",
            "2011-05-13T04:42:34+0800",
            "2011-05-13 04:42:34Z",
            "2011-05-13T04:42:34Zjunk",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
            let err = normalize_value(last_modified, &json!(bad)).unwrap_err();
            assert_eq!(err.scim_type, "invalidValue");
            assert!(err.detail.contains("RFC 3339"), "{}", err.detail);
        }
        let integer = simple_attribute(
            "n",
            Type::Integer,
            false,
            Mutability::ReadWrite,
            Returned::Default,
            Uniqueness::None,
        );
        assert_eq!(normalize_value(&integer, &json!(5)).unwrap(), json!(5));
        assert!(normalize_value(&integer, &json!(5.5)).is_err());
        assert!(normalize_value(&integer, &json!("5")).is_err());
        let decimal = Attribute {
            ty: Type::Decimal,
            ..integer
        };
        assert_eq!(normalize_value(&decimal, &json!(5.5)).unwrap(), json!(5.5));
        assert_eq!(normalize_value(&decimal, &json!(5)).unwrap(), json!(5));
    }

    #[test]
    fn normalize_value_for_patch() {
        let user = &users().core;
        let emails = attr(user, "emails");
        assert_eq!(
            normalize_value(emails, &json!({"VALUE": "a@example.com", "Type": "work"})).unwrap(),
            json!([{"value": "a@example.com", "type": "work"}])
        );
        assert_eq!(
            normalize_value(emails, &json!([{"value": "a@example.com"}])).unwrap(),
            json!([{"value": "a@example.com"}])
        );
        assert_eq!(
            normalize_element(emails, &json!({"VALUE": "a@example.com"})).unwrap(),
            json!({"value": "a@example.com"})
        );
        assert!(normalize_element(emails, &json!([{"value": "a"}])).is_err());
        assert_eq!(
            normalize_value(attr(user, "name"), &json!({"givenname": "B", "x": 1})).unwrap(),
            json!({"givenName": "B"})
        );
        assert_eq!(
            normalize_value(attr(user, "nickName"), &json!("")).unwrap(),
            Value::Null
        );
        assert_eq!(
            normalize_value(attr(user, "active"), &json!("True")).unwrap(),
            json!(true)
        );
        let err = normalize_value(attr(user, "groups"), &json!([{"value": "g"}])).unwrap_err();
        assert_eq!(err.scim_type, "mutability");
        let err = normalize_value(attr(user, "displayName"), &json!(["a", "b"])).unwrap_err();
        assert_eq!(err.scim_type, "invalidValue");
        let members = attr(&groups().core, "members");
        assert_eq!(
            normalize_value(members, &json!({"value": "u1", "type": "USER"})).unwrap(),
            json!([{"value": "u1", "type": "User"}])
        );
    }

    #[test]
    fn required_attributes() {
        let rt = users();
        let ok = normalize_resource(rt, &json!({"userName": "b"})).unwrap();
        check_required(rt, &ok).unwrap();
        let missing = normalize_resource(rt, &json!({"userName": "", "displayName": "B"})).unwrap();
        let err = check_required(rt, &missing).unwrap_err();
        assert_eq!(err.scim_type, "invalidValue");
        assert!(err.detail.contains("userName"), "{}", err.detail);
    }

    // --- projection ----------------------------------------------------------------------

    fn full_user() -> Map<String, Value> {
        json!({
            "schemas": [USER, ENTERPRISE_USER],
            "id": "2819c223",
            "externalId": "701984",
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z",
                "location": "https://example.com/v2/Users/2819c223",
                "version": "W/\"a330bc54f0671c9\"",
            },
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "password": "should never leave",
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"},
            ],
            "active": true,
            ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tour Operations"},
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn projected(
        rt: &ResourceType,
        doc: Map<String, Value>,
        attrs: &[&str],
        excl: &[&str],
    ) -> Value {
        let mut doc = doc;
        project(rt, &mut doc, &strings(attrs), &strings(excl));
        Value::Object(doc)
    }

    #[test]
    fn project_default_drops_password_only() {
        let mut want = full_user();
        want.remove("password");
        assert_eq!(
            projected(users(), full_user(), &[], &[]),
            Value::Object(want)
        );
    }

    #[test]
    fn project_attributes() {
        let out = projected(
            users(),
            full_user(),
            &["USERNAME", "name.givenName", "nope", "password"],
            &[],
        );
        assert_eq!(
            out,
            json!({
                "schemas": [USER],
                "id": "2819c223",
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
            })
        );
        // Sub-attribute of a multi-valued attribute, and an extension attribute.
        let out = projected(
            users(),
            full_user(),
            &[
                "emails.value",
                &format!("{ENTERPRISE_USER}:department"),
                "meta.lastModified",
            ],
            &[],
        );
        assert_eq!(
            out,
            json!({
                "schemas": [USER, ENTERPRISE_USER],
                "id": "2819c223",
                "meta": {"lastModified": "2011-05-13T04:42:34Z"},
                "emails": [{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}],
                ENTERPRISE_USER: {"department": "Tour Operations"},
            })
        );
        // The whole extension by its URN.
        let out = projected(
            users(),
            full_user(),
            &[&ENTERPRISE_USER.to_lowercase()],
            &[],
        );
        assert_eq!(
            out,
            json!({
                "schemas": [USER, ENTERPRISE_USER],
                "id": "2819c223",
                ENTERPRISE_USER: {"employeeNumber": "701984", "department": "Tour Operations"},
            })
        );
        // Only unknown names: just what is always returned.
        let out = projected(users(), full_user(), &["nope"], &[]);
        assert_eq!(out, json!({"schemas": [USER], "id": "2819c223"}));
        // `attributes` wins over `excludedAttributes`.
        let out = projected(users(), full_user(), &["userName"], &["userName"]);
        assert_eq!(
            out,
            json!({"schemas": [USER], "id": "2819c223", "userName": "bjensen"})
        );
    }

    #[test]
    fn project_excluded() {
        let group = json!({
            "schemas": [GROUP],
            "id": "e9e30dba",
            "displayName": "Tour Guides",
            "members": [{"value": "2819c223", "$ref": "https://example.com/v2/Users/2819c223", "type": "User"}],
            "meta": {"resourceType": "Group", "location": "https://example.com/v2/Groups/e9e30dba"},
        })
        .as_object()
        .unwrap()
        .clone();
        let out = projected(groups(), group.clone(), &[], &["MEMBERS"]);
        assert_eq!(
            out,
            json!({
                "schemas": [GROUP],
                "id": "e9e30dba",
                "displayName": "Tour Guides",
                "meta": {"resourceType": "Group", "location": "https://example.com/v2/Groups/e9e30dba"},
            })
        );
        // `id` and `schemas` cannot be excluded; unknown names are ignored.
        let out = projected(
            groups(),
            group,
            &[],
            &["id", "schemas", "nope", "members.$ref", "meta"],
        );
        assert_eq!(
            out,
            json!({
                "schemas": [GROUP],
                "id": "e9e30dba",
                "displayName": "Tour Guides",
                "members": [{"value": "2819c223", "type": "User"}],
            })
        );
        // Excluding every attribute of the extension removes it, and its URN from `schemas`.
        let out = projected(
            users(),
            full_user(),
            &[],
            &[
                &format!("{ENTERPRISE_USER}:employeeNumber"),
                &format!("{ENTERPRISE_USER}:department"),
                "name.givenName",
                "emails",
            ],
        );
        let mut want = full_user();
        for key in ["password", "emails", ENTERPRISE_USER] {
            want.remove(key);
        }
        want.insert("schemas".into(), json!([USER]));
        want.insert("name".into(), json!({"familyName": "Jensen"}));
        assert_eq!(out, Value::Object(want));
        // The whole extension by its URN.
        let out = projected(users(), full_user(), &[], &[ENTERPRISE_USER]);
        let out = out.as_object().unwrap();
        assert!(!out.contains_key(ENTERPRISE_USER));
        assert_eq!(out["schemas"], json!([USER]));
    }

    // --- discovery -----------------------------------------------------------------------

    const BASE: &str = "https://host/t/acme/scim/v2";

    #[test]
    fn schema_documents() {
        for schema in all_schemas() {
            let doc = schema_document(schema, BASE);
            assert_eq!(doc["id"], json!(schema.id));
            assert_eq!(doc["name"], json!(schema.name));
            assert_eq!(
                doc["schemas"],
                json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
            );
            assert_eq!(
                doc["meta"],
                json!({"resourceType": "Schema", "location": format!("{BASE}/Schemas/{}", schema.id)})
            );
            assert_eq!(
                doc["attributes"].as_array().unwrap().len(),
                schema.attributes.len()
            );
        }
        let user = schema_document(&users().core, BASE);
        assert_eq!(user["description"], json!("User Account"));
        assert_eq!(user["attributes"][0]["uniqueness"], json!("server"));
        assert_eq!(user["attributes"][4]["referenceTypes"], json!(["external"]));

        // A schema without an embedded document is described from its definition.
        let custom = Schema {
            id: "urn:example:custom".into(),
            name: "Custom".into(),
            attributes: vec![users().core.attribute("name").unwrap().clone()],
        };
        let doc = schema_document(&custom, BASE);
        assert_eq!(doc["attributes"][0]["name"], json!("name"));
        assert_eq!(doc["attributes"][0]["type"], json!("complex"));
        assert_eq!(
            doc["attributes"][0]["subAttributes"][2]["name"],
            json!("givenName")
        );
    }

    #[test]
    fn resource_type_documents() {
        assert_eq!(
            resource_type_document(users(), BASE),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER,
                "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
                "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/User")},
            })
        );
        assert_eq!(
            resource_type_document(groups(), BASE),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                "id": "Group",
                "name": "Group",
                "endpoint": "/Groups",
                "description": "Group",
                "schema": GROUP,
                "meta": {"resourceType": "ResourceType", "location": format!("{BASE}/ResourceTypes/Group")},
            })
        );
    }

    #[test]
    fn service_provider_config_document() {
        let doc = service_provider_config(
            BASE,
            &Limits {
                max_operations: 1000,
                max_payload_size: 1_048_576,
                max_results: 200,
            },
        );
        assert_eq!(
            doc["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
        );
        assert_eq!(doc["patch"], json!({"supported": true}));
        assert_eq!(
            doc["bulk"],
            json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1_048_576})
        );
        assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 200}));
        for feature in ["changePassword", "sort", "etag"] {
            assert_eq!(doc[feature], json!({"supported": true}), "{feature}");
        }
        let scheme = &doc["authenticationSchemes"][0];
        assert_eq!(scheme["type"], json!("oauthbearertoken"));
        assert_eq!(scheme["name"], json!("OAuth Bearer Token"));
        assert_eq!(scheme["primary"], json!(true));
        assert!(doc.get("documentationUri").is_none());
        assert_eq!(
            doc["meta"],
            json!({"resourceType": "ServiceProviderConfig", "location": format!("{BASE}/ServiceProviderConfig")})
        );
    }
}
