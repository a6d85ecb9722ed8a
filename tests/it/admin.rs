//! The admin REST API (`/api/v1`): real tokens from Plinto's token endpoint
//! (client_credentials with clients made by `plinto admin-client create`), real HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

const PROBLEM: &str = "application/problem+json";

async fn start() -> TestServer {
    // The clock stands still: the default per-second limits would count over a whole test.
    TestServer::start_with(|c| c.rate_limits = "off".into()).await
}

/// A machine client of `tenant` made by the CLI, as the operator would.
fn admin_client(s: &TestServer, tenant: &str, read_only: bool) -> (String, String) {
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

async fn token_of(s: &TestServer, tenant: &str, id: &str, secret: &str) -> String {
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

async fn admin_token(s: &TestServer, tenant: &str, read_only: bool) -> (String, String) {
    let (id, secret) = admin_client(s, tenant, read_only);
    (token_of(s, tenant, &id, &secret).await, id)
}

struct Api<'a> {
    s: &'a TestServer,
    token: String,
    http: reqwest::Client,
}

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    content_type: String,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl<'a> Api<'a> {
    fn new(s: &'a TestServer, token: &str) -> Self {
        Self {
            s,
            token: token.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn call(
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
    async fn keyed(&self, path: &str, key: &str, body: Value) -> (u16, bool, Value) {
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

    async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(
            Method::POST,
            path,
            Some(("application/json", body.to_string())),
            None,
        )
        .await
    }

    async fn patch(&self, path: &str, body: Value, if_match: Option<&str>) -> Answer {
        self.call(
            Method::PATCH,
            path,
            Some(("application/merge-patch+json", body.to_string())),
            if_match,
        )
        .await
    }

    async fn delete(&self, path: &str, if_match: Option<&str>) -> Answer {
        self.call(Method::DELETE, path, None, if_match).await
    }
}

/// A problem document of this kind and status.
fn problem(a: &Answer, status: u16, kind: &str) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_created_changed_with_merge_patch_and_deleted_with_confirmation() {
    let s = start().await;
    let (token, client_id) = admin_token(&s, "default", false).await;
    let api = Api::new(&s, &token);

    let created = api
        .post("/tenants", json!({ "slug": "acme", "name": "Acme" }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["slug"], "acme");
    assert_eq!(created.body["issuer"], s.url("/t/acme"));
    assert_eq!(created.body["mfa_policy"], "optional");
    assert_eq!(
        created.headers["location"].to_str().unwrap(),
        s.url("/api/v1/tenants/acme")
    );
    let first = created.etag.clone().unwrap();
    let again = api.post("/tenants", json!({ "slug": "acme" })).await;
    problem(&again, 409, "conflict");

    let got = api.get("/tenants/acme").await;
    assert_eq!(got.status, 200);
    assert_eq!(got.etag.as_deref(), Some(first.as_str()));
    let list = api.get("/tenants").await;
    let slugs: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "default"]);

    // Merge patch: members given change, `null` removes the tenant's own limits, the rest stay.
    let changed = api
        .patch(
            "/tenants/acme",
            json!({ "allow_signup": true, "rate_limits": "login=5/min" }),
            Some(&first),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["allow_signup"], true);
    assert_eq!(changed.body["rate_limits"], "login=5/min");
    assert_eq!(changed.body["require_email_verification"], false);
    let second = changed.etag.clone().unwrap();
    assert_ne!(first, second);
    // A second admin still holding the first version is refused, and nothing changes.
    let stale = api
        .patch(
            "/tenants/acme",
            json!({ "allow_signup": false }),
            Some(&first),
        )
        .await;
    problem(&stale, 412, "precondition-failed");
    assert_eq!(api.get("/tenants/acme").await.body["allow_signup"], true);
    let cleared = api
        .patch(
            "/tenants/acme",
            json!({ "rate_limits": null, "mfa_policy": "required" }),
            Some(&second),
        )
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(cleared.body["rate_limits"], Value::Null);
    assert_eq!(cleared.body["mfa_policy"], "required");
    assert_eq!(cleared.body["allow_signup"], true);
    // A setting that cannot be removed, and a value the domain refuses: 422 naming the field.
    let removed = api
        .patch("/tenants/acme", json!({ "allow_signup": null }), None)
        .await;
    problem(&removed, 422, "invalid");
    assert_eq!(removed.body["errors"][0]["field"], "allow_signup");
    let bad_limits = api
        .patch(
            "/tenants/acme",
            json!({ "rate_limits": "login=lots" }),
            None,
        )
        .await;
    problem(&bad_limits, 422, "invalid");
    assert_eq!(bad_limits.body["errors"][0]["field"], "rate_limits");

    // Delete needs ?confirm=<slug>; then the tenant is gone.
    let unconfirmed = api.delete("/tenants/acme", None).await;
    problem(&unconfirmed, 400, "bad-request");
    assert_eq!(unconfirmed.body["errors"][0]["field"], "confirm");
    let wrong = api.delete("/tenants/acme?confirm=default", None).await;
    problem(&wrong, 400, "bad-request");
    let stale = api.delete("/tenants/acme?confirm=acme", Some(&first)).await;
    problem(&stale, 412, "precondition-failed");
    let current = cleared.etag.unwrap();
    let gone = api
        .delete("/tenants/acme?confirm=acme", Some(&current))
        .await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    problem(&api.get("/tenants/acme").await, 404, "not-found");
    let boot = api.delete("/tenants/default?confirm=default", None).await;
    problem(&boot, 422, "invalid");
    assert_eq!(
        s.get_tenant_http(&format!("/t/acme{}", "/.well-known/openid-configuration"))
            .await,
        404
    );

    // Every change is audited with the machine client as the actor.
    let actor = format!("client:{client_id}");
    let mine: Vec<String> = s
        .audit_actions()
        .await
        .into_iter()
        .filter(|(_, a, _)| *a == actor)
        .map(|(action, _, _)| action)
        .collect();
    assert_eq!(
        mine,
        [
            "tenant.create",
            "tenant.update",
            "tenant.update",
            "tenant.delete"
        ]
    );
    s.stop().await;
}

impl TestServer {
    async fn get_tenant_http(&self, path: &str) -> u16 {
        reqwest::get(self.url(path))
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_token_reaches_only_its_tenant_and_read_only_never_writes() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    s.create_tenant("globex", false).await;
    s.create_user("globex", "g@globex.test", "correct horse battery")
        .await;
    let (acme, _) = admin_token(&s, "acme", false).await;
    let api = Api::new(&s, &acme);

    // Its own tenant: yes.
    assert_eq!(api.get("/tenants/acme").await.status, 200);
    let made = api
        .post("/tenants/acme/users", json!({ "email": "a@acme.test" }))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let list = api.get("/tenants").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["slug"], "acme");
    // Another tenant, existing or not: the same 404, so names do not leak.
    let other = api.get("/tenants/globex").await;
    problem(&other, 404, "not-found");
    let none = api.get("/tenants/nosuch").await;
    problem(&none, 404, "not-found");
    assert_eq!(other.body["detail"], none.body["detail"]);
    problem(&api.get("/tenants/globex/users").await, 404, "not-found");
    problem(&api.get("/tenants/default/clients").await, 404, "not-found");
    problem(
        &api.post("/tenants/globex/users", json!({ "email": "x@globex.test" }))
            .await,
        404,
        "not-found",
    );
    // Only platform callers create tenants.
    problem(
        &api.post("/tenants", json!({ "slug": "initech" })).await,
        403,
        "forbidden",
    );

    // Read-only platform token: reads everything, writes nothing.
    let (ro, _) = admin_token(&s, "default", true).await;
    let ro = Api::new(&s, &ro);
    assert_eq!(ro.get("/tenants/globex/users").await.status, 200);
    let refused = ro
        .post("/tenants/globex/users", json!({ "email": "r@globex.test" }))
        .await;
    problem(&refused, 403, "forbidden");
    assert!(
        refused.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    problem(
        &ro.patch("/tenants/globex", json!({ "allow_signup": true }), None)
            .await,
        403,
        "forbidden",
    );
    problem(
        &ro.delete("/tenants/globex?confirm=globex", None).await,
        403,
        "forbidden",
    );
    assert_eq!(ro.get("/tenants/globex").await.body["allow_signup"], false);

    // No token, a bad token, a token without the admin scope.
    let anon = Api::new(&s, "");
    let res = reqwest::get(s.url("/api/v1/tenants")).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    problem(&anon.get("/tenants").await, 401, "unauthorized");
    let forged = format!("{}x", &acme[..acme.len() - 1]);
    problem(
        &Api::new(&s, &forged).get("/tenants").await,
        401,
        "unauthorized",
    );
    let plain = s.cli(&[
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "m2m",
        "--grant-type",
        "client_credentials",
        "--scope",
        "reports",
    ]);
    let plain: Value = serde_json::from_slice(&plain.stdout).unwrap();
    let plain_token = token_of(
        &s,
        "acme",
        plain["client_id"].as_str().unwrap(),
        plain["client_secret"].as_str().unwrap(),
    )
    .await;
    problem(
        &Api::new(&s, &plain_token).get("/tenants/acme").await,
        403,
        "forbidden",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_created_listed_by_cursor_changed_disabled_and_deleted() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    let (token, _) = admin_token(&s, "default", false).await;
    let api = Api::new(&s, &token);

    let made = api
        .post(
            "/tenants/acme/users",
            json!({ "email": "Ann@Acme.test", "name": "Ann", "password": "a long enough password" }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let id = made.body["id"].as_str().unwrap().to_string();
    assert_eq!(made.body["status"], "active");
    assert_eq!(made.body["user_name"], "Ann@Acme.test");
    assert!(made.body.get("password").is_none());
    let user = format!("/tenants/acme/users/{id}");
    assert_eq!(
        made.headers["location"].to_str().unwrap(),
        s.url(&format!("/api/v1{user}"))
    );
    problem(
        &api.post("/tenants/acme/users", json!({ "email": "ann@acme.test" }))
            .await,
        409,
        "conflict",
    );
    problem(
        &api.post("/tenants/acme/users", json!({ "email": "not an address" }))
            .await,
        422,
        "invalid",
    );

    let got = api.get(&user).await;
    assert_eq!(got.status, 200);
    let v1 = got.etag.unwrap();
    let renamed = api
        .patch(
            &user,
            json!({ "name": "Ann B", "email_verified": true }),
            Some(&v1),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Ann B");
    assert_eq!(renamed.body["email_verified"], true);
    let v2 = renamed.etag.unwrap();
    problem(
        &api.patch(&user, json!({ "name": "Stale" }), Some(&v1))
            .await,
        412,
        "precondition-failed",
    );
    let unnamed = api.patch(&user, json!({ "name": null }), Some(&v2)).await;
    assert_eq!(unnamed.body["name"], Value::Null, "{}", unnamed.body);

    // Disable ends the user's sign-in; enable brings it back; both are versions.
    let disabled = api
        .call(Method::POST, &format!("{user}/disable"), None, None)
        .await;
    assert_eq!(disabled.body["status"], "disabled", "{}", disabled.body);
    let login = s
        .browser()
        .login("acme", "ann@acme.test", "a long enough password")
        .await;
    assert!(
        !login.status().is_redirection(),
        "a disabled user signed in"
    );
    let only_disabled = api.get("/tenants/acme/users?status=disabled").await;
    assert_eq!(only_disabled.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get("/tenants/acme/users?status=active").await.body["items"],
        json!([])
    );
    problem(
        &api.call(
            Method::POST,
            &format!("{user}/enable"),
            None,
            Some(unnamed.etag.as_deref().unwrap()),
        )
        .await,
        412,
        "precondition-failed",
    );
    let enabled = api
        .call(
            Method::POST,
            &format!("{user}/enable"),
            None,
            disabled.etag.as_deref(),
        )
        .await;
    assert_eq!(enabled.body["status"], "active", "{}", enabled.body);

    // Search by address and by userName, case-insensitively.
    let by_email = api.get("/tenants/acme/users?email=ANN%40acme.test").await;
    assert_eq!(by_email.body["items"][0]["id"], id.as_str());
    let by_name = api
        .get("/tenants/acme/users?user_name=ann%40ACME.test")
        .await;
    assert_eq!(by_name.body["items"][0]["id"], id.as_str());
    assert_eq!(
        api.get("/tenants/acme/users?email=bob%40acme.test")
            .await
            .body["items"],
        json!([])
    );

    let deleted = api.delete(&user, enabled.etag.as_deref()).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    problem(&api.get(&user).await, 404, "not-found");
    problem(
        &api.get("/tenants/acme/users/not-a-uuid").await,
        404,
        "not-found",
    );
    let actions: Vec<String> = s.audit_actions().await.into_iter().map(|a| a.0).collect();
    for a in [
        "user.create",
        "user.update",
        "user.disable",
        "user.enable",
        "user.delete",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not audited: {actions:?}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_pages_miss_nothing_and_repeat_nothing_while_users_are_added() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    let (token, _) = admin_token(&s, "default", true).await;
    let api = Api::new(&s, &token);
    let tenant = plinto::tenants::find_by_slug(&s.state.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let add = |n: usize| {
        let state = s.state.clone();
        async move {
            plinto::accounts::users::create(
                &state.db,
                state.now(),
                &state.hasher,
                tenant.id,
                plinto::accounts::users::NewUser {
                    email: format!("u{n}@acme.test"),
                    password: None,
                    name: None,
                    email_verified: false,
                    is_admin: false,
                    must_change_password: false,
                },
                plinto::audit::actions::USER_CREATE,
                Some("test"),
                &Default::default(),
            )
            .await
            .unwrap()
            .id
            .to_string()
        }
    };
    let mut before = Vec::new();
    for n in 0..23 {
        before.push(add(n).await);
    }
    let mut seen: Vec<String> = Vec::new();
    let mut added = Vec::new();
    let mut next = Some("/tenants/acme/users?limit=5".to_string());
    let mut n = 100;
    while let Some(page) = next {
        // Others add users while the pages are read, at the same time as each request.
        let (answer, a, b) = tokio::join!(api.get(&page), add(n), add(n + 1));
        n += 2;
        added.extend([a, b]);
        assert_eq!(answer.status, 200, "{}", answer.body);
        let items = answer.body["items"].as_array().unwrap();
        assert!(items.len() <= 5);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        next = answer.body["next"].as_str().map(str::to_string);
        assert!(n < 400, "the pages never end");
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "a user was listed twice");
    for id in &before {
        assert!(
            seen.contains(id),
            "{id}, there before the listing began, was missed"
        );
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, seen, "not in id order");
    // Bad limits and cursors are the caller's fault.
    let bad = api.get("/tenants/acme/users?limit=0").await;
    problem(&bad, 400, "bad-request");
    assert_eq!(bad.body["errors"][0]["field"], "limit");
    problem(
        &api.get("/tenants/acme/users?limit=abc").await,
        400,
        "bad-request",
    );
    problem(
        &api.get("/tenants/acme/users?cursor=%21%21").await,
        400,
        "bad-request",
    );
    problem(
        &api.get("/tenants/acme/users?status=gone").await,
        400,
        "bad-request",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_registered_with_a_secret_shown_once_rotated_and_deleted_and_audit_queried() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    let (token, admin_id) = admin_token(&s, "acme", false).await;
    let api = Api::new(&s, &token);

    let made = api
        .post(
            "/tenants/acme/clients",
            json!({ "name": "Backend", "grant_types": ["client_credentials"], "scopes": ["reports"] }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let client_id = made.body["client"]["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let first_secret = made.body["client_secret"].as_str().unwrap().to_string();
    assert_eq!(
        made.body["client"]["grant_types"],
        json!(["client_credentials"])
    );
    let path = format!("/tenants/acme/clients/{client_id}");
    let got = api.get(&path).await;
    assert_eq!(got.status, 200);
    assert!(!got.body.to_string().contains(&first_secret));
    assert!(got.body.get("client_secret").is_none());
    let listed = api.get("/tenants/acme/clients").await;
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == client_id.as_str())
    );
    problem(
        &api.post(
            "/tenants/acme/clients",
            json!({ "name": "x", "redirect_uris": ["http://evil.example/cb"] }),
        )
        .await,
        422,
        "invalid",
    );

    // Changed by merge patch, under the registration rules, against its version.
    let changed = api
        .patch(
            &path,
            json!({ "name": "Backend 2", "cors_origins": ["https://app.example.com"] }),
            got.etag.as_deref(),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["name"], "Backend 2");
    assert_eq!(
        changed.body["cors_origins"],
        json!(["https://app.example.com"])
    );
    assert_eq!(changed.body["grant_types"], json!(["client_credentials"]));
    problem(
        &api.patch(&path, json!({ "name": "Stale" }), got.etag.as_deref())
            .await,
        412,
        "precondition-failed",
    );
    let needs_uri = api
        .patch(
            &path,
            json!({ "grant_types": ["authorization_code"] }),
            None,
        )
        .await;
    problem(&needs_uri, 422, "invalid");
    assert_eq!(needs_uri.body["errors"][0]["field"], "redirect_uri");
    problem(
        &api.patch(&path, json!({ "name": null }), None).await,
        422,
        "invalid",
    );
    assert_eq!(api.get(&path).await.body["name"], "Backend 2");

    // A new secret works at once, the old one no longer.
    token_of(&s, "acme", &client_id, &first_secret).await;
    let rotated = api
        .call(
            Method::POST,
            &format!("{path}/secret"),
            None,
            changed.etag.as_deref(),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let second_secret = rotated.body["client_secret"].as_str().unwrap().to_string();
    assert_ne!(first_secret, second_secret);
    token_of(&s, "acme", &client_id, &second_secret).await;
    let old = reqwest::Client::new()
        .post(s.url("/t/acme/oauth2/token"))
        .basic_auth(&client_id, Some(&first_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);

    // The secret is in the ETag's representation? No: but the delete below needs a fresh read.
    problem(
        &api.delete(&path, Some("\"0000\"")).await,
        412,
        "precondition-failed",
    );
    let current = api.get(&path).await.etag.unwrap();
    assert_eq!(api.delete(&path, Some(&current)).await.status, 204);
    problem(&api.get(&path).await, 404, "not-found");

    // The audit trail of the tenant: newest first, by actor, a page at a time.
    let actor = format!("client:{admin_id}");
    let q = format!(
        "/tenants/acme/audit-events?limit=2&actor={}",
        urlencode(&actor)
    );
    let page1 = api.get(&q).await;
    assert_eq!(page1.status, 200, "{}", page1.body);
    let actions = |a: &Answer| -> Vec<String> {
        a.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(actions(&page1), ["client.delete", "client.secret_rotate"]);
    let page2 = api.get(page1.body["next"].as_str().unwrap()).await;
    assert_eq!(actions(&page2), ["client.update", "client.create"]);
    assert_eq!(page2.body["next"], Value::Null);
    let ids: Vec<i64> = page1.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2.body["items"].as_array().unwrap())
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let created = api
        .get("/tenants/acme/audit-events?action=client.create")
        .await;
    assert_eq!(actions(&created).len(), 2, "{}", created.body); // the CLI's and the API's
    // A time range: nothing from before the clock's now, everything up to a minute on.
    let now = s.state.now();
    let later = (now + chrono::Duration::minutes(1)).to_rfc3339();
    let window = api
        .get(&format!(
            "/tenants/acme/audit-events?from={}&until={}",
            urlencode(&(now - chrono::Duration::seconds(1)).to_rfc3339()),
            urlencode(&later)
        ))
        .await;
    assert!(!actions(&window).is_empty());
    let future = api
        .get(&format!(
            "/tenants/acme/audit-events?from={}",
            urlencode(&later)
        ))
        .await;
    assert_eq!(future.body["items"], json!([]));
    problem(
        &api.get("/tenants/acme/audit-events?from=yesterday").await,
        400,
        "bad-request",
    );
    // Another tenant's trail is not found.
    problem(
        &api.get("/tenants/default/audit-events").await,
        404,
        "not-found",
    );
    s.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_with_problem_json_never_a_500() {
    let s = start().await;
    let (token, _) = admin_token(&s, "default", false).await;
    let api = Api::new(&s, &token);
    let raw = |ct: &'static str, body: &'static str| Some((ct, body.to_string()));

    let a = api
        .call(
            Method::POST,
            "/tenants",
            raw("application/json", "{\"slug\": "),
            None,
        )
        .await;
    problem(&a, 400, "bad-request");
    let a = api
        .call(
            Method::POST,
            "/tenants",
            raw("application/json", "{\"slug\":\"a\"} x"),
            None,
        )
        .await;
    problem(&a, 400, "bad-request");
    let a = api
        .post("/tenants", json!({ "slug": "acme", "admin": true }))
        .await;
    problem(&a, 422, "invalid");
    assert_eq!(a.body["errors"][0]["field"], "admin", "{}", a.body);
    let a = api.post("/tenants", json!({ "slug": 7 })).await;
    problem(&a, 422, "invalid");
    assert_eq!(a.body["errors"][0]["field"], "slug", "{}", a.body);
    let a = api.post("/tenants", json!({})).await;
    problem(&a, 422, "invalid");
    let a = api.post("/tenants", json!(["slug"])).await;
    problem(&a, 422, "invalid");
    let a = api.post("/tenants", json!({ "slug": "Not A Slug" })).await;
    problem(&a, 422, "invalid");
    assert_eq!(a.body["errors"][0]["field"], "slug");
    let a = api
        .post("/tenants", json!({ "slug": "nul\u{0}byte" }))
        .await;
    problem(&a, 422, "invalid");
    let a = api
        .call(
            Method::POST,
            "/tenants",
            raw("text/plain", "slug=acme"),
            None,
        )
        .await;
    problem(&a, 415, "unsupported-media-type");
    let a = api
        .call(Method::POST, "/tenants", raw("application/json", ""), None)
        .await;
    problem(&a, 400, "bad-request");
    let big = format!("{{\"slug\":\"{}\"}}", "a".repeat(100 * 1024));
    let a = api
        .call(
            Method::POST,
            "/tenants",
            Some(("application/json", big)),
            None,
        )
        .await;
    problem(&a, 413, "payload-too-large");
    let a = api
        .patch(
            "/tenants/default",
            json!({ "mfa_policy": "sometimes" }),
            None,
        )
        .await;
    problem(&a, 422, "invalid");
    assert_eq!(a.body["errors"][0]["field"], "mfa_policy", "{}", a.body);
    let a = api
        .call(
            Method::PUT,
            "/tenants/default",
            raw("application/json", "{}"),
            None,
        )
        .await;
    problem(&a, 405, "method-not-allowed");
    problem(&api.get("/nothing/here").await, 404, "not-found");
    problem(&api.get("/tenants/nul%00byte").await, 404, "not-found");
    problem(
        &api.get("/tenants/default/users?email=a%00b&cursor=").await,
        400,
        "bad-request",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_valid_and_the_server_keeps_to_it_under_schemathesis() {
    let s = start().await;
    let (token, _) = admin_token(&s, "default", false).await;
    s.create_tenant("acme", false).await;
    let user = s
        .create_user("acme", "known@acme.test", "correct horse battery")
        .await;
    let (client_id, _) = admin_client(&s, "acme", false);

    let doc: Value = reqwest::get(s.url("/api/v1/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], s.url("/api/v1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for path in [
        "/tenants",
        "/tenants/{tenant}",
        "/tenants/{tenant}/users",
        "/tenants/{tenant}/users/{user}",
        "/tenants/{tenant}/clients/{client}/secret",
        "/tenants/{tenant}/audit-events",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    let page = reqwest::get(s.url("/api/v1/docs")).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("PATCH /tenants/{tenant}/users/{user}"),
        "{html}"
    );
    assert!(html.contains("ProblemBody") && !html.contains("<script"));

    let out = crate::outside::python(
        "admin_openapi.py",
        &[
            ("PLINTO_API", &s.url("/api/v1")),
            ("PLINTO_TOKEN", &token),
            ("MAX_EXAMPLES", "20"),
            ("TENANT", "acme"),
            ("USER_ID", &user.id.to_string()),
            ("CLIENT_ID", &client_id),
            ("WORK_DIR", s.dir.path().to_str().unwrap()),
        ],
    )
    .await;
    eprintln!("{}", out["summary"].as_str().unwrap_or(""));
    assert_eq!(out["spec_valid"], true, "{out}");
    assert_eq!(out["schemathesis_exit"], 0, "{out}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_post_with_an_idempotency_key_answers_the_first_result() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    let (token, _) = admin_token(&s, "default", false).await;
    let api = Api::new(&s, &token);
    let post = |path: &'static str, key: &'static str, body: Value| api.keyed(path, key, body);

    let ann = json!({ "email": "ann@acme.test" });
    let (st, replayed, first) = post("/tenants/acme/users", "k-1", ann.clone()).await;
    assert_eq!((st, replayed), (201, false), "{first}");
    let (st, replayed, again) = post("/tenants/acme/users", "k-1", ann.clone()).await;
    assert_eq!((st, replayed), (201, true), "{again}");
    assert_eq!(again, first);
    let list = api.get("/tenants/acme/users").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    // The same key for another request is refused; without a key, the duplicate is a 409.
    let (st, _, other) = post(
        "/tenants/acme/users",
        "k-1",
        json!({ "email": "bob@acme.test" }),
    )
    .await;
    assert_eq!(st, 422, "{other}");
    assert_eq!(other["errors"][0]["field"], "Idempotency-Key");
    problem(
        &api.post("/tenants/acme/users", ann.clone()).await,
        409,
        "conflict",
    );
    // A failed first request keeps nothing: corrected, the same key runs.
    let (st, _, _) = post("/tenants/acme/users", "k-2", json!({ "email": "nope" })).await;
    assert_eq!(st, 422);
    let (st, replayed, _) = post("/tenants/acme/users", "k-2", json!({ "email": "nope" })).await;
    assert_eq!((st, replayed), (422, false));

    // A client's secret comes back on a retry (to the same caller), and is not stored in clear.
    let app = json!({ "name": "Batch", "grant_types": ["client_credentials"], "scopes": ["x"] });
    let (st, _, made) = post("/tenants/acme/clients", "k-3", app.clone()).await;
    assert_eq!(st, 201, "{made}");
    let (_, replayed, again) = post("/tenants/acme/clients", "k-3", app.clone()).await;
    assert!(replayed);
    assert_eq!(again["client"]["client_id"], made["client"]["client_id"]);
    assert_eq!(again["client_secret"], made["client_secret"]);
    use sea_orm::EntityTrait;
    let rows = entity::admin_idempotency_key::Entity::find()
        .all(&s.state.db)
        .await
        .unwrap();
    let secret = made["client_secret"].as_str().unwrap();
    assert!(
        rows.iter()
            .all(|r| !r.response.clone().unwrap_or_default().contains(secret))
    );
    let clients = api.get("/tenants/acme/clients").await;
    assert_eq!(clients.body["items"].as_array().unwrap().len(), 1);

    // Keys are kept for a day: after it, the same key runs again (and finds the user exists).
    s.clock.advance(chrono::Duration::hours(25));
    let (token, _) = admin_token(&s, "default", false).await;
    let late = Api::new(&s, &token);
    let res = late
        .http
        .post(s.url("/api/v1/tenants/acme/users"))
        .bearer_auth(&late.token)
        .header("content-type", "application/json")
        .header("idempotency-key", "k-1")
        .body(ann.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let bad = late
        .http
        .post(s.url("/api/v1/tenants/acme/users"))
        .bearer_auth(&late.token)
        .header("content-type", "application/json")
        .header("idempotency-key", "")
        .body(ann.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_admin_gets_the_admin_scope_by_the_code_flow_and_other_users_do_not() {
    use crate::oidc::{
        REDIRECT, VERIFIER, authorize, authorize_path, challenge, exchange, param, params_of,
    };
    let s = start().await;
    let rp = crate::oidc::client(&s, |c| {
        c.scopes = vec!["openid".into(), "admin".into()];
        c.skip_consent = true;
    })
    .await;
    let chal = challenge(VERIFIER);
    let p = [
        ("response_type", "code"),
        ("client_id", rp.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid admin"),
        ("state", "st"),
        ("code_challenge", chal.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let token_as = |email: &'static str, password: &'static str| {
        let (s, rp, p) = (&s, &rp, &p);
        async move {
            let b = s.browser();
            let res = authorize(&b, &authorize_path(p), email, password).await;
            assert_eq!(res.status(), StatusCode::FOUND);
            let code = param(&params_of(&res), "code").unwrap().to_string();
            let res = exchange(s, rp, &code).await;
            assert_eq!(res.status(), 200);
            let v: Value = res.json().await.unwrap();
            (
                v["access_token"].as_str().unwrap().to_string(),
                v["scope"].as_str().unwrap().to_string(),
            )
        }
    };

    let (admin, scope) = token_as(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(scope, "openid admin");
    let api = Api::new(&s, &admin);
    assert_eq!(api.get("/tenants").await.status, 200);
    let made = api
        .post(
            "/tenants/default/users",
            json!({ "email": "new@default.test" }),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let boot = plinto::accounts::users::find_by_email(
        &s.state.db,
        plinto::tenants::find_by_slug(&s.state.db, "default")
            .await
            .unwrap()
            .unwrap()
            .id,
        &plinto::accounts::validation::parse_email(ADMIN_EMAIL).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let actor = format!("user:{}", boot.id);
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|(action, who, _)| action == "user.create" && *who == actor)
    );

    // Anyone else signing in through the same client gets no admin scope, and no access.
    s.create_user("default", "plain@default.test", "correct horse battery")
        .await;
    let (plain, scope) = token_as("plain@default.test", "correct horse battery").await;
    assert_eq!(scope, "openid");
    problem(
        &Api::new(&s, &plain).get("/tenants").await,
        403,
        "forbidden",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_caller_has_its_own_limit_answered_as_a_problem() {
    let s = TestServer::start_with(|c| {
        c.rate_limits = "ip=off, admin=3/min, auth_failure=2/min".into()
    })
    .await;
    let (one, _) = admin_token(&s, "default", true).await;
    let (two, _) = admin_token(&s, "default", true).await;
    let one = Api::new(&s, &one);
    for _ in 0..3 {
        assert_eq!(one.get("/tenants").await.status, 200);
    }
    let limited = one.get("/tenants").await;
    problem(&limited, 429, "rate-limited");
    assert!(limited.headers.contains_key("retry-after"));
    // Another caller from the same address is not held back by the first.
    assert_eq!(Api::new(&s, &two).get("/tenants").await.status, 200);
    // The document and the reference are never limited.
    for _ in 0..5 {
        assert_eq!(
            reqwest::get(s.url("/api/v1/openapi.json"))
                .await
                .unwrap()
                .status(),
            200
        );
    }
    // Invalid tokens count per address; once over, even a good token waits.
    let bad = Api::new(&s, "not-a-token");
    problem(&bad.get("/tenants").await, 401, "unauthorized");
    problem(&bad.get("/tenants").await, 401, "unauthorized");
    problem(&bad.get("/tenants").await, 429, "rate-limited");
    s.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(one.get("/tenants").await.status, 200);
    s.stop().await;
}
