//! Who reaches what: tenant isolation, read-only tokens, the code flow, per-caller limits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::support::*;

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

    // A session alone (a stolen cookie) does not become an admin token later: past the
    // re-authentication window the admin scope asks for the password again; other scopes
    // go on without asking.
    let b = s.browser();
    let res = authorize(&b, &authorize_path(&p), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    s.clock.advance(chrono::Duration::minutes(6));
    let res = b.get(&authorize_path(&p)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        crate::support::location(&res).starts_with("/t/default/login"),
        "{}",
        crate::support::location(&res)
    );
    let openid_only: Vec<(&str, &str)> = p
        .iter()
        .map(|&(k, v)| if k == "scope" { (k, "openid") } else { (k, v) })
        .collect();
    let res = b.get(&authorize_path(&openid_only)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(param(&params_of(&res), "code").is_some());
    // Signing in again gives the admin scope.
    let res = authorize(&b, &authorize_path(&p), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let code = param(&params_of(&res), "code").unwrap().to_string();
    let v: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    assert_eq!(v["scope"], "openid admin");

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
