//! The admin REST API (`/api/v1`): real tokens from Plinto's token endpoint
//! (client_credentials with clients made by `plinto admin-client create`, and the
//! authorization code flow), real HTTP. Shared helpers here; one file per subject.

mod access;
mod clients;
mod docs;
mod input;
mod tenants;
mod users;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

pub(super) const PROBLEM: &str = "application/problem+json";

pub(super) async fn start() -> TestServer {
    // The clock stands still: the default per-second limits would count over a whole test.
    TestServer::start_with(|c| c.rate_limits = "off".into()).await
}

/// A machine client of `tenant` made by the CLI, as the operator would.
pub(super) fn admin_client(s: &TestServer, tenant: &str, read_only: bool) -> (String, String) {
    let mut args = vec!["admin-client", "create", "--tenant", tenant];
    if read_only {
        args.push("--read-only");
    }
    let out = s.cli(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let scope = if read_only { "admin:read" } else { "admin" };
    assert_eq!(v["tenant"], tenant);
    assert_eq!(v["scopes"], json!([scope]));
    assert_eq!(v.as_object().unwrap().len(), 4, "{v}");
    (
        v["client_id"].as_str().unwrap().to_string(),
        v["client_secret"].as_str().unwrap().to_string(),
    )
}

pub(super) async fn token_of(s: &TestServer, tenant: &str, id: &str, secret: &str) -> String {
    let res = reqwest::Client::new()
        .post(s.url(&format!("/t/{tenant}/oauth2/token")))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

pub(super) async fn admin_token(s: &TestServer, tenant: &str, read_only: bool) -> (String, String) {
    let (id, secret) = admin_client(s, tenant, read_only);
    (token_of(s, tenant, &id, &secret).await, id)
}

pub(super) struct Api<'a> {
    pub(super) s: &'a TestServer,
    pub(super) token: String,
    pub(super) http: reqwest::Client,
}

pub(super) struct Answer {
    pub(super) status: StatusCode,
    pub(super) etag: Option<String>,
    pub(super) content_type: String,
    pub(super) body: Value,
    pub(super) headers: reqwest::header::HeaderMap,
}

impl<'a> Api<'a> {
    pub(super) fn new(s: &'a TestServer, token: &str) -> Self {
        Self {
            s,
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, String)>,
        if_match: Option<&str>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.s.url(&format!("/api/v1{path}"))
        };
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some((ct, b)) = body {
            req = req.header("content-type", ct).body(b);
        }
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let etag = headers.get("etag").map(|v| v.to_str().unwrap().to_string());
        let content_type = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Answer {
            status,
            etag,
            content_type,
            body,
            headers,
        }
    }

    /// POST with an Idempotency-Key: status, whether the answer is a replay, body.
    pub(super) async fn keyed(&self, path: &str, key: &str, body: Value) -> (u16, bool, Value) {
        let res = self
            .http
            .post(self.s.url(&format!("/api/v1{path}")))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let replayed = res.headers().get("idempotent-replayed").is_some();
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap();
        (status, replayed, body)
    }

    pub(super) async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    pub(super) async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(
            Method::POST,
            path,
            Some(("application/json", body.to_string())),
            None,
        )
        .await
    }

    pub(super) async fn patch(&self, path: &str, body: Value, if_match: Option<&str>) -> Answer {
        self.call(
            Method::PATCH,
            path,
            Some(("application/merge-patch+json", body.to_string())),
            if_match,
        )
        .await
    }

    pub(super) async fn delete(&self, path: &str, if_match: Option<&str>) -> Answer {
        self.call(Method::DELETE, path, None, if_match).await
    }
}

/// A problem document of this kind and status.
pub(super) fn problem(a: &Answer, status: u16, kind: &str) {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    assert!(a.content_type.starts_with(PROBLEM), "{}", a.content_type);
    assert_eq!(
        a.body["type"],
        format!("https://plinto.dev/problems/{kind}"),
        "{}",
        a.body
    );
    assert_eq!(a.body["status"], status);
    assert!(
        a.body["title"].is_string() && a.body["detail"].is_string(),
        "{}",
        a.body
    );
}
