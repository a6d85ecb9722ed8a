//! Clients and the audit trail; Idempotency-Key retries.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;

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
async fn scim_tokens_created_shown_once_listed_and_revoked() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    let (token, _) = admin_token(&s, "acme", false).await;
    let api = Api::new(&s, &token);
    let scim = |bearer: String| {
        let url = s.url("/t/acme/scim/v2/Users");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(bearer)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    let made = api
        .post("/tenants/acme/scim-tokens", json!({ "name": "workday" }))
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let secret = made.body["token"].as_str().unwrap().to_string();
    let id = made.body["id"].as_str().unwrap().to_string();
    assert_eq!(scim(secret.clone()).await, 200);
    let list = api.get("/tenants/acme/scim-tokens").await;
    assert_eq!(list.body["items"][0]["name"], "workday");
    assert!(!list.body.to_string().contains(&secret));
    problem(
        &api.post("/tenants/acme/scim-tokens", json!({ "name": "" }))
            .await,
        422,
        "invalid",
    );
    problem(
        &api.get("/tenants/default/scim-tokens").await,
        404,
        "not-found",
    );
    let (ro, _) = admin_token(&s, "acme", true).await;
    problem(
        &Api::new(&s, &ro)
            .delete(&format!("/tenants/acme/scim-tokens/{id}"), None)
            .await,
        403,
        "forbidden",
    );
    let revoked = api
        .delete(&format!("/tenants/acme/scim-tokens/{id}"), None)
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    assert_eq!(scim(secret).await, 401);
    problem(
        &api.delete(&format!("/tenants/acme/scim-tokens/{id}"), None)
            .await,
        404,
        "not-found",
    );
    problem(
        &api.delete("/tenants/acme/scim-tokens/workday", None).await,
        404,
        "not-found",
    );
    s.stop().await;
}
