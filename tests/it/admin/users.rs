//! Users: the good path, search and status filters, cursor pages under concurrent inserts.

use reqwest::Method;
use serde_json::{Value, json};

use super::*;

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
async fn an_operator_resets_a_users_second_factors_as_the_cli_does() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    let u = s
        .create_user("acme", "lost@acme.test", "correct horse battery")
        .await;
    plinto::mfa::recovery_generate(&s.state.db, s.state.now(), &s.state.keys.mfa_recovery, &u)
        .await
        .unwrap();
    assert_eq!(
        plinto::mfa::recovery_remaining(&s.state.db, u.id)
            .await
            .unwrap(),
        10
    );
    let path = format!("/tenants/acme/users/{}/reset-mfa", u.id);
    let (ro, _) = admin_token(&s, "acme", true).await;
    problem(
        &Api::new(&s, &ro)
            .call(Method::POST, &path, None, None)
            .await,
        403,
        "forbidden",
    );
    assert_eq!(
        plinto::mfa::recovery_remaining(&s.state.db, u.id)
            .await
            .unwrap(),
        10
    );
    let (token, client_id) = admin_token(&s, "acme", false).await;
    let api = Api::new(&s, &token);
    assert_eq!(api.call(Method::POST, &path, None, None).await.status, 204);
    assert_eq!(
        plinto::mfa::recovery_remaining(&s.state.db, u.id)
            .await
            .unwrap(),
        0
    );
    let actor = format!("client:{client_id}");
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|(action, who, _)| action == "mfa.reset" && *who == actor)
    );
    problem(
        &api.call(
            Method::POST,
            "/tenants/acme/users/00000000-0000-7000-8000-000000000000/reset-mfa",
            None,
            None,
        )
        .await,
        404,
        "not-found",
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_and_ends_a_users_sessions() {
    let s = start().await;
    s.create_tenant("acme", false).await;
    let u = s
        .create_user("acme", "ann@acme.test", "correct horse battery")
        .await;
    let b = s.browser();
    b.login("acme", "ann@acme.test", "correct horse battery")
        .await;
    assert_eq!(b.get("/t/acme/account").await.status(), 200);
    let (token, client_id) = admin_token(&s, "acme", false).await;
    let api = Api::new(&s, &token);
    let path = format!("/tenants/acme/users/{}/sessions", u.id);
    let list = api.get(&path).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", list.body);
    assert_eq!(items[0]["amr"], json!(["pwd"]));
    let sid = items[0]["id"].as_str().unwrap().to_string();
    let (ro, _) = admin_token(&s, "acme", true).await;
    problem(
        &Api::new(&s, &ro)
            .delete(&format!("{path}/{sid}"), None)
            .await,
        403,
        "forbidden",
    );
    assert_eq!(api.delete(&format!("{path}/{sid}"), None).await.status, 204);
    assert_ne!(
        b.get("/t/acme/account").await.status(),
        200,
        "the session lived on"
    );
    assert_eq!(api.get(&path).await.body["items"], json!([]));
    problem(
        &api.delete(&format!("{path}/{sid}"), None).await,
        404,
        "not-found",
    );
    let actor = format!("client:{client_id}");
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|(action, who, _)| action == "session.revoke" && *who == actor)
    );
    s.stop().await;
}
