//! The OpenAPI document and reference page, checked by openapi-spec-validator and schemathesis.

use serde_json::Value;

use super::*;

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
