//! Bad input is answered with problem+json, never a 500.

use reqwest::Method;
use serde_json::json;

use super::*;

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
