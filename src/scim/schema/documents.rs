//! Discovery documents (RFC 7643 §5, §6, §7; RFC 7644 §4): Schemas, ResourceTypes, config.

use serde_json::{Map, Value, json};

use super::{Attribute, REGISTRY, ResourceType, Schema};

impl ResourceType {
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
