//! A SCIM client for the tests: a real HTTP client with a tenant's bearer token.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::support::TestServer;

pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PLINTO: &str = "urn:plinto:params:scim:schemas:extension:plinto:2.0:User";
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

#[derive(Clone)]
pub struct Scim {
    /// `{issuer}/scim/v2`
    pub base: String,
    pub token: String,
    http: reqwest::Client,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Assert a SCIM error with this status and `scimType`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.body["schemas"], json!([ERROR]), "{}", self.text);
        assert_eq!(self.body["status"], status.to_string(), "{}", self.text);
        match scim_type {
            Some(t) => assert_eq!(self.body["scimType"], t, "{}", self.text),
            None => assert!(self.body.get("scimType").is_none(), "{}", self.text),
        }
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/scim+json")),
            "{:?}",
            self.headers
        );
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_string()
    }

    /// `Resources[*].<key>` of a list response.
    pub fn list_of(&self, key: &str) -> Vec<String> {
        self.body["Resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| r[key].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Scim {
    /// A client with a new token of tenant `slug` (made through the CLI, as an operator
    /// would).
    pub async fn new(server: &TestServer, slug: &str) -> Self {
        let out = server.cli(&["scim-token", "create", "--tenant", slug, "--name", "entra"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let created: Value = serde_json::from_slice(&out.stdout).unwrap();
        let token = created["token"].as_str().unwrap().to_string();
        Self::with_token(server, slug, &token)
    }

    pub fn with_token(server: &TestServer, slug: &str, token: &str) -> Self {
        Self {
            base: server.url(&format!("/t/{slug}/scim/v2")),
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PUT, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Resp {
        self.send(Method::PATCH, path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(Method::DELETE, path, None, &[]).await
    }

    /// PATCH with these operations.
    pub async fn patch_ops(&self, path: &str, ops: Value) -> Resp {
        self.patch(path, &json!({ "schemas": [PATCH_OP], "Operations": ops }))
            .await
    }

    /// GET `/Users?filter=…` (URL-encoded here).
    pub async fn filter(&self, resource: &str, filter: &str) -> Resp {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", filter)
            .finish();
        self.get(&format!("/{resource}?{q}")).await
    }

    /// Create a user (201 asserted); its representation.
    pub async fn create_user(&self, body: Value) -> Value {
        let r = self.post("/Users", &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body
    }
}

/// A User body in the shape Entra ID sends.
pub fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "displayName": format!("Display {user_name}"),
        "name": { "formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada" },
        "emails": [{ "primary": true, "type": "work", "value": user_name }],
        "title": "Engineer",
        ENTERPRISE: { "department": "Research", "employeeNumber": "E-1" }
    })
}
