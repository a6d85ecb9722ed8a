//! Account security (issue 17): each attack a black-box tester drove over HTTP, refused, with
//! the legitimate path beside it. Pre-account takeover, sudo mode and the notices it sends,
//! lockout as a denial of service, guessing the current password, user enumeration, CSRF
//! tokens bound to the session, the pending second-factor cookie and the passkey ceremony
//! bound to their browser, the `required` MFA policy, and common passwords everywhere.

use chrono::Duration;
use plinto::clock::Clock as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use totp_rs::Totp as TOTP;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{AllowCredentials, CreationChallengeResponse, RequestChallengeResponse};

use crate::saml_sp::html_unescape;
use crate::scim_client::{Scim, USER};
use crate::smtp_sink::{Received, SmtpSink};
use crate::support::{Browser, TestServer, csrf_of, location};

const OWNER: &str = "olga@example.com";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a much newer passphrase";

async fn server(tweak: impl FnOnce(&mut plinto::config::Config)) -> TestServer {
    let s = TestServer::start_with(|c| {
        c.rate_limits = "off".into();
        c.public_url = Some("http://localhost".into());
        tweak(c);
    })
    .await;
    s.create_tenant("acme", true).await;
    s
}

async fn with_sink(sink: &SmtpSink, tweak: impl FnOnce(&mut plinto::config::Config)) -> TestServer {
    let url = sink.url();
    server(move |c| {
        c.smtp_url = Some(plinto::config::Secret(url));
        c.mail_poll_interval_ms = 50;
        tweak(c);
    })
    .await
}

async fn user(s: &TestServer, email: &str) -> entity::user::Model {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::user::Entity::find()
        .filter(entity::user::Column::EmailNormalized.eq(email))
        .one(&s.state.db)
        .await
        .unwrap()
        .unwrap()
}

fn origin(s: &TestServer) -> url::Url {
    url::Url::parse(&s.state.config.public_url()).unwrap()
}

async fn post_json(b: &Browser, path: &str, body: &Value) -> (StatusCode, Value) {
    let res = b
        .http
        .post(format!("{}{path}", b.base()))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The link below `route` in a message, as a path of this server.
fn link_in(s: &TestServer, m: &Received, route: &str) -> String {
    let site = s.state.config.public_url();
    let prefix = format!("{site}/t/acme{route}?token=");
    let link = m
        .link(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{}", m.text()));
    link.strip_prefix(&site).unwrap().to_string()
}

/// The messages sent to `to` so far, waiting until there are at least `n` in all.
async fn mail_to(sink: &SmtpSink, n: usize, to: &str) -> Vec<Received> {
    sink.wait_for(n)
        .await
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .collect()
}

/// POST the form of the page at `page` (hidden fields and CSRF token) with more fields.
async fn post_form_of(
    b: &Browser,
    page: &str,
    action: &str,
    more: &[(&str, &str)],
) -> reqwest::Response {
    let res = b.get(page).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {page}");
    let html = res.text().await.unwrap();
    let hidden = crate::oidc::hidden_inputs(&html);
    let mut fields: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.extend_from_slice(more);
    b.post(action, &fields).await
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    let j = html[i..].find(end)? + i;
    Some(&html[i..j])
}

/// Set up an authenticator app for the signed-in browser; the app.
async fn enroll_totp(s: &TestServer, b: &Browser) -> TOTP {
    let path = "/t/acme/account/mfa/totp";
    let res = b.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "the enrolment page");
    let html = res.text().await.unwrap();
    let uri = html_unescape(between(&html, "<code id=\"otpauth-uri\">", "</code>").unwrap());
    let totp = TOTP::from_url(&uri).unwrap();
    let code = totp.generate(s.clock.now().timestamp() as u64).to_string();
    let res = b
        .post(path, &[("code", &code), ("csrf_token", &csrf_of(&html))])
        .await;
    assert_eq!(res.status(), StatusCode::OK, "recovery codes shown");
    totp
}

/// Register a passkey from the account page; the begin answer when it is refused.
async fn add_passkey(s: &TestServer, b: &Browser, key: &mut SoftPasskey) -> Result<String, Value> {
    let page = b.get("/t/acme/account").await.text().await.unwrap();
    let csrf = csrf_of(&page);
    let (st, begun) = post_json(
        b,
        "/t/acme/account/passkeys/register/begin",
        &json!({ "csrf_token": csrf }),
    )
    .await;
    if st != StatusCode::OK {
        return Err(json!({ "status": st.as_u16(), "body": begun }));
    }
    let ccr: CreationChallengeResponse = serde_json::from_value(begun["options"].clone()).unwrap();
    let credential = key.do_registration(origin(s), ccr).unwrap();
    let (st, done) = post_json(
        b,
        "/t/acme/account/passkeys/register/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "name": "Key",
                 "credential": credential }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    Ok(credential.id)
}

/// Begin a passwordless ceremony in `b` and sign its challenge with `key` (playing the
/// browser's credential picker, as tests/it/passkeys.rs does); the CSRF token, the ceremony
/// and the assertion.
async fn passwordless_assertion(
    s: &TestServer,
    b: &Browser,
    key: &mut SoftPasskey,
    cred_id: &str,
    user_id: uuid::Uuid,
) -> (String, Value, webauthn_rs_proto::PublicKeyCredential) {
    let html = b.get("/t/acme/login").await.text().await.unwrap();
    let csrf = csrf_of(&html);
    let (st, begun) = post_json(
        b,
        "/t/acme/login/passkey/begin",
        &json!({ "csrf_token": csrf }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{begun}");
    let mut rcr: RequestChallengeResponse =
        serde_json::from_value(begun["options"].clone()).unwrap();
    let raw: Vec<u8> =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, cred_id).unwrap();
    rcr.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id: raw,
        transports: None,
    }];
    let mut assertion = key.do_authentication(origin(s), rcr).unwrap();
    assertion.response.user_handle = Some(user_id.as_bytes().to_vec());
    (csrf, begun["ceremony"].clone(), assertion)
}

/// Ask for a reset link for `email` and use it with `password`; the page's text.
async fn reset(s: &TestServer, sink: &SmtpSink, n: usize, email: &str, password: &str) -> String {
    let b = s.browser();
    let res = b
        .submit(
            "/t/acme/password/forgot",
            "/t/acme/password/forgot",
            &[("email", email)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mail = mail_to(sink, n, email).await;
    let m = mail
        .iter()
        .rev()
        .find(|m| m.subject().contains("Reset"))
        .expect("a reset message");
    let link = link_in(s, m, "/password/reset");
    let res = post_form_of(
        &b,
        &link,
        "/t/acme/password/reset",
        &[("password", password), ("password_confirm", password)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

// 1. Pre-account takeover.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unverified_account_cannot_add_factors_and_a_reset_removes_earlier_ones() {
    let sink = SmtpSink::start().await;
    let s = with_sink(&sink, |_| {}).await;

    // The attacker signs up with the victim's address on a tenant without verification and
    // is signed in at once.
    let attacker = s.browser();
    let res = attacker
        .submit(
            "/t/acme/signup",
            "/t/acme/signup",
            &[
                ("email", OWNER),
                ("password", "attacker's own password"),
                ("password_confirm", "attacker's own password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let account = attacker.get("/t/acme/account").await.text().await.unwrap();
    assert!(account.contains("id=\"verify-first\""), "the page says why");

    // No passkey, no authenticator app on an unverified address.
    let mut key = SoftPasskey::new(true);
    let refused = add_passkey(&s, &attacker, &mut key).await.unwrap_err();
    assert_eq!(refused["status"], 403);
    assert!(
        refused["body"]["error"]
            .as_str()
            .unwrap()
            .starts_with("Verify your email address first"),
        "{refused}"
    );
    let res = attacker.get("/t/acme/account/mfa/totp").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Verify your email address first")
    );
    assert!(
        !plinto::mfa::enrolled(&s.state.db, user(&s, OWNER).await.id)
            .await
            .unwrap()
    );

    // A factor set up before this rule (data of an older release): made here through the
    // domain service, as it was then.
    let u = user(&s, OWNER).await;
    let secret = plinto::mfa::totp_begin(&s.state.db, s.state.now(), &s.state.keys.mfa_secrets, &u)
        .await
        .unwrap();
    let code = plinto::mfa::totp::code_at(&secret, s.clock.now().timestamp() as u64).unwrap();
    assert!(
        plinto::mfa::totp_check(
            &s.state.db,
            s.state.now(),
            &s.state.keys.mfa_secrets,
            u.id,
            &code,
            true
        )
        .await
        .unwrap()
    );

    // The owner resets the password through the link to their address: the factor goes, the
    // attacker's session ends, and the owner is told on the page and by email.
    let page = reset(&s, &sink, 2, OWNER, NEW_PASSWORD).await;
    assert!(page.contains("were removed too"), "{page}");
    let mail = mail_to(&sink, 4, OWNER).await;
    assert!(
        mail.iter()
            .any(|m| m.subject().contains("Sign-in methods were removed")),
        "{:?}",
        mail.iter().map(Received::subject).collect::<Vec<_>>()
    );
    assert!(!plinto::mfa::enrolled(&s.state.db, u.id).await.unwrap());
    assert_eq!(
        attacker.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER,
        "the attacker's session ended"
    );
    let owner = s.browser();
    let res = owner.login("acme", OWNER, NEW_PASSWORD).await;
    assert_eq!(location(&res), "/t/acme/account", "no second step left");
    assert!(user(&s, OWNER).await.email_verified);

    // Now verified, the owner adds a passkey (the legitimate path).
    let mut own_key = SoftPasskey::new(true);
    add_passkey(&s, &owner, &mut own_key).await.unwrap();
    s.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_reset_ends_the_pre_registered_attackers_tokens() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let s = TestServer::start_with(|c| {
        c.rate_limits = "off".into();
        c.smtp_url = Some(plinto::config::Secret(url));
        c.mail_poll_interval_ms = 50;
    })
    .await;
    // The default tenant opens sign-up (an existing tenant: verification stays off).
    let change = plinto::tenants::TenantUpdate {
        allow_signup: Some(true),
        ..Default::default()
    };
    plinto::tenants::update(
        &s.state.db,
        s.state.now(),
        "default",
        change,
        None,
        "test",
        &Default::default(),
    )
    .await
    .unwrap();
    s.clock.advance(Duration::seconds(11)); // past the read cache
    let attacker = s.browser();
    let res = attacker
        .submit(
            "/t/default/signup",
            "/t/default/signup",
            &[
                ("email", OWNER),
                ("password", "attacker's own password"),
                ("password_confirm", "attacker's own password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // An app the attacker signs in to holds a refresh token of the account.
    let rp = crate::oidc::client(&s, |c| c.skip_consent = true).await;
    let code = crate::oidc::code_as(&s, &attacker, &rp, OWNER, "attacker's own password").await;
    let tokens: Value = crate::oidc::exchange(&s, &rp, &code)
        .await
        .json()
        .await
        .unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();

    // The owner resets the password through the link to their address.
    let b = s.browser();
    b.submit(
        "/t/default/password/forgot",
        "/t/default/password/forgot",
        &[("email", OWNER)],
    )
    .await;
    let mail = mail_to(&sink, 2, OWNER).await;
    let m = mail.iter().find(|m| m.subject().contains("Reset")).unwrap();
    let prefix = format!("{}/t/default/password/reset?token=", s.base);
    let link = m
        .link(&prefix)
        .unwrap()
        .strip_prefix(&s.base)
        .unwrap()
        .to_string();
    let res = post_form_of(
        &b,
        &link,
        "/t/default/password/reset",
        &[
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = crate::oidc::refresh(&s, &rp, &refresh_token).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        attacker.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(user(&s, OWNER).await.email_verified);
    s.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_tenants_with_sign_up_require_verification_by_default() {
    let s = server(|_| {}).await;
    let out = s.cli(&["tenant", "create", "shop", "--allow-signup"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shop: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shop["allow_signup"], true);
    assert_eq!(shop["require_email_verification"], true);
    let out = s.cli(&["tenant", "create", "staff"]);
    let staff: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(staff["require_email_verification"], false);
    let out = s.cli(&[
        "tenant",
        "create",
        "open",
        "--allow-signup",
        "--require-email-verification",
        "false",
    ]);
    let open: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(open["require_email_verification"], false);

    // Sign-up on the new tenant: a link to open, no session.
    let b = s.browser();
    let res = b
        .submit(
            "/t/shop/signup",
            "/t/shop/signup",
            &[
                ("email", OWNER),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Check your email"));
    assert_eq!(
        b.get("/t/shop/account").await.status(),
        StatusCode::SEE_OTHER
    );
    s.stop().await;
}

// 2. Sudo mode.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_changes_need_a_recent_reauthentication_and_are_notified() {
    let sink = SmtpSink::start().await;
    let s = with_sink(&sink, |_| {}).await;
    s.create_user("acme", OWNER, PASSWORD).await;
    let b = s.browser();
    b.login("acme", OWNER, PASSWORD).await;
    // Right after signing in: an authenticator app is set up without asking again.
    let totp = enroll_totp(&s, &b).await;
    let mail = mail_to(&sink, 1, OWNER).await;
    assert!(
        mail[0].subject().contains("sign-in method"),
        "{}",
        mail[0].subject()
    );
    assert!(mail[0].text().contains("An authenticator app was set up"));

    // Six minutes later the session alone is not enough.
    s.clock.advance(Duration::minutes(6));
    let account = "/t/acme/account";
    let reauth = "/t/acme/account/reauth?return_to=%2Ft%2Facme%2Faccount";
    for action in [
        "/t/acme/account/mfa/totp/remove",
        "/t/acme/account/mfa/recovery",
    ] {
        let res = b.submit(account, action, &[]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
        assert_eq!(location(&res), reauth, "{action}");
    }
    let res = b
        .submit(
            account,
            "/t/acme/account/email",
            &[("email", "olga@new.example")],
        )
        .await;
    assert_eq!(location(&res), reauth);
    let mut key = SoftPasskey::new(true);
    let refused = add_passkey(&s, &b, &mut key).await.unwrap_err();
    assert_eq!(refused["status"], 403);
    assert_eq!(refused["body"]["redirect"], reauth);
    assert!(
        plinto::mfa::totp_enrolled(&s.state.db, user(&s, OWNER).await.id)
            .await
            .unwrap()
    );

    // A wrong password does not count as proof; the right one returns to where the user was.
    let res = b
        .submit(
            reauth,
            "/t/acme/account/reauth",
            &[("password", "wrong"), ("return_to", account)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = b
        .submit(
            reauth,
            "/t/acme/account/reauth",
            &[("password", PASSWORD), ("return_to", account)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), account);
    let cred = add_passkey(&s, &b, &mut key).await.unwrap();
    assert!(!cred.is_empty());
    let res = b.submit(account, "/t/acme/account/mfa/recovery", &[]).await;
    assert_eq!(res.status(), StatusCode::OK, "new recovery codes");
    let mail = mail_to(&sink, 3, OWNER).await;
    let texts: Vec<String> = mail.iter().map(Received::text).collect();
    assert!(
        texts.iter().any(|t| t.contains("A passkey was added")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("New recovery codes were made")),
        "{texts:?}"
    );

    // Later again: a code of the authenticator app proves it too.
    s.clock.advance(Duration::minutes(6));
    let res = b
        .submit(account, "/t/acme/account/mfa/totp/remove", &[])
        .await;
    assert_eq!(location(&res), reauth);
    let code = totp.generate(s.clock.now().timestamp() as u64).to_string();
    let res = b
        .submit(
            reauth,
            "/t/acme/account/reauth",
            &[("code", &code), ("return_to", account)],
        )
        .await;
    assert_eq!(location(&res), account);

    // The address change: the old address hears of it and can undo it.
    let res = b
        .submit(
            account,
            "/t/acme/account/email",
            &[("email", "olga@new.example")],
        )
        .await;
    assert!(location(&res).contains("notice=email_change"));
    let mail = mail_to(&sink, 4, "olga@new.example").await;
    let link = link_in(&s, &mail[0], "/verify-email");
    let res = post_form_of(&b, &link, "/t/acme/verify-email", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mail = mail_to(&sink, 5, OWNER).await;
    let notice = mail
        .iter()
        .find(|m| m.subject().contains("address of your"))
        .expect("the old address is told");
    assert!(
        notice
            .text()
            .contains("from olga@example.com to olga@new.example")
    );
    let undo = link_in(&s, notice, "/email/undo");
    // The link works once, and restores the address and ends every session.
    let other = s.browser();
    let res = post_form_of(&other, &undo, "/t/acme/email/undo", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Address change undone"));
    assert!(user(&s, OWNER).await.email_verified);
    assert_eq!(
        b.get(account).await.status(),
        StatusCode::SEE_OTHER,
        "signed out"
    );
    assert_eq!(
        other.get(&undo).await.status(),
        StatusCode::GONE,
        "single use"
    );
    s.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_reauthenticates_a_session() {
    let s = server(|_| {}).await;
    s.create_user("acme", OWNER, PASSWORD).await;
    let b = s.browser();
    b.login("acme", OWNER, PASSWORD).await;
    let mut key = SoftPasskey::new(true);
    add_passkey(&s, &b, &mut key).await.unwrap();
    s.clock.advance(Duration::minutes(6));
    let reauth = "/t/acme/account/reauth?return_to=%2Ft%2Facme%2Faccount";
    let mut another = SoftPasskey::new(true);
    let refused = add_passkey(&s, &b, &mut another).await.unwrap_err();
    assert_eq!(refused["body"]["redirect"], reauth, "{refused}");
    let html = b.get(reauth).await.text().await.unwrap();
    assert!(
        html.contains("data-passkey=\"mfa\""),
        "the page offers the passkey"
    );
    let csrf = csrf_of(&html);
    let (st, begun) = post_json(
        &b,
        "/t/acme/login/mfa/passkey/begin",
        &json!({ "csrf_token": csrf }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{begun}");
    let rcr: RequestChallengeResponse = serde_json::from_value(begun["options"].clone()).unwrap();
    let assertion = key.do_authentication(origin(&s), rcr).unwrap();
    let (st, done) = post_json(
        &b,
        "/t/acme/login/mfa/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "credential": assertion,
                 "return_to": "/t/acme/account" }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    add_passkey(&s, &b, &mut another).await.unwrap();
    s.stop().await;
}

// 3. Lockout as a denial of service.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_guesses_delay_only_their_address_with_growing_delays() {
    let sink = SmtpSink::start().await;
    let s = with_sink(&sink, |c| c.trust_forwarded_headers = true).await;
    s.create_user("acme", OWNER, PASSWORD).await;
    let stranger = s.browser_from("203.0.113.9");
    for _ in 0..4 {
        let res = stranger.login("acme", OWNER, "guess").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = stranger.login("acme", OWNER, "guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "60");
    // The right password from that address waits too (the stranger might have guessed it).
    let res = stranger.login("acme", OWNER, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // The owner, elsewhere, signs in at once.
    let owner = s.browser_from("198.51.100.7");
    let res = owner.login("acme", OWNER, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/account");
    // Each further failure from the stranger's address doubles the delay.
    s.clock.advance(Duration::seconds(61));
    let res = stranger.login("acme", OWNER, "guess").await;
    assert_eq!(res.headers()["retry-after"], "120");
    s.clock.advance(Duration::seconds(121));
    let res = stranger.login("acme", OWNER, "guess").await;
    assert_eq!(res.headers()["retry-after"], "240");

    // Passkey sign-in stays available from the delayed address.
    let mut key = SoftPasskey::new(true);
    let cred = add_passkey(&s, &owner, &mut key).await.unwrap();
    let u = user(&s, OWNER).await;
    let (csrf, ceremony, assertion) =
        passwordless_assertion(&s, &stranger, &mut key, &cred, u.id).await;
    let (st, done) = post_json(
        &stranger,
        "/t/acme/login/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": ceremony, "credential": assertion }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    let _ = stranger.get("/t/acme/logout").await;

    // A password reset clears the account's counters everywhere.
    let later = s.browser_from("203.0.113.9");
    assert_eq!(
        later.login("acme", OWNER, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    reset(&s, &sink, 2, OWNER, NEW_PASSWORD).await;
    let res = later.login("acme", OWNER, NEW_PASSWORD).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the reset cleared the delay"
    );
    s.stop().await;
    sink.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_colleagues_behind_one_address_sign_in_despite_typos() {
    let s = server(|_| {}).await;
    let office = s.browser_from("192.0.2.1");
    for i in 0..40 {
        s.create_user("acme", &format!("colleague{i}@example.com"), PASSWORD)
            .await;
    }
    for i in 0..40 {
        let email = format!("colleague{i}@example.com");
        let b = s.browser_from("192.0.2.1");
        let res = b.login("acme", &email, "a typo in it").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{email}");
        let res = b.login("acme", &email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{email}");
    }
    // Password guessing from the same address over many accounts is still throttled.
    for i in 0..10 {
        let res = office
            .login("acme", &format!("guess{i}@example.com"), "guess")
            .await;
        assert_eq!(
            res.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "failure {}",
            41 + i
        );
    }
    let res = office
        .login("acme", "colleague0@example.com", PASSWORD)
        .await;
    assert_eq!(
        res.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "50 failures from one address"
    );
    assert!(res.text().await.unwrap().contains("from your network"));
    s.stop().await;
}

// 5. Guessing the current password on the account page.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_are_counted_like_sign_ins() {
    let s = server(|_| {}).await;
    s.create_user("acme", OWNER, PASSWORD).await;
    let b = s.browser();
    b.login("acme", OWNER, PASSWORD).await;
    let account = "/t/acme/account";
    let change = |current: &'static str| {
        let b = &b;
        async move {
            b.submit(
                account,
                "/t/acme/account/password",
                &[
                    ("current_password", current),
                    ("new_password", NEW_PASSWORD),
                    ("new_password_confirm", NEW_PASSWORD),
                ],
            )
            .await
        }
    };
    for _ in 0..4 {
        assert_eq!(
            change("guess").await.status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    let res = change("guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Too many wrong passwords")
    );
    assert_eq!(
        change(PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The same counter as sign-in: the password form cannot guess past it either.
    assert_eq!(
        s.browser().login("acme", OWNER, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    s.clock.advance(Duration::seconds(61));
    let res = change(PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("notice=password"));
    s.stop().await;
}

// 6. User enumeration.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_and_address_change_answer_the_same_for_taken_addresses() {
    let sink = SmtpSink::start().await;
    let s = with_sink(&sink, |_| {}).await;
    let out = s.cli(&[
        "tenant",
        "update",
        "acme",
        "--require-email-verification",
        "true",
    ]);
    assert!(out.status.success());
    s.clock.advance(Duration::seconds(11)); // past the read cache
    s.create_user("acme", OWNER, PASSWORD).await;
    let server = &s;
    let signup = |email: &'static str| async move {
        let b = server.browser();
        let res = b
            .submit(
                "/t/acme/signup",
                "/t/acme/signup",
                &[
                    ("email", email),
                    ("password", PASSWORD),
                    ("password_confirm", PASSWORD),
                ],
            )
            .await;
        (
            res.status(),
            res.text().await.unwrap().replace(email, "ADDRESS"),
        )
    };
    let fresh = signup("newcomer@example.com").await;
    let taken = signup(OWNER).await;
    assert_eq!(fresh.0, StatusCode::OK);
    assert_eq!(fresh, taken, "byte for byte, but for the address");
    assert_eq!(
        s.user_count().await,
        3,
        "the admin, the owner, the newcomer"
    );
    let mail = mail_to(&sink, 2, OWNER).await;
    assert!(
        mail[0].subject().contains("tried to sign up"),
        "{}",
        mail[0].subject()
    );

    // The account page's address change: the same answer for a taken and a free address.
    s.create_user("acme", "nina@example.com", PASSWORD).await;
    let b = s.browser();
    b.login("acme", "nina@example.com", PASSWORD).await;
    let mut answers = vec![];
    for to in [OWNER, "nina@new.example"] {
        let res = b
            .submit("/t/acme/account", "/t/acme/account/email", &[("email", to)])
            .await;
        answers.push((res.status(), location(&res)));
    }
    assert_eq!(answers[0], answers[1]);
    assert!(answers[0].1.contains("notice=email_change"));
    let mail = mail_to(&sink, 4, OWNER).await;
    assert!(
        mail.iter()
            .any(|m| m.subject().contains("Your address was given for another")),
        "{:?}",
        mail.iter().map(Received::subject).collect::<Vec<_>>()
    );
    assert_eq!(
        mail_to(&sink, 4, "nina@new.example").await.len(),
        1,
        "the link"
    );
    assert_eq!(
        user(&s, OWNER).await.email.as_deref(),
        Some(OWNER),
        "nothing moved"
    );
    s.stop().await;
    sink.stop().await;
}

// 9. CSRF tokens bound to the session.

fn cookie_of(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csrf_pair_fetched_without_a_session_does_not_work_for_a_signed_in_user() {
    let s = server(|_| {}).await;
    s.create_user("acme", OWNER, PASSWORD).await;
    // The attacker fetches a cookie and token pair anonymously.
    let res = reqwest::get(s.url("/t/acme/login")).await.unwrap();
    let csrf_cookie = cookie_of(&res, "plinto-csrf");
    let attacker_token = csrf_of(&res.text().await.unwrap());
    // The victim signs in (the login form works before there is a session).
    let b = s.browser();
    let res = b.login("acme", OWNER, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let session_cookie = cookie_of(&res, "plinto-session-acme");
    // With the attacker's pair planted in the victim's browser, a forged form is refused.
    let forge = |token: String| {
        let cookies = format!("{csrf_cookie}; {session_cookie}");
        let url = s.url("/t/acme/account/profile");
        async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(url)
                .header("cookie", cookies)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("name=Mallory&csrf_token={}", urlencode(&token)))
                .send()
                .await
                .unwrap()
        }
    };
    let res = forge(attacker_token.clone()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(user(&s, OWNER).await.name.is_none());
    // The victim's own token, from a page rendered in the session, works.
    let res = b
        .submit(
            "/t/acme/account",
            "/t/acme/account/profile",
            &[("name", "Olga")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(user(&s, OWNER).await.name.as_deref(), Some("Olga"));
    // And a token the victim's browser got before signing in no longer fits its session.
    let b2 = s.browser();
    let before = b2.csrf("/t/acme/login").await;
    b2.login("acme", OWNER, PASSWORD).await;
    let res = b2
        .post(
            "/t/acme/account/profile",
            &[("name", "Other"), ("csrf_token", &before)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    s.stop().await;
}

fn urlencode(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

// 12. The pending second-factor cookie is single use.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_second_factor_cookie_starts_one_session_only() {
    let s = server(|_| {}).await;
    s.create_user("acme", OWNER, PASSWORD).await;
    let setup = s.browser();
    setup.login("acme", OWNER, PASSWORD).await;
    let totp = enroll_totp(&s, &setup).await;
    s.clock.advance(Duration::seconds(30));

    let b = s.browser();
    let res = b.login("acme", OWNER, PASSWORD).await;
    assert!(location(&res).starts_with("/t/acme/login/mfa"));
    let pending = cookie_of(&res, "plinto-mfa-acme");
    let code = totp.generate(s.clock.now().timestamp() as u64).to_string();
    let res = b
        .submit("/t/acme/login/mfa", "/t/acme/login/mfa", &[("code", &code)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(b.get("/t/acme/account").await.status(), StatusCode::OK);

    // A copy of the pending cookie in another browser, with the next valid code.
    s.clock.advance(Duration::seconds(30));
    let code = totp.generate(s.clock.now().timestamp() as u64).to_string();
    let thief = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = thief
        .get(s.url("/t/acme/login/mfa"))
        .header("cookie", &pending)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        StatusCode::SEE_OTHER,
        "no second step to take"
    );
    assert!(location(&page).starts_with("/t/acme/login"));
    // Even with a form of its own (a fresh CSRF pair), the replay makes no session.
    let login = thief.get(s.url("/t/acme/login")).send().await.unwrap();
    let csrf = cookie_of(&login, "plinto-csrf");
    let token = csrf_of(&login.text().await.unwrap());
    let res = thief
        .post(s.url("/t/acme/login/mfa"))
        .header("cookie", format!("{pending}; {csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("code={code}&csrf_token={}", urlencode(&token)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res).starts_with("/t/acme/login?"),
        "{}",
        location(&res)
    );
    assert!(
        !res.headers().get_all("set-cookie").iter().any(|c| c
            .to_str()
            .unwrap()
            .starts_with("plinto-session-acme=")
            && !c.to_str().unwrap().starts_with("plinto-session-acme=;")),
        "no session cookie"
    );
    let live = plinto::accounts::sessions::list_live(
        &s.state.db,
        s.state.now(),
        s.state.timeouts(),
        user(&s, OWNER).await.id,
    )
    .await
    .unwrap();
    assert_eq!(live.len(), 2, "the set-up session and the one sign-in");
    s.stop().await;
}

// 14. The passkey ceremony is bound to the browser that began it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_sign_in_finishes_only_in_the_browser_that_began_it() {
    let s = server(|_| {}).await;
    s.create_user("acme", OWNER, PASSWORD).await;
    let setup = s.browser();
    setup.login("acme", OWNER, PASSWORD).await;
    let mut key = SoftPasskey::new(true);
    let cred = add_passkey(&s, &setup, &mut key).await.unwrap();
    let u = user(&s, OWNER).await;

    let victim = s.browser();
    let (_, ceremony, assertion) = passwordless_assertion(&s, &victim, &mut key, &cred, u.id).await;
    let attacker = s.browser();
    let csrf = attacker.csrf("/t/acme/login").await;
    let (st, refused) = post_json(
        &attacker,
        "/t/acme/login/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": ceremony, "credential": assertion }),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{refused}");
    assert_eq!(refused["error"], "The passkey request expired. Try again.");
    assert_eq!(
        attacker.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );

    let (csrf, ceremony, assertion) =
        passwordless_assertion(&s, &victim, &mut key, &cred, u.id).await;
    let (st, done) = post_json(
        &victim,
        "/t/acme/login/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": ceremony, "credential": assertion }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(victim.get("/t/acme/account").await.status(), StatusCode::OK);
    s.stop().await;
}

// 15. `--mfa-policy required`: enrolment only.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mfa_required_a_session_without_a_factor_may_only_enrol() {
    let s = server(|_| {}).await;
    let out = s.cli(&["tenant", "update", "acme", "--mfa-policy", "required"]);
    assert!(out.status.success());
    s.clock.advance(Duration::seconds(11)); // past the read cache
    s.create_user("acme", OWNER, PASSWORD).await;
    let b = s.browser();
    let res = b.login("acme", OWNER, PASSWORD).await;
    assert!(location(&res).starts_with("/t/acme/account/mfa/totp"));
    let enrol = "/t/acme/account/mfa/totp?return_to=%2Ft%2Facme%2Faccount";
    let account = "/t/acme/account";
    let attempts: [(&str, Vec<(&str, &str)>); 3] = [
        ("/t/acme/account/profile", vec![("name", "Mallory")]),
        (
            "/t/acme/account/password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
            ],
        ),
        (
            "/t/acme/account/email",
            vec![("email", "mallory@example.com")],
        ),
    ];
    for (action, fields) in &attempts {
        let res = b.submit(account, action, fields).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
        assert_eq!(location(&res), enrol, "{action}");
    }
    let u = user(&s, OWNER).await;
    assert!(u.name.is_none());
    assert_eq!(u.email.as_deref(), Some(OWNER));
    // After enrolling, the same session changes its profile.
    enroll_totp(&s, &b).await;
    let res = b.submit(account, attempts[0].0, &attempts[0].1).await;
    assert!(location(&res).contains("notice=profile"));
    assert_eq!(user(&s, OWNER).await.name.as_deref(), Some("Mallory"));
    s.stop().await;
}

// 18. Common passwords and passwords equal to the identifier.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn common_passwords_are_refused_wherever_a_password_is_set() {
    let sink = SmtpSink::start().await;
    let s = with_sink(&sink, |_| {}).await;
    let common = "This password is one of the most common ones and easy to guess: choose another.";

    // Sign-up.
    let b = s.browser();
    for (password, message) in [
        ("password", common),
        ("12345678", common),
        (
            "newbie@example.com",
            "Your password must not be your email address.",
        ),
    ] {
        let res = b
            .submit(
                "/t/acme/signup",
                "/t/acme/signup",
                &[
                    ("email", "newbie@example.com"),
                    ("password", password),
                    ("password_confirm", password),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{password}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&message.replace("'", "&#x27;")) || html.contains(message),
            "{password}: {html}"
        );
    }
    let res = b
        .submit(
            "/t/acme/signup",
            "/t/acme/signup",
            &[
                ("email", "newbie@example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a good password");

    // The account page.
    s.create_user("acme", OWNER, PASSWORD).await;
    let b = s.browser();
    b.login("acme", OWNER, PASSWORD).await;
    let res = b
        .submit(
            "/t/acme/account",
            "/t/acme/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "Sunshine"),
                ("new_password_confirm", "Sunshine"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(common));

    // A reset.
    let fb = s.browser();
    fb.submit(
        "/t/acme/password/forgot",
        "/t/acme/password/forgot",
        &[("email", OWNER)],
    )
    .await;
    let mail = mail_to(&sink, 2, OWNER).await;
    let link = link_in(&s, mail.last().unwrap(), "/password/reset");
    let res = post_form_of(
        &fb,
        &link,
        "/t/acme/password/reset",
        &[("password", "iloveyou"), ("password_confirm", "iloveyou")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains(common));
    let res = post_form_of(
        &fb,
        &link,
        "/t/acme/password/reset",
        &[
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK, "a good password");

    // The CLI.
    let out = s.cli(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "cli@example.com",
        "--password",
        "qwertyuiop",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("most common"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = s.cli(&[
        "user",
        "create",
        "--tenant",
        "acme",
        "--email",
        "cli@example.com",
        "--password",
        PASSWORD,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SCIM.
    let scim = Scim::new(&s, "acme").await;
    let r = scim
        .post(
            "/Users",
            &json!({ "schemas": [USER], "userName": "scim@example.com", "password": "football1",
                     "emails": [{ "value": "scim@example.com", "primary": true }] }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("most common"),
        "{}",
        r.text
    );
    let r = scim
        .post(
            "/Users",
            &json!({ "schemas": [USER], "userName": "Employee-4711", "password": "employee-4711",
                     "emails": [{ "value": "e4711@example.com", "primary": true }] }),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("user name"),
        "{}",
        r.text
    );
    let r = scim
        .post(
            "/Users",
            &json!({ "schemas": [USER], "userName": "scim@example.com", "password": PASSWORD,
                     "emails": [{ "value": "scim@example.com", "primary": true }] }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    s.stop().await;
    sink.stop().await;
}
