//! Email over real SMTP (an in-process SMTP sink that receives over the wire): password reset,
//! email verification on sign-up and on a change of address, the tenant setting that requires
//! it, the `.eml` file transport, and the outbox across a restart and several nodes.

use chrono::Duration;
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

use crate::oidc::{self, Rp, code_as};
use crate::smtp_sink::{Received, SmtpSink};
use crate::support::{Browser, TestServer, eventually, location};

const ALICE: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery";

async fn server_with(sink: &SmtpSink) -> TestServer {
    let url = sink.url();
    TestServer::start_with(|c| {
        c.smtp_url = Some(plinto::config::Secret(url));
        c.mail_from = "Acme Identity <id@acme.test>".into();
        c.mail_poll_interval_ms = 50;
    })
    .await
}

/// The path and query of a link in a message, checked to point at this server.
fn path_of(s: &TestServer, link: &str) -> String {
    link.strip_prefix(&s.base)
        .unwrap_or_else(|| panic!("{link} is not on {}", s.base))
        .to_string()
}

fn link_in(s: &TestServer, m: &Received, route: &str) -> String {
    let prefix = format!("{}/t/default{route}?token=", s.base);
    let link = m
        .link(&prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in:\n{}", m.text()));
    assert!(
        m.html().unwrap().contains(&link.replace('&', "&amp;")),
        "the HTML part has the same link"
    );
    path_of(s, &link)
}

/// POST the form on the page at `page` (its hidden fields and CSRF token) with more fields.
async fn post_form_of(
    b: &Browser,
    page: &str,
    action: &str,
    more: &[(&str, &str)],
) -> reqwest::Response {
    let res = b.get(page).await;
    assert_eq!(res.status(), StatusCode::OK, "GET {page}");
    let html = res.text().await.unwrap();
    let hidden = oidc::hidden_inputs(&html);
    let mut fields: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.extend_from_slice(more);
    b.post(action, &fields).await
}

async fn user(s: &TestServer, email: &str) -> entity::user::Model {
    entity::user::Entity::find()
        .filter(entity::user::Column::EmailNormalized.eq(email))
        .one(&s.state.db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn password_reset_over_smtp_works_once_expires_and_revokes_sessions_and_tokens() {
    let sink = SmtpSink::start().await;
    let s = server_with(&sink).await;
    s.create_user("default", ALICE, PASSWORD).await;

    // Alice is signed in in one browser and an app holds her refresh token.
    let rp = oidc::client(&s, |c| c.skip_consent = true).await;
    let signed_in = s.browser();
    let code = code_as(&s, &signed_in, &rp, ALICE, PASSWORD).await;
    let tokens: Value = oidc::exchange(&s, &rp, &code).await.json().await.unwrap();
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_string();
    let access_token = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        signed_in.get("/t/default/account").await.status(),
        StatusCode::OK
    );

    // The login page leads to the request form.
    let b = s.browser();
    let login = b.get("/t/default/login").await.text().await.unwrap();
    assert!(
        login.contains("href=\"/t/default/password/forgot\""),
        "{login}"
    );

    // The same answer for an unknown address; only Alice's gets a message.
    let forgot = "/t/default/password/forgot";
    let unknown = b
        .submit(forgot, forgot, &[("email", "nobody@example.com")])
        .await;
    assert_eq!(unknown.status(), StatusCode::OK);
    let unknown = unknown.text().await.unwrap();
    let known = b.submit(forgot, forgot, &[("email", ALICE)]).await;
    assert_eq!(known.status(), StatusCode::OK);
    let known = known.text().await.unwrap();
    assert_eq!(
        known.replace(ALICE, "X"),
        unknown.replace("nobody@example.com", "X")
    );

    let mail = sink.wait_for(1).await;
    assert_eq!(mail.len(), 1);
    let m = &mail[0];
    assert_eq!(m.to, vec![ALICE.to_string()]);
    assert_eq!(m.from, "id@acme.test");
    assert_eq!(m.auth, Some(("user".to_string(), "pass".to_string())));
    assert_eq!(m.subject(), "Reset your Plinto password");
    assert!(m.text().contains("30 minutes"), "{}", m.text());
    assert!(m.header("Message-ID").is_some());
    let link = link_in(&s, m, "/password/reset");

    // Bad input keeps the link usable.
    let res = post_form_of(
        &b,
        &link,
        "/t/default/password/reset",
        &[
            ("password", "new password 1"),
            ("password_confirm", "different"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The two passwords differ.")
    );
    let res = post_form_of(
        &b,
        &link,
        "/t/default/password/reset",
        &[("password", "short"), ("password_confirm", "short")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let new_password = "a brand new passphrase";
    let res = post_form_of(
        &b,
        &link,
        "/t/default/password/reset",
        &[
            ("password", new_password),
            ("password_confirm", new_password),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Password changed"));

    // Once only.
    assert_eq!(b.get(&link).await.status(), StatusCode::GONE);
    let token = link.split("token=").nth(1).unwrap();
    let csrf = b.csrf(forgot).await;
    let again = b
        .post(
            "/t/default/password/reset",
            &[
                ("csrf_token", &csrf),
                ("token", token),
                ("password", "another one 123"),
                ("password_confirm", "another one 123"),
            ],
        )
        .await;
    assert_eq!(again.status(), StatusCode::GONE);

    // Sessions, refresh tokens and access tokens of before are gone.
    let account = signed_in.get("/t/default/account").await;
    assert_eq!(account.status(), StatusCode::SEE_OTHER);
    let refreshed = oidc::refresh(&s, &rp, &refresh_token).await;
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        oidc::userinfo(&s, &access_token).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // The new password works, the old one does not.
    assert_eq!(
        s.browser().login("default", ALICE, PASSWORD).await.status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        s.browser()
            .login("default", ALICE, new_password)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    // And Alice is told.
    let mail = sink.wait_for(2).await;
    assert_eq!(mail[1].subject(), "Your Plinto password was changed");
    assert_eq!(mail[1].to, vec![ALICE.to_string()]);
    assert!(
        mail[1]
            .link(&format!("{}/t/default/password/forgot", s.base))
            .is_some()
    );

    // A link expires after 30 minutes.
    b.submit(forgot, forgot, &[("email", ALICE)]).await;
    let mail = sink.wait_for(3).await;
    let link = link_in(&s, &mail[2], "/password/reset");
    s.clock.advance(Duration::minutes(29));
    assert_eq!(b.get(&link).await.status(), StatusCode::OK);
    s.clock.advance(Duration::minutes(2));
    let res = b.get(&link).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("/t/default/password/forgot")
    );

    let actions: Vec<String> = s.audit_actions().await.into_iter().map(|a| a.0).collect();
    for a in ["password.reset_request", "password.reset", "mail.sent"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
    s.stop().await;
    sink.stop().await;
}

#[tokio::test]
async fn reset_and_verification_links_refuse_bad_input_without_errors() {
    let sink = SmtpSink::start().await;
    let s = server_with(&sink).await;
    let b = s.browser();
    for path in [
        "/t/default/password/reset",
        "/t/default/password/reset?token=",
        "/t/default/password/reset?token=nope",
        "/t/default/verify-email?token=nope",
        "/t/default/verify-email?token=%ZZ",
        &format!("/t/default/verify-email?token={}", "x".repeat(5000)),
    ] {
        let res = b.get(path).await;
        assert!(
            res.status() == StatusCode::GONE || res.status() == StatusCode::BAD_REQUEST,
            "{path}: {}",
            res.status()
        );
    }
    let forgot = "/t/default/password/forgot";
    let res = b
        .submit(forgot, forgot, &[("email", "not an address")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // No CSRF token: refused.
    let res = b.post(forgot, &[("email", ALICE)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = b
        .post("/t/default/verify-email", &[("token", "nope")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let csrf = b.csrf(forgot).await;
    let res = b
        .post(
            "/t/default/verify-email",
            &[("csrf_token", &csrf), ("token", "nope")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert!(sink.messages().is_empty());
    s.stop().await;
    sink.stop().await;
}

#[tokio::test]
async fn sign_up_sends_a_verification_link_and_email_verified_follows_it() {
    let sink = SmtpSink::start().await;
    let s = server_with(&sink).await;
    s.create_tenant("acme", true).await;
    let b = s.browser();
    let signup = "/t/acme/signup";
    let res = b
        .submit(
            signup,
            signup,
            &[
                ("email", "Bob@Example.com"),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in at once");
    let account = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(account.contains("not verified"), "{account}");

    let mail = sink.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["Bob@Example.com".to_string()]);
    assert_eq!(
        mail[0].subject(),
        "Verify your email address for Tenant acme"
    );
    let prefix = format!("{}/t/acme/verify-email?token=", s.base);
    let link = path_of(&s, &mail[0].link(&prefix).expect("a verification link"));

    // Opening the link does not use it; the button does.
    let other = s.browser();
    let page = other.get(&link).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(!user(&s, "bob@example.com").await.email_verified);
    let res = post_form_of(&other, &link, "/t/acme/verify-email", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Email address verified"));
    assert!(user(&s, "bob@example.com").await.email_verified);
    assert_eq!(other.get(&link).await.status(), StatusCode::GONE);
    let account = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(account.contains("<strong>verified</strong>"), "{account}");

    s.stop().await;
    sink.stop().await;
}

async fn id_token_claims(s: &TestServer, rp: &Rp, b: &Browser) -> Value {
    let code = code_as(s, b, rp, ALICE, PASSWORD).await;
    let tokens: Value = oidc::exchange(s, rp, &code).await.json().await.unwrap();
    oidc::jwt_parts(tokens["id_token"].as_str().unwrap()).1
}

#[tokio::test]
async fn email_verified_claim_changes_once_the_link_is_used() {
    let sink = SmtpSink::start().await;
    let s = server_with(&sink).await;
    // An unverified account of the default tenant, via sign-up.
    let out = s.cli(&["tenant", "update", "default", "--allow-signup", "true"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let updated: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(updated["allow_signup"], true);
    assert_eq!(updated["require_email_verification"], false);
    s.clock.advance(Duration::seconds(11)); // past the read cache
    let b = s.browser();
    let signup = "/t/default/signup";
    let res = b
        .submit(
            signup,
            signup,
            &[
                ("email", ALICE),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let rp = oidc::client(&s, |c| c.skip_consent = true).await;
    assert_eq!(id_token_claims(&s, &rp, &b).await["email_verified"], false);
    let mail = sink.wait_for(1).await;
    let link = link_in(&s, &mail[0], "/verify-email");
    let res = post_form_of(&b, &link, "/t/default/verify-email", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(id_token_claims(&s, &rp, &b).await["email_verified"], true);
    s.stop().await;
    sink.stop().await;
}

#[tokio::test]
async fn a_tenant_can_require_a_verified_address_before_sign_in() {
    let sink = SmtpSink::start().await;
    let s = server_with(&sink).await;
    let out = s.cli(&[
        "tenant",
        "create",
        "acme",
        "--allow-signup",
        "--require-email-verification",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = s.browser();
    let signup = "/t/acme/signup";
    let res = b
        .submit(
            signup,
            signup,
            &[
                ("email", ALICE),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK, "no session yet");
    assert!(res.text().await.unwrap().contains("Check your email"));
    assert_eq!(
        b.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );
    sink.wait_for(1).await;

    // The right password is not enough yet; a fresh link goes out. A wrong one says nothing.
    let res = b.login("acme", ALICE, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("verify your email address")
    );
    let res = b.login("acme", ALICE, "wrong password!").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mail = sink.wait_for(2).await;
    let prefix = format!("{}/t/acme/verify-email?token=", s.base);
    let first = path_of(&s, &mail[0].link(&prefix).unwrap());
    let second = path_of(&s, &mail[1].link(&prefix).unwrap());
    assert_eq!(
        b.get(&first).await.status(),
        StatusCode::GONE,
        "replaced by the newer link"
    );
    let res = post_form_of(&b, &second, "/t/acme/verify-email", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        b.login("acme", ALICE, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    s.stop().await;
    sink.stop().await;
}

#[tokio::test]
async fn an_address_changes_when_the_new_one_is_verified() {
    let sink = SmtpSink::start().await;
    let s = server_with(&sink).await;
    s.create_user("default", ALICE, PASSWORD).await;
    s.create_user("default", "taken@example.com", PASSWORD)
        .await;
    let b = s.browser();
    assert_eq!(
        b.login("default", ALICE, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let account = "/t/default/account";
    let res = b
        .submit(
            account,
            "/t/default/account/email",
            &[("email", "not-an-address")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A taken address answers as a free one would; its owner is told (no enumeration).
    let res = b
        .submit(
            account,
            "/t/default/account/email",
            &[("email", "taken@example.com")],
        )
        .await;
    assert!(location(&res).contains("notice=email_change"));
    let mail = sink.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["taken@example.com".to_string()]);
    let res = b
        .submit(
            account,
            "/t/default/account/email",
            &[("email", "alice@new.example")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).contains("notice=email_change"));
    let mail = sink.wait_for(2).await;
    assert_eq!(mail[1].to, vec!["alice@new.example".to_string()]);
    assert_eq!(
        user(&s, ALICE).await.email.as_deref(),
        Some(ALICE),
        "unchanged until verified"
    );
    let link = link_in(&s, &mail[1], "/verify-email");
    let res = post_form_of(&b, &link, "/t/default/verify-email", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let u = user(&s, "alice@new.example").await;
    assert!(u.email_verified);
    assert_eq!(
        s.browser()
            .login("default", "alice@new.example", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|a| a.0 == "email.change")
    );
    s.stop().await;
    sink.stop().await;
}

#[tokio::test]
async fn without_smtp_messages_are_written_as_eml_files() {
    let s = TestServer::start_with(|c| c.mail_poll_interval_ms = 50).await;
    s.create_user("default", ALICE, PASSWORD).await;
    let b = s.browser();
    let forgot = "/t/default/password/forgot";
    assert_eq!(
        b.submit(forgot, forgot, &[("email", ALICE)]).await.status(),
        StatusCode::OK
    );
    let dir = s.dir.path().join("mail");
    let raw = eventually("an .eml file", || {
        let dir = dir.clone();
        async move {
            let entry = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .find(|e| e.path().extension().is_some_and(|x| x == "eml"))?;
            Some(std::fs::read(entry.path()).unwrap())
        }
    })
    .await;
    let m = Received {
        from: String::new(),
        to: vec![],
        raw,
        auth: None,
    };
    assert_eq!(m.subject(), "Reset your Plinto password");
    let link = link_in(&s, &m, "/password/reset");
    assert_eq!(b.get(&link).await.status(), StatusCode::OK);
    s.stop().await;
}

async fn outbox(s: &plinto::state::AppState) -> Vec<entity::mail_outbox::Model> {
    use sea_orm::QueryOrder;
    entity::mail_outbox::Entity::find()
        .order_by_asc(entity::mail_outbox::Column::CreatedAt)
        .all(&s.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_outbox_survives_a_restart_and_each_message_goes_out_once() {
    // SMTP is down: the port is closed.
    let sink = SmtpSink::start().await;
    let port = sink.port();
    let url = sink.url();
    sink.stop().await;
    let s = server_with_url(&url).await;
    s.create_user("default", ALICE, PASSWORD).await;
    let b = s.browser();
    let forgot = "/t/default/password/forgot";
    assert_eq!(
        b.submit(forgot, forgot, &[("email", ALICE)]).await.status(),
        StatusCode::OK
    );
    // The sender tries, fails, and schedules a retry (the audit trail shows the failure).
    eventually("a failed attempt", || async {
        let actions = s.audit_actions().await;
        actions
            .iter()
            .any(|a| a.0 == "mail.attempt_failed" && a.2 == "failure")
            .then_some(())
    })
    .await;
    let queued = outbox(&s.state).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].status.as_str(), queued[0].attempts),
        ("pending", 1)
    );
    assert!(
        !queued[0].message.contains(ALICE),
        "the queued message is encrypted"
    );

    // Plinto restarts; SMTP comes back; the retry falls due.
    s.pause().await;
    let sink = SmtpSink::start_on(port).await;
    let node = s.sibling(|_| {}).await;
    node.clock.advance(Duration::seconds(31));
    let mail = sink.wait_for(1).await;
    assert_eq!(mail[0].subject(), "Reset your Plinto password");
    let sent = all_sent(&node.state, 1).await;
    assert_eq!((sent[0].status.as_str(), sent[0].attempts), ("sent", 2));
    assert!(sent[0].message.is_empty(), "the body is erased once sent");

    // Two more nodes and twenty messages: each goes out exactly once.
    let other = s.sibling(|_| {}).await;
    let tenant = plinto::tenants::find_by_slug(&node.state.db, "default")
        .await
        .unwrap()
        .unwrap();
    for i in 0..20 {
        let m = plinto::mail::templates::password_changed(&plinto::mail::templates::Mail {
            product: "Plinto",
            link: "http://example.com/",
            valid_for: "",
        })
        .unwrap();
        plinto::mail::outbox::enqueue(
            &node.state.db,
            node.state.now(),
            &node.state.mailer,
            Some(tenant.id),
            &format!("user{i}@example.com"),
            m,
        )
        .await
        .unwrap();
    }
    node.state.mailer.wake();
    other.state.mailer.wake();
    let mail = sink.wait_for(21).await;
    // Both nodes look again: nothing is left to send.
    assert_eq!(
        plinto::mail::outbox::deliver_due(&node.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        plinto::mail::outbox::deliver_due(&other.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(sink.messages().len(), 21);
    let mut ids: Vec<String> = mail
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 21, "21 different messages");
    let sent = all_sent(&node.state, 21).await;
    assert!(
        sent.iter()
            .all(|m| m.attempts == 1 || m.kind == "password_reset")
    );
    other.stop().await;
    node.stop().await;
    s.stop().await;
    sink.stop().await;
}

/// The outbox once all `n` messages are marked sent (the sink may see a message a moment
/// before the sender records it).
async fn all_sent(state: &plinto::state::AppState, n: usize) -> Vec<entity::mail_outbox::Model> {
    eventually("all messages sent", || async {
        let rows = outbox(state).await;
        (rows.len() == n && rows.iter().all(|m| m.status == "sent")).then_some(rows)
    })
    .await
}

async fn server_with_url(url: &str) -> TestServer {
    let url = url.to_string();
    TestServer::start_with(|c| {
        c.smtp_url = Some(plinto::config::Secret(url));
        c.mail_poll_interval_ms = 50;
    })
    .await
}

#[tokio::test]
async fn a_message_is_given_up_after_the_last_attempt_and_audited() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    sink.stop().await;
    let s = TestServer::start_with(|c| {
        c.smtp_url = Some(plinto::config::Secret(url));
        c.mail_poll_interval_ms = 50;
        c.mail_max_attempts = 2;
    })
    .await;
    s.create_user("default", ALICE, PASSWORD).await;
    let b = s.browser();
    let forgot = "/t/default/password/forgot";
    b.submit(forgot, forgot, &[("email", ALICE)]).await;
    eventually("the message given up", || async {
        let actions = s.audit_actions().await;
        if actions.iter().any(|a| a.0 == "mail.attempt_failed") {
            // The retry falls due.
            s.clock.advance(Duration::seconds(31));
        }
        actions.iter().any(|a| a.0 == "mail.failed").then_some(())
    })
    .await;
    let m = &outbox(&s.state).await[0];
    assert_eq!((m.status.as_str(), m.attempts), ("failed", 2));
    assert!(m.last_error.as_deref().is_some_and(|e| !e.is_empty()));
    assert!(m.message.is_empty());
    s.stop().await;
}

#[tokio::test]
async fn a_password_change_on_the_account_page_is_notified() {
    let sink = SmtpSink::start().await;
    let s = server_with(&sink).await;
    s.create_user("default", ALICE, PASSWORD).await;
    let b = s.browser();
    assert_eq!(
        b.login("default", ALICE, PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let new_password = "another fine passphrase";
    let res = b
        .submit(
            "/t/default/account",
            "/t/default/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new_password),
                ("new_password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = sink.wait_for(1).await;
    assert_eq!(mail[0].to, vec![ALICE.to_string()]);
    assert_eq!(mail[0].subject(), "Your Plinto password was changed");
    s.stop().await;
    sink.stop().await;
}

/// An account without an address (a SCIM userName) gets no mail, not even the notice of a
/// password change; once it adds an address on the account page and opens the link, mail
/// flows like for anyone, and its userName stays.
#[tokio::test]
async fn an_account_without_an_address_gets_mail_once_it_adds_one() {
    use crate::scim_client::{Scim, USER};
    let sink = SmtpSink::start().await;
    let s = server_with(&sink).await;
    let scim = Scim::new(&s, "default").await;
    let r = scim
        .post(
            "/Users",
            &serde_json::json!({ "schemas": [USER], "userName": "E-1", "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let out = s.cli(&[
        "tenant",
        "update",
        "default",
        "--sign-in-with-username",
        "true",
    ]);
    assert!(out.status.success());
    s.clock.advance(Duration::seconds(11)); // past the read cache
    let b = s.browser();
    assert_eq!(
        b.login("default", "E-1", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let change = |current: &'static str, new: &'static str| {
        let b = &b;
        async move {
            b.submit(
                "/t/default/account",
                "/t/default/account/password",
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("new_password_confirm", new),
                ],
            )
            .await
            .status()
        }
    };
    // The password must not be the userName either.
    assert_eq!(
        change(PASSWORD, "E-1").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let second = "a second fine passphrase";
    assert_eq!(change(PASSWORD, second).await, StatusCode::SEE_OTHER);
    assert!(outbox(&s.state).await.is_empty(), "no address, no mail");

    let res = b
        .submit(
            "/t/default/account",
            "/t/default/account/email",
            &[("email", "e1@example.com")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mail = sink.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["e1@example.com".to_string()]);
    let link = link_in(&s, &mail[0], "/verify-email");
    let res = post_form_of(&b, &link, "/t/default/verify-email", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let u = user(&s, "e1@example.com").await;
    assert!(u.email_verified);
    assert_eq!(u.user_name, "E-1");
    assert_eq!(
        change(second, "a third fine passphrase").await,
        StatusCode::SEE_OTHER
    );
    let mail = sink.wait_for(2).await;
    assert_eq!(mail[1].to, vec!["e1@example.com".to_string()]);
    assert_eq!(mail[1].subject(), "Your Plinto password was changed");
    s.stop().await;
    sink.stop().await;
}
