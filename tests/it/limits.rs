//! Rate limits: the (N+1)th request within the window gets 429 with `Retry-After` in the
//! protocol's format; limits per tenant; shared by two nodes through Redis; and what happens
//! when Redis is down (open for discovery, closed for credentials).

use chrono::Duration;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use crate::oidc::{self, token};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, TestServer};

fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get(RETRY_AFTER)
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn content_type(res: &reqwest::Response) -> String {
    res.headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

async fn expect_html_429(res: reqwest::Response) -> u64 {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(content_type(&res).starts_with("text/html"));
    let secs = retry_after(&res);
    assert!(res.text().await.unwrap().contains("Too many requests"));
    secs
}

async fn expect_oauth_429(res: reqwest::Response) -> u64 {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let secs = retry_after(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    secs
}

#[tokio::test]
async fn each_limit_answers_429_with_retry_after_and_lets_through_again_later() {
    let s = TestServer::start_with(|c| {
        c.rate_limits = "login=3/min, signup=2/h, password_reset=2/h, \
                         password_reset_email=10/h, token=2/min, userinfo=2/min"
            .into();
    })
    .await;
    s.create_tenant("acme", true).await;
    let b = s.browser();

    // Sign-in, per IP address: wrong passwords and right ones count alike.
    for _ in 0..3 {
        let res = b.login("default", ADMIN_EMAIL, "wrong password").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let wait = expect_html_429(res).await;
    assert!((1..=20).contains(&wait), "{wait}");
    s.clock.advance(Duration::seconds(wait as i64));
    let res = b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "allowed again");

    // Sign-up.
    let signup = "/t/acme/signup";
    for i in 0..2 {
        let email = format!("u{i}@example.com");
        let res = b
            .submit(
                signup,
                signup,
                &[
                    ("email", &email),
                    ("password", "long enough pw"),
                    ("password_confirm", "long enough pw"),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    let res = b
        .submit(
            signup,
            signup,
            &[
                ("email", "u3@example.com"),
                ("password", "long enough pw"),
                ("password_confirm", "long enough pw"),
            ],
        )
        .await;
    let wait = expect_html_429(res).await;
    assert!(wait > 60, "an hourly limit: {wait}");
    assert_eq!(
        s.user_count().await,
        3,
        "the refused sign-up created nothing"
    );

    // Password reset requests, per IP address.
    let forgot = "/t/acme/password/forgot";
    for _ in 0..2 {
        let res = b
            .submit(forgot, forgot, &[("email", "u0@example.com")])
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    expect_html_429(
        b.submit(forgot, forgot, &[("email", "u0@example.com")])
            .await,
    )
    .await;

    // Token endpoint, per client: JSON errors.
    let svc = oidc::client(&s, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.redirect_uris = vec![];
    })
    .await;
    let cc = [("grant_type", "client_credentials")];
    for _ in 0..2 {
        assert_eq!(token(&s, &svc, &cc).await.status(), StatusCode::OK);
    }
    let res = token(&s, &svc, &cc).await;
    let wait = expect_oauth_429(res).await;
    // Another client has its own budget.
    let other = oidc::client(&s, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.redirect_uris = vec![];
    })
    .await;
    assert_eq!(token(&s, &other, &cc).await.status(), StatusCode::OK);
    s.clock.advance(Duration::seconds(wait as i64));
    let res = token(&s, &svc, &cc).await;
    assert_eq!(res.status(), StatusCode::OK);
    let at: Value = res.json().await.unwrap();
    let at = at["access_token"].as_str().unwrap();

    // UserInfo, per client the token was issued to (the token is a client's: 403
    // insufficient_scope, counted); another client's token has its own budget.
    for _ in 0..2 {
        assert_eq!(oidc::userinfo(&s, at).await.status(), StatusCode::FORBIDDEN);
    }
    expect_oauth_429(oidc::userinfo(&s, at).await).await;
    let res = token(&s, &other, &cc).await;
    let other_at: Value = res.json().await.unwrap();
    let other_at = other_at["access_token"].as_str().unwrap();
    assert_eq!(
        oidc::userinfo(&s, other_at).await.status(),
        StatusCode::FORBIDDEN
    );
    s.stop().await;
}

#[tokio::test]
async fn limits_are_set_per_tenant_and_the_blanket_ip_limit_spares_operations() {
    let s = TestServer::start_with(|c| c.rate_limits = "ip=5/s".into()).await;
    // The per-IP limit on pages and browser-facing OAuth routes: HTML on pages (the logout
    // page too); public documents are not limited.
    let discovery = "/t/default/.well-known/openid-configuration";
    let http = reqwest::Client::new();
    for _ in 0..5 {
        assert_eq!(
            http.get(s.url("/t/default/login"))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
    }
    expect_html_429(http.get(s.url("/t/default/login")).send().await.unwrap()).await;
    expect_html_429(
        http.get(s.url("/t/default/oauth2/logout"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    for path in [
        discovery,
        "/t/default/oauth2/jwks",
        "/t/default/saml/metadata",
    ] {
        assert_eq!(
            http.get(s.url(path)).send().await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    assert_eq!(
        http.get(s.url("/health")).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        http.get(s.url("/ready")).send().await.unwrap().status(),
        StatusCode::OK
    );
    s.clock.advance(Duration::seconds(1));
    assert_eq!(
        http.get(s.url("/t/default/login"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // A tenant's own limits, from the CLI, over the configured ones; bad specs refused.
    let out = s.cli(&[
        "tenant",
        "update",
        "default",
        "--rate-limits",
        "login=1/min",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["rate_limits"], "login=1/min");
    // `ip` is one limit for the whole server, not a tenant's.
    for bad in ["login=fast", "nope=1/s", "login=0/min", "ip=off"] {
        let out = s.cli(&["tenant", "update", "default", "--rate-limits", bad]);
        assert!(!out.status.success(), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("rate_limits"));
    }
    s.clock.advance(Duration::seconds(11)); // past the read cache
    let b = s.browser();
    assert_eq!(
        b.login("default", ADMIN_EMAIL, "wrong password")
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    expect_html_429(b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await).await;
    // Another tenant keeps the configured limits.
    s.clock.advance(Duration::seconds(1));
    s.create_tenant("acme", false).await;
    s.create_user("acme", "a@example.com", "long enough pw")
        .await;
    let b = s.browser();
    assert_eq!(
        b.login("acme", "a@example.com", "wrong password")
            .await
            .status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        b.login("acme", "a@example.com", "long enough pw")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    s.stop().await;
}

#[tokio::test]
async fn with_redis_two_nodes_share_each_limit() {
    if std::env::var("PLINTO_TEST_REDIS_URL").map_or(true, |u| u.is_empty()) {
        eprintln!("PLINTO_TEST_REDIS_URL is not set: skipping the two-node Redis test");
        return;
    }
    let s = TestServer::start_with(|c| c.rate_limits = "login=4/min".into()).await;
    let node = s.sibling(|_| {}).await;
    let (a, b) = (s.browser(), node.browser());
    for browser in [&a, &b, &a, &b] {
        let res = browser
            .login("default", ADMIN_EMAIL, "wrong password")
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    expect_html_429(b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await).await;
    expect_html_429(a.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await).await;
    node.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn without_redis_the_limiter_fails_open_for_discovery_and_closed_for_credentials() {
    // Nothing listens on port 1.
    let s = TestServer::start_with(|c| {
        c.redis_url = Some(plinto::config::Secret("redis://127.0.0.1:1".into()));
    })
    .await;
    let http = reqwest::Client::new();
    for path in [
        "/t/default/.well-known/openid-configuration",
        "/t/default/oauth2/jwks",
    ] {
        assert_eq!(
            http.get(s.url(path)).send().await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let svc = oidc::client(&s, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.redirect_uris = vec![];
    })
    .await;
    let res = token(&s, &svc, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    let res = s
        .browser()
        .login("default", ADMIN_EMAIL, ADMIN_PASSWORD)
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(content_type(&res).starts_with("text/html"));
    assert_eq!(
        http.get(s.url("/ready")).send().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    s.stop().await;
}

#[tokio::test]
async fn reset_requests_are_limited_per_address_and_verification_mail_per_account() {
    let s = TestServer::start_with(|c| {
        c.rate_limits = "password_reset_email=2/h, email_verification=1/h".into();
    })
    .await;
    s.create_tenant("acme", true).await;
    let b = s.browser();
    let forgot = "/t/acme/password/forgot";
    for _ in 0..2 {
        let res = b
            .submit(forgot, forgot, &[("email", "x@example.com")])
            .await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = b
        .submit(forgot, forgot, &[("email", "X@Example.com")])
        .await;
    let wait = expect_html_429(res).await;
    assert!(wait > 60, "an hourly limit: {wait}");
    // Another address has its own budget.
    let res = b
        .submit(forgot, forgot, &[("email", "y@example.com")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);

    // Verification emails on request, per account.
    let signup = "/t/acme/signup";
    let res = b
        .submit(
            signup,
            signup,
            &[
                ("email", "v@example.com"),
                ("password", "long enough pw"),
                ("password_confirm", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let account = "/t/acme/account";
    let resend = "/t/acme/account/email/verify";
    let res = b.submit(account, resend, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    expect_html_429(b.submit(account, resend, &[]).await).await;
    s.stop().await;
}
