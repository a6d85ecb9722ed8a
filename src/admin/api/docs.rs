//! `/api/v1/openapi.json` and `/api/v1/docs`: the generated document, and a reference page
//! rendered from it by this binary (no script, nothing from the network).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde_json::Value;

use super::openapi;
use crate::state::AppState;

pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(openapi::document(&state.config.public_url()))
}

struct Param {
    name: String,
    location: String,
    required: bool,
    kind: String,
    description: String,
}

struct Reply {
    status: String,
    description: String,
    kind: String,
}

struct Operation {
    method: String,
    path: String,
    anchor: String,
    summary: String,
    description: String,
    params: Vec<Param>,
    body: Option<String>,
    replies: Vec<Reply>,
}

struct Field {
    name: String,
    kind: String,
    required: bool,
    description: String,
}

struct Schema {
    name: String,
    description: String,
    fields: Vec<Field>,
    values: String,
}

#[derive(Template)]
#[template(path = "admin/docs.html")]
struct Page {
    title: String,
    description: String,
    server: String,
    operations: Vec<Operation>,
    schemas: Vec<Schema>,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// A schema as a short type: `TenantView`, `string`, `array of UserView`, `string or null`.
fn kind(v: &Value) -> String {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_string();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = v.get(key).and_then(Value::as_array) {
            return list.iter().map(kind).collect::<Vec<_>>().join(" or ");
        }
    }
    let base = match v.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    };
    match v.get("items") {
        Some(items) => base.replace("array", &format!("array of {}", kind(items))),
        None => match v.get("format").and_then(Value::as_str) {
            Some(f) => format!("{base} ({f})"),
            None => base,
        },
    }
}

fn content_kind(v: &Value) -> String {
    v.get("content")
        .and_then(Value::as_object)
        .and_then(|c| c.iter().next())
        .map(|(ct, m)| format!("{} ({ct})", kind(m.get("schema").unwrap_or(&Value::Null))))
        .unwrap_or_default()
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        for method in ["get", "post", "patch", "delete"] {
            let Some(op) = item.get(method) else {
                continue;
            };
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| Param {
                            name: text(p, "name"),
                            location: text(p, "in"),
                            required: p.get("required") == Some(&Value::Bool(true)),
                            kind: kind(p.get("schema").unwrap_or(&Value::Null)),
                            description: text(p, "description"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let replies = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|rs| {
                    rs.iter()
                        .map(|(status, r)| Reply {
                            status: status.clone(),
                            description: text(r, "description"),
                            kind: content_kind(r),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let id = text(op, "operationId");
            out.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                anchor: format!("op-{id}"),
                summary: text(op, "summary"),
                description: text(op, "description"),
                params,
                body: op.get("requestBody").map(content_kind),
                replies,
            });
        }
    }
    out
}

fn schemas(doc: &Value) -> Vec<Schema> {
    let Some(all) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    all.iter()
        .map(|(name, s)| {
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let fields = s
                .get("properties")
                .and_then(Value::as_object)
                .map(|ps| {
                    ps.iter()
                        .map(|(f, p)| Field {
                            name: f.clone(),
                            kind: kind(p),
                            required: required.contains(&f.as_str()),
                            description: text(p, "description"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let values = s
                .get("enum")
                .and_then(Value::as_array)
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            Schema {
                name: name.clone(),
                description: text(s, "description"),
                fields,
                values,
            }
        })
        .collect()
}

pub async fn page(state: web::Data<AppState>) -> HttpResponse {
    let doc = openapi::document(&state.config.public_url());
    let page = Page {
        title: doc
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        description: doc
            .pointer("/info/description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        server: doc
            .pointer("/servers/0/url")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        operations: operations(&doc),
        schemas: schemas(&doc),
    };
    match page.render() {
        Ok(html) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "cannot render the API reference");
            crate::ui::error::error_page(
                actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "An unexpected error happened.",
            )
        }
    }
}
