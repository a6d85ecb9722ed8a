//! The OpenAPI 3.1 document of the admin API, generated from the handlers and types by
//! utoipa. The errors every operation can answer are added here once, as problem documents.

use std::sync::LazyLock;

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::problem::{CONTENT_TYPE, FieldError, ProblemBody};
use super::{audit, clients, keys, scim_tokens, tenants, users};

pub const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Plinto Admin API",
        version = "1",
        description = "Manage Plinto's tenants, users, clients and audit trail over HTTP. \
            Authenticate with an access token from Plinto's own token endpoint carrying the \
            `admin` (read and write) or `admin:read` scope; a token of the bootstrap tenant \
            `default` reaches every tenant, any other tenant's token only that tenant. Errors \
            are RFC 9457 problem documents (`application/problem+json`)."
    ),
    paths(
        tenants::list, tenants::create, tenants::get, tenants::patch, tenants::delete,
        users::list, users::create, users::get, users::patch, users::delete,
        users::disable, users::enable, users::reset_mfa, users::sessions, users::revoke_session,
        clients::list, clients::create, clients::get, clients::patch, clients::delete, clients::rotate_secret,
        scim_tokens::list, scim_tokens::create, scim_tokens::revoke,
        keys::list, keys::rotate,
        audit::list,
    ),
    components(schemas(ProblemBody, FieldError)),
    modifiers(&Common),
    security(("bearer" = [])),
    tags(
        (name = "tenants", description = "Tenants and their settings"),
        (name = "users", description = "Users of a tenant"),
        (name = "clients", description = "OAuth 2.0 / OpenID Connect clients of a tenant"),
        (name = "scim-tokens", description = "Bearer tokens of a tenant's SCIM endpoint"),
        (name = "keys", description = "A tenant's JWT signing keys"),
        (name = "audit", description = "The append-only audit trail"),
    )
)]
struct ApiDoc;

struct Common;

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                CONTENT_TYPE,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ProblemBody")))
                    .build(),
            )
            .build(),
    )
}

impl Modify for Common {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token issued by Plinto (client_credentials with a client \
                         made by `plinto admin-client create`), scope admin or admin:read",
                    ))
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            let ops = [
                item.get.as_mut(),
                item.post.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ];
            for op in ops.into_iter().flatten() {
                let has_body = op.request_body.is_some();
                let has_if_match = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| matches!(p, RefOr::T(p) if p.name == "If-Match"))
                });
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(description));
                };
                add(
                    "400",
                    "Malformed input: JSON syntax, a query parameter's form",
                );
                add("401", "No valid access token");
                add("403", "The token's scope does not allow this");
                add("404", "No such resource, or not in the caller's reach");
                add("405", "The address does not accept this method");
                add("429", "Too many requests");
                add("503", "Storage unavailable; try again");
                if has_body {
                    add("413", "The body is too large");
                    add("415", "The body is not JSON");
                    add("422", "Invalid input; `errors` names the fields");
                }
                if has_if_match {
                    add("412", "If-Match does not match the current ETag");
                }
                if op
                    .operation_id
                    .as_deref()
                    .is_some_and(|id| id == "rotate_client_secret")
                {
                    add("422", "The client has no secret");
                }
                if op
                    .operation_id
                    .as_deref()
                    .is_some_and(|id| id == "create_tenant" || id == "create_user")
                {
                    add("409", "Already exists");
                }
            }
        }
    }
}

/// The operations that take an `Idempotency-Key`.
const IDEMPOTENT: [&str; 5] = [
    "create_tenant",
    "create_user",
    "create_client",
    "rotate_client_secret",
    "create_scim_token",
];

static DOCUMENT: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let key = serde_json::json!({
        "name": super::idempotency::HEADER,
        "in": "header",
        "required": false,
        "description": "A retry with the same key and request answers what the first request \
            answered (for 24 hours) instead of doing it again",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$" }
    });
    let reused = serde_json::json!({
        "description": "The Idempotency-Key was used for another request, or invalid input",
        "content": { CONTENT_TYPE: { "schema": { "$ref": "#/components/schemas/ProblemBody" } } }
    });
    let running = serde_json::json!({
        "description": "A request with this Idempotency-Key is still running, or it exists already",
        "content": { CONTENT_TYPE: { "schema": { "$ref": "#/components/schemas/ProblemBody" } } }
    });
    if let Some(paths) = doc.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut() {
            let Some(post) = item.get_mut("post") else {
                continue;
            };
            let id = post
                .get("operationId")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            if !IDEMPOTENT.contains(&id) {
                continue;
            }
            if let Some(obj) = post.as_object_mut() {
                let params = obj
                    .entry("parameters")
                    .or_insert_with(|| serde_json::json!([]));
                if let Some(list) = params.as_array_mut() {
                    list.push(key.clone());
                }
                if let Some(r) = obj.get_mut("responses").and_then(|r| r.as_object_mut()) {
                    r.entry("422").or_insert_with(|| reused.clone());
                    r.entry("409").or_insert_with(|| running.clone());
                }
            }
        }
    }
    doc
});

/// The document, with the server URL of this deployment.
pub fn document(public_url: &str) -> serde_json::Value {
    let mut doc = DOCUMENT.clone();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(
            "servers".into(),
            serde_json::json!([{ "url": format!("{public_url}{}", crate::http::routes::ADMIN_API) }]),
        );
    }
    doc
}
