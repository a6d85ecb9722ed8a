//! Tenants: create, read, merge patch with If-Match, delete with confirmation.

use serde_json::{Value, json};

use super::*;
use crate::support::*;

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
async fn signing_keys_listed_and_rotated_as_the_cli_does() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    let (token, client_id) = admin_token(&s, "acme", false).await;
    let api = Api::new(&s, &token);
    let before = api.get("/tenants/acme/keys").await;
    assert_eq!(before.status, 200, "{}", before.body);
    let kids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    };
    let old = kids(&before.body["items"]);
    assert!(!old.is_empty());
    let (ro, _) = admin_token(&s, "acme", true).await;
    problem(
        &Api::new(&s, &ro)
            .call(Method::POST, "/tenants/acme/keys/rotate", None, None)
            .await,
        403,
        "forbidden",
    );
    let rotated = api
        .call(Method::POST, "/tenants/acme/keys/rotate", None, None)
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let mut retired = kids(&rotated.body["retired"]);
    let mut was = old.clone();
    retired.sort();
    was.sort();
    assert_eq!(retired, was);
    let new = kids(&rotated.body["active"]);
    assert_eq!(new.len(), old.len());
    let after = kids(&api.get("/tenants/acme/keys").await.body["items"]);
    assert!(new.iter().chain(old.iter()).all(|k| after.contains(k)));
    let actor = format!("client:{client_id}");
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|(action, who, _)| action == "keys.rotate" && *who == actor)
    );
    problem(&api.get("/tenants/default/keys").await, 404, "not-found");
    s.stop().await;
}
