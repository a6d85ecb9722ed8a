//! Bad input gets a clear page or message, never a 500, and writes nothing.

use reqwest::StatusCode;

use crate::support::*;

async fn signup(b: &Browser, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let res = b.submit("/t/open/signup", "/t/open/signup", fields).await;
    let status = res.status();
    (status, res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_rejects_bad_input_with_messages_and_writes_nothing() {
    let s = TestServer::start().await;
    s.create_tenant("open", true).await;
    s.create_user("open", "taken@example.com", "taken's password")
        .await;
    let users_before = s.user_count().await;
    let b = s.browser();
    let long_name = "n".repeat(201);
    let long_email = format!("{}@example.com", "a".repeat(250));
    let long_password = "p".repeat(1025);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("email", "not-an-email"),
                ("password", "long enough"),
                ("password_confirm", "long enough"),
            ],
            "valid email address",
        ),
        (
            vec![
                ("email", ""),
                ("password", "long enough"),
                ("password_confirm", "long enough"),
            ],
            "enter your email",
        ),
        (
            vec![
                ("email", &long_email),
                ("password", "long enough"),
                ("password_confirm", "long enough"),
            ],
            "at most 254",
        ),
        // A taken address is not an input error: it answers as a new one would, without
        // writing anything (tests/it/security.rs).
        (
            vec![
                ("email", "a@example.com"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
            "at least 8",
        ),
        (
            vec![
                ("email", "a@example.com"),
                ("password", &long_password),
                ("password_confirm", &long_password),
            ],
            "at most 1024 bytes",
        ),
        (
            vec![
                ("email", "a@example.com"),
                ("password", "A@example.com"),
                ("password_confirm", "A@example.com"),
            ],
            "not be your email",
        ),
        (
            vec![
                ("email", "a@example.com"),
                ("password", "long enough"),
                ("password_confirm", "different"),
            ],
            "differ",
        ),
        (
            vec![
                ("email", "a@example.com"),
                ("name", &long_name),
                ("password", "long enough"),
                ("password_confirm", "long enough"),
            ],
            "at most 200",
        ),
        (
            vec![
                ("email", "a@example.com"),
                ("name", "bad\u{7}name"),
                ("password", "long enough"),
                ("password_confirm", "long enough"),
            ],
            "control characters",
        ),
    ];
    for (fields, message) in &cases {
        let (status, html) = signup(&b, fields).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(
            html.to_lowercase().contains(&message.to_lowercase()),
            "{message}: {html}"
        );
        assert!(html.contains("role=\"alert\""));
    }
    assert_eq!(s.user_count().await, users_before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_an_error_page() {
    let s = TestServer::start().await;
    s.create_tenant("open", true).await;
    let users_before = s.user_count().await;
    let b = s.browser();
    let token = b.csrf("/t/open/signup").await;

    // Invalid UTF-8 in a field.
    let body = format!(
        "csrf_token={token}&email=%FF%FEx%40example.com&password=long+enough&password_confirm=long+enough"
    );
    let res = b.post_raw("/t/open/signup", body).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(res.text().await.unwrap().contains("not valid UTF-8"));

    // Raw invalid UTF-8 bytes.
    let mut raw = format!("csrf_token={token}&email=").into_bytes();
    raw.extend_from_slice(
        b"\xff\xfe@example.com&password=long+enough&password_confirm=long+enough",
    );
    let res = b.post_raw("/t/open/signup", raw).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // An oversize field, and an oversize body.
    let body = format!("csrf_token={token}&email={}", "a".repeat(9000));
    let res = b.post_raw("/t/open/signup", body).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("too long"));
    let body = format!("csrf_token={token}&email={}", "a".repeat(100_000));
    let res = b.post_raw("/t/open/signup", body).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(res.text().await.unwrap().contains("too large"));

    // Too many fields.
    let many: Vec<String> = (0..50).map(|i| format!("f{i}=x")).collect();
    let res = b.post_raw("/t/open/login", many.join("&")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // Login with empty fields: a message on the form.
    let res = b
        .submit(
            "/t/open/login",
            "/t/open/login",
            &[("email", ""), ("password", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Enter your email address and password")
    );

    // A malformed email at login is just a failed login; a NUL byte is refused outright.
    let res = b
        .submit(
            "/t/open/login",
            "/t/open/login",
            &[("email", "@@x"), ("password", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = b
        .submit(
            "/t/open/login",
            "/t/open/login",
            &[("email", "\u{0}@@"), ("password", "x")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("NUL"));

    assert_eq!(s.user_count().await, users_before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_tenants_and_paths_get_a_404_page() {
    let s = TestServer::start().await;
    let b = s.browser();
    for path in [
        "/t/nope/login",
        "/t/nope/signup",
        "/t/nope/account",
        "/t/nope/logout",
        "/t/NOT%20A%20SLUG/login",
        "/nothing-here",
    ] {
        let res = b.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
    }
    let res = b.post_raw("/t/nope/login", "email=a").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = b
        .http
        .delete(s.url("/t/default/login"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    s.stop().await;
}
