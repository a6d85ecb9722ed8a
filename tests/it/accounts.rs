//! Sign-up, sign-in, brute-force protection, sign-out, sessions and password change, through
//! the hosted pages as a browser uses them.

use chrono::Duration;
use reqwest::StatusCode;

use crate::support::*;

const LOGIN_FAILED: &str = "The email address or password is not right.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_admin_signs_in_and_lands_on_the_account_page() {
    let s = TestServer::start().await;
    let b = s.browser();
    let res = b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/default/account");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("plinto-session-default="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    let page = b.get("/t/default/account").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(ADMIN_EMAIL));
    assert_eq!(session_ids(&html).len(), 1);

    let actions = s.audit_actions().await;
    assert!(
        actions
            .iter()
            .any(|(a, _, o)| a == "login.success" && o == "success")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_one_time_password_must_be_changed() {
    let s = TestServer::start_with(|c| c.bootstrap_admin_password = None).await;
    let otp = s.bootstrap_password.clone().expect("a one-time password");
    let b = s.browser();
    let res = b.login("default", ADMIN_EMAIL, &otp).await;
    assert_eq!(location(&res), "/t/default/account");
    let html = b.get("/t/default/account").await.text().await.unwrap();
    assert!(html.contains("one-time password"), "{html}");

    let res = b
        .submit(
            "/t/default/account",
            "/t/default/account/password",
            &[
                ("current_password", &otp),
                ("new_password", "a brand new password"),
                ("new_password_confirm", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = b.get("/t/default/account").await.text().await.unwrap();
    assert!(!html.contains("one-time password"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_creates_an_account_and_signs_in() {
    let s = TestServer::start().await;
    s.create_tenant("acme", true).await;
    let b = s.browser();
    let res = b
        .submit(
            "/t/acme/signup",
            "/t/acme/signup",
            &[
                ("email", "New.User@Example.com"),
                ("name", "New User"),
                ("password", "long enough password"),
                ("password_confirm", "long enough password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/account");
    let html = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(html.contains("New.User@Example.com") && html.contains("New User"));

    // The same address in another case is the same account.
    let other = s.browser();
    let res = other
        .submit(
            "/t/acme/signup",
            "/t/acme/signup",
            &[
                ("email", "new.user@EXAMPLE.com"),
                ("password", "long enough password"),
                ("password_confirm", "long enough password"),
            ],
        )
        .await;
    // No second account, and an answer that does not say the address has one (the owner is
    // emailed instead; see tests/it/security.rs).
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("Check your email"), "{html}");
    assert!(!html.contains("already exists"), "{html}");
    assert_eq!(
        other.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );

    // Signing in is case-insensitive on the email too.
    let res = other
        .login("acme", "NEW.USER@example.COM", "long enough password")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let actions = s.audit_actions().await;
    assert!(actions.iter().any(|(a, _, _)| a == "user.signup"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_is_refused_where_the_tenant_does_not_allow_it() {
    let s = TestServer::start().await;
    let b = s.browser();
    let res = b.get("/t/default/signup").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("does not offer sign-up"));
    let before = s.user_count().await;
    let token = b.csrf("/t/default/login").await;
    let res = b
        .post(
            "/t/default/signup",
            &[
                ("csrf_token", &token),
                ("email", "x@example.com"),
                ("password", "long enough password"),
                ("password_confirm", "long enough password"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(s.user_count().await, before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let s = TestServer::start().await;
    s.create_user("default", "ann@example.com", "ann's password")
        .await;
    let b = s.browser();

    let wrong = b
        .login("default", "ann@example.com", "not the password")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = wrong.text().await.unwrap();
    assert!(wrong.contains(LOGIN_FAILED));

    let unknown = b
        .login("default", "bob@example.com", "not the password")
        .await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = unknown.text().await.unwrap();
    // Byte-identical but for the address typed, which the form keeps.
    assert_eq!(
        wrong.replace("ann@example.com", "EMAIL"),
        unknown.replace("bob@example.com", "EMAIL")
    );
    // Not signed in.
    let res = b.get("/t/default/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/t/default/login?return_to="));

    let actions = s.audit_actions().await;
    assert_eq!(
        actions
            .iter()
            .filter(|(a, _, o)| a == "login.failure" && o == "failure")
            .count(),
        2
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_without_a_valid_csrf_token_is_refused() {
    let s = TestServer::start().await;
    let b = s.browser();
    b.csrf("/t/default/login").await; // the browser has its CSRF cookie
    let res = b
        .post(
            "/t/default/login",
            &[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("Form expired"));

    let res = b
        .post(
            "/t/default/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", "forged-token-forged-token-forged"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // A token from another browser does not fit this browser's cookie.
    let other = s.browser().csrf("/t/default/login").await;
    let res = b
        .post(
            "/t/default/login",
            &[
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("csrf_token", &other),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        b.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(
        !s.audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "login.success")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_delay_the_account_from_that_address_until_the_delay_ends() {
    let s = TestServer::start().await;
    s.create_user("default", "ann@example.com", "ann's password")
        .await;
    let b = s.browser();
    for _ in 0..4 {
        let res = b.login("default", "ann@example.com", "wrong").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = b.login("default", "ann@example.com", "wrong").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "60");
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Too many failed sign-in attempts for this account")
    );

    // From this address, even the right password waits for the delay to end.
    let res = b
        .login("default", "ann@example.com", "ann's password")
        .await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    // An unknown account is delayed the same way: nothing tells them apart.
    for _ in 0..4 {
        b.login("default", "ghost@example.com", "wrong").await;
    }
    let res = b.login("default", "ghost@example.com", "wrong").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);

    let lockouts = s
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, _, _)| a == "login.lockout")
        .count();
    assert_eq!(lockouts, 2);

    s.clock.advance(Duration::seconds(61));
    let res = b
        .login("default", "ann@example.com", "ann's password")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_with_many_failures_is_throttled() {
    let s = TestServer::start_with(|c| c.login_ip_max_failures = 3).await;
    let b = s.browser();
    for i in 0..3 {
        let res = b
            .login("default", &format!("user{i}@example.com"), "wrong")
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let res = b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("from your network"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session() {
    let s = TestServer::start().await;
    let b = s.browser();
    let res = b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let session_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("plinto-session-default="))
        .unwrap();

    let html = b.get("/t/default/logout").await.text().await.unwrap();
    assert!(html.contains("Do you want to sign out"));
    let res = b
        .submit("/t/default/logout", "/t/default/logout", &[])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("You are signed out"));
    assert_eq!(
        b.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );

    // The old cookie value is dead on the server, not just forgotten by the browser.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.url("/t/default/account"))
        .header("cookie", session_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "logout")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_can_be_ended_from_the_account_page() {
    let s = TestServer::start().await;
    s.create_user("default", "ann@example.com", "ann's password")
        .await;
    let laptop = s.browser();
    let phone = s.browser();
    laptop
        .login("default", "ann@example.com", "ann's password")
        .await;
    phone
        .login("default", "ann@example.com", "ann's password")
        .await;

    let html = laptop.get("/t/default/account").await.text().await.unwrap();
    let ids = session_ids(&html);
    assert_eq!(ids.len(), 2);
    let phone_html = phone.get("/t/default/account").await.text().await.unwrap();
    // Each browser sees its own session marked.
    let phone_id = current_session_id(&phone_html);
    assert_ne!(phone_id, current_session_id(&html));

    let action = format!("/t/default/account/sessions/{phone_id}/revoke");
    let res = laptop.submit("/t/default/account", &action, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/default/account?notice=revoked");
    assert_eq!(
        phone.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );
    let html = laptop.get("/t/default/account").await.text().await.unwrap();
    assert_eq!(session_ids(&html).len(), 1);

    // Ending it again, or a session that is not there: a 404 page.
    let res = laptop.submit("/t/default/account", &action, &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = laptop
        .submit(
            "/t/default/account",
            "/t/default/account/sessions/not-a-uuid/revoke",
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Another user's session cannot be ended.
    let admin = s.browser();
    admin.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let admin_id =
        session_ids(&admin.get("/t/default/account").await.text().await.unwrap())[0].clone();
    let res = laptop
        .submit(
            "/t/default/account",
            &format!("/t/default/account/sessions/{admin_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        admin.get("/t/default/account").await.status(),
        StatusCode::OK
    );

    // Ending one's own session signs out.
    let own = current_session_id(&html);
    let res = laptop
        .submit(
            "/t/default/account",
            &format!("/t/default/account/sessions/{own}/revoke"),
            &[],
        )
        .await;
    assert_eq!(location(&res), "/t/default/login");
    assert_eq!(
        laptop.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        s.audit_actions()
            .await
            .iter()
            .filter(|(a, _, _)| a == "session.revoke")
            .count(),
        2
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_checks_the_current_password_and_ends_other_sessions() {
    let s = TestServer::start().await;
    s.create_user("default", "ann@example.com", "ann's password")
        .await;
    let b = s.browser();
    let other = s.browser();
    b.login("default", "ann@example.com", "ann's password")
        .await;
    other
        .login("default", "ann@example.com", "ann's password")
        .await;

    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let b = &b;
        async move {
            b.submit(
                "/t/default/account",
                "/t/default/account/password",
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("new_password_confirm", confirm),
                ],
            )
            .await
        }
    };
    let res = change("wrong", "the new password", "the new password").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("current password is not right")
    );
    let res = change("ann's password", "the new password", "different").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("differ"));
    let res = change("ann's password", "short", "short").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("at least 8"));
    let res = change("ann's password", "ann@example.com", "ann@example.com").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let res = change("ann's password", "the new password", "the new password").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let html = b.get(&location(&res)).await.text().await.unwrap();
    assert!(html.contains("Your password was changed"));
    assert_eq!(
        other.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );

    let fresh = s.browser();
    let res = fresh
        .login("default", "ann@example.com", "ann's password")
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = fresh
        .login("default", "ann@example.com", "the new password")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let changes: Vec<_> = s
        .audit_actions()
        .await
        .into_iter()
        .filter(|(a, _, _)| a == "password.change")
        .map(|(_, _, o)| o)
        .collect();
    assert_eq!(changes, ["failure", "success"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_can_be_edited() {
    let s = TestServer::start().await;
    let b = s.browser();
    b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = b
        .submit(
            "/t/default/account",
            "/t/default/account/profile",
            &[("name", "Ada Lovelace")],
        )
        .await;
    assert_eq!(location(&res), "/t/default/account?notice=profile");
    let html = b.get("/t/default/account").await.text().await.unwrap();
    assert!(html.contains("value=\"Ada Lovelace\""));
    let res = b
        .submit(
            "/t/default/account",
            "/t/default/account/profile",
            &[("name", &"n".repeat(201))],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("at most 200"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_is_refused_and_signed_out() {
    let s = TestServer::start().await;
    s.create_user("default", "ann@example.com", "ann's password")
        .await;
    let b = s.browser();
    b.login("default", "ann@example.com", "ann's password")
        .await;
    assert_eq!(b.get("/t/default/account").await.status(), StatusCode::OK);

    let out = s.cli(&["user", "disable", "--tenant", "default", "ann@example.com"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(
        b.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );
    let res = b
        .login("default", "ann@example.com", "ann's password")
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("disabled"));
    // A wrong password still gets the ordinary answer.
    let res = b.login("default", "ann@example.com", "wrong").await;
    assert!(res.text().await.unwrap().contains(LOGIN_FAILED));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_idle_and_at_their_absolute_limit() {
    let s = TestServer::start().await;
    let b = s.browser();
    b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    s.clock.advance(Duration::minutes(119));
    assert_eq!(b.get("/t/default/account").await.status(), StatusCode::OK);
    // Activity moved the idle deadline on.
    s.clock.advance(Duration::minutes(119));
    assert_eq!(b.get("/t/default/account").await.status(), StatusCode::OK);
    s.clock.advance(Duration::minutes(121));
    assert_eq!(
        b.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );

    let b = s.browser();
    b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for _ in 0..23 {
        s.clock.advance(Duration::hours(1));
        assert_eq!(b.get("/t/default/account").await.status(), StatusCode::OK);
    }
    s.clock.advance(Duration::hours(1));
    assert_eq!(
        b.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_with_old_parameters_is_upgraded_at_sign_in() {
    use sea_orm::EntityTrait;
    let s = TestServer::start().await;
    // A user whose hash was made with weaker parameters than the server's.
    let weak = plinto::accounts::password::Hasher::new(1024, 1, 1).unwrap();
    let t = plinto::tenants::find_by_slug(&s.state.db, "default")
        .await
        .unwrap()
        .unwrap();
    let user = plinto::accounts::users::create(
        &s.state.db,
        s.state.now(),
        &weak,
        t.id,
        plinto::accounts::users::NewUser {
            email: "old@example.com".into(),
            password: Some("an old password".into()),
            name: None,
            email_verified: false,
            is_admin: false,
            must_change_password: false,
        },
        "user.create",
        Some("test"),
        &Default::default(),
    )
    .await
    .unwrap();
    assert!(
        user.password_hash
            .as_deref()
            .unwrap()
            .contains("m=1024,t=1,p=1")
    );

    let res = s
        .browser()
        .login("default", "old@example.com", "an old password")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let user = entity::user::Entity::find_by_id(user.id)
        .one(&s.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{:?}",
        user.password_hash
    );
    let res = s
        .browser()
        .login("default", "old@example.com", "an old password")
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_to_is_followed_only_within_the_tenant() {
    let s = TestServer::start().await;
    let b = s.browser();
    let res = b.get("/t/default/account").await;
    let login = location(&res);
    assert_eq!(login, "/t/default/login?return_to=%2Ft%2Fdefault%2Faccount");
    let html = b.get(&login).await.text().await.unwrap();
    assert!(html.contains("name=\"return_to\" value=\"/t/default/account\""));

    let token = csrf_of(&html);
    let res = b
        .post(
            "/t/default/login",
            &[
                ("csrf_token", &token),
                ("email", ADMIN_EMAIL),
                ("password", ADMIN_PASSWORD),
                ("return_to", "https://evil.example/steal"),
            ],
        )
        .await;
    assert_eq!(location(&res), "/t/default/account");

    // Signed in already: the login page sends the user on.
    let res = b
        .get("/t/default/login?return_to=%2Ft%2Fdefault%2Flogout")
        .await;
    assert_eq!(location(&res), "/t/default/logout");
    s.stop().await;
}
