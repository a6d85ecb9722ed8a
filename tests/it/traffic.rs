//! Legitimate traffic against the shipped rate limits (issue 16 §3): everything here comes
//! from one address, as it does for every user behind a proxy or NAT, and the clock stands
//! still, so each burst counts against one window. Nothing legitimate may get a 429; credential
//! guessing from that address still does.

use futures_util::{StreamExt, stream};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::Value;

use crate::oidc::{self, token};
use crate::scim_client::{Scim, entra_user};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, ServeProcess, TestServer};

/// Send `n` requests made by `make`, 8 at a time; the statuses, in no particular order.
async fn burst<F, Fut>(n: usize, make: F) -> Vec<StatusCode>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = StatusCode>,
{
    stream::iter(0..n)
        .map(make)
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
}

fn count_429(statuses: &[StatusCode]) -> usize {
    statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn public_documents_are_not_limited_per_address() {
    let s = TestServer::start().await;
    let http = reqwest::Client::new();
    let paths = [
        "/t/default/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/default",
        "/t/default/oauth2/jwks",
        "/t/default/saml/metadata",
        "/static/plinto.css",
    ];
    // 3,000 GETs in one instant from one address: a load test of discovery, or every RP
    // behind one egress proxy starting at once.
    let statuses = burst(3000, |i| {
        let http = http.clone();
        let url = s.url(paths[i % paths.len()]);
        async move { http.get(url).send().await.unwrap().status() }
    })
    .await;
    assert_eq!(count_429(&statuses), 0);
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    // The browser pages still share the blanket per-address limit (ip=100/s).
    let pages = burst(150, |_| {
        let http = http.clone();
        let url = s.url("/t/default/login");
        async move { http.get(url).send().await.unwrap().status() }
    })
    .await;
    assert!(
        count_429(&pages) > 0,
        "the blanket limit still guards pages"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn introspection_and_token_requests_are_limited_per_client_not_per_address() {
    let s = TestServer::start().await;
    let svc = oidc::client(&s, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.redirect_uris = vec![];
    })
    .await;
    let res = token(&s, &svc, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let at: Value = res.json().await.unwrap();
    let at = at["access_token"].as_str().unwrap().to_string();
    // The token's own client introspects it (only it, or a resource server in the token's
    // audience, may see an active token).
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", svc.id, svc.secret.as_deref().unwrap()),
    );
    let http = reqwest::Client::new();
    let statuses = burst(1500, |_| {
        let http = http.clone();
        let url = s.url("/t/default/oauth2/introspect");
        let (basic, at) = (basic.clone(), at.clone());
        async move {
            let res = http
                .post(url)
                .header(AUTHORIZATION, format!("Basic {basic}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("token={at}"))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["active"], true, "{body}");
            status
        }
    })
    .await;
    assert_eq!(count_429(&statuses), 0);
    assert!(statuses.iter().all(|s| *s == StatusCode::OK));
    // A client's token requests, from the same address, at a busy client's pace.
    let statuses = burst(300, |_| async {
        token(&s, &svc, &[("grant_type", "client_credentials")])
            .await
            .status()
    })
    .await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_hr_system_initial_sync_is_not_throttled() {
    let s = TestServer::start().await;
    let scim = Scim::new(&s, "default").await;
    // 600 users created, each read back, and the directory listed in pages of 8:
    // 1,275 requests from one address with one token.
    let created = burst(600, |i| {
        let scim = &scim;
        async move {
            let user = entra_user(&format!("employee{i:04}@example.com"), &format!("E{i:04}"));
            let res = scim.post("/Users", &user).await;
            assert_eq!(res.status, 201, "{}", res.text);
            let again = scim.get(&format!("/Users/{}", res.id())).await;
            assert_eq!(again.status, 200, "{}", again.text);
            StatusCode::OK
        }
    })
    .await;
    assert_eq!(created.len(), 600);
    let pages = burst(75, |p| {
        let scim = &scim;
        async move {
            let res = scim
                .get(&format!("/Users?startIndex={}&count=8", p * 8 + 1))
                .await;
            StatusCode::from_u16(res.status).unwrap()
        }
    })
    .await;
    assert!(pages.iter().all(|s| *s == StatusCode::OK), "{pages:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_people_behind_one_office_address_sign_in() {
    let s = TestServer::start().await;
    for i in 0..40 {
        s.create_user(
            "default",
            &format!("person{i}@example.com"),
            "long enough pw",
        )
        .await;
    }
    for i in 0..40 {
        let b = s.browser();
        let res = b
            .login(
                "default",
                &format!("person{i}@example.com"),
                "long enough pw",
            )
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "person {i}");
    }
    s.stop().await;
}

/// Failed client authentications and invalid bearer tokens are what an attacker guessing
/// credentials produces: they stay limited per address (auth_failure, 60 a minute by
/// default), and once over it the right credential from that address waits too; another
/// address is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_client_secrets_and_bearer_tokens_is_limited_per_address() {
    let s = TestServer::start_with(|c| c.trust_forwarded_headers = true).await;
    let svc = oidc::client(&s, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.redirect_uris = vec![];
    })
    .await;
    let http = reqwest::Client::new();
    let attempt = |secret: &str, from: &str| {
        let basic = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{secret}", svc.id),
        );
        http.post(s.url("/t/default/oauth2/token"))
            .header(AUTHORIZATION, format!("Basic {basic}"))
            .header("x-forwarded-for", from)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
    };
    let attacker = "203.0.113.7";
    for _ in 0..60 {
        let res = attempt("a guess", attacker).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let right = svc.secret.clone().unwrap();
    let res = attempt(&right, attacker).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // The refusal says which limit and what to do.
    let why = body["error_description"].as_str().unwrap();
    assert!(why.contains("too many failed authentications"), "{why}");
    // Invalid bearer tokens at UserInfo and SCIM count in the same budget.
    let res = http
        .get(s.url("/t/default/oauth2/userinfo"))
        .bearer_auth("not a token")
        .header("x-forwarded-for", attacker)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let res = http
        .get(s.url("/t/default/scim/v2/Users"))
        .bearer_auth("not a token")
        .header("x-forwarded-for", attacker)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/scim+json"
    );
    let scim_error: Value = res.json().await.unwrap();
    assert!(
        scim_error["detail"]
            .as_str()
            .unwrap()
            .contains("too many failed authentications"),
        "{scim_error}"
    );
    // The legitimate client elsewhere is not affected.
    let res = attempt(&right, "198.51.100.20").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // A minute later the attacker's address may try again.
    s.clock.advance(chrono::Duration::seconds(60));
    let res = attempt(&right, attacker).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    s.stop().await;
}

/// Sign-in guessing from one address is limited as before (PLINTO_LOGIN_IP_MAX_FAILURES, 50
/// failures per address in the window; the blanket limit is off here so that this one is
/// what answers).
#[tokio::test]
async fn password_guessing_from_one_address_is_still_limited() {
    let s = TestServer::start_with(|c| c.rate_limits = "ip=off".into()).await;
    let b = s.browser();
    let csrf = b.csrf("/t/default/login").await;
    for i in 0..50 {
        let email = format!("nobody{i}@example.com");
        let res = b
            .post(
                "/t/default/login",
                &[
                    ("email", &email),
                    ("password", "a guess"),
                    ("csrf_token", &csrf),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "guess {i}");
    }
    let res = b
        .post(
            "/t/default/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;
}

/// Behind a proxy that Plinto is not told to trust, every client shares the proxy's address:
/// `plinto serve` says so in its log at the first request that carries forwarding headers.
#[tokio::test]
async fn serve_warns_when_it_sees_a_proxy_it_does_not_trust() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServeProcess::start(dir.path(), &[]).await;
    let res = reqwest::Client::new()
        .get(format!("{}/t/default/login", server.base))
        .header("x-forwarded-for", "192.0.2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let line =
        server.wait_for_log(|l| l.contains("WARN") && l.contains("PLINTO_TRUST_FORWARDED_HEADERS"));
    assert!(line.is_some(), "a warning about the untrusted proxy");
}
