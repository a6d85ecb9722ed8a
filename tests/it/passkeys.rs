//! Passkeys (WebAuthn) through the hosted pages' JSON ceremonies, with webauthn-authenticator-rs's
//! software authenticator doing real signatures: registration of named passkeys, a passkey as
//! the second factor, passwordless sign-in, rename and remove, and bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse,
};

use crate::support::{Browser, TestServer, csrf_of, location};

const EMAIL: &str = "pat@example.com";
const PASSWORD: &str = "correct horse battery staple";

async fn server() -> TestServer {
    let s = TestServer::start_with(|c| {
        c.rate_limits = "off".into();
        c.public_url = Some("http://localhost".into());
    })
    .await;
    s.create_tenant("acme", false).await;
    s.create_user("acme", EMAIL, PASSWORD).await;
    s
}

fn origin(s: &TestServer) -> url::Url {
    url::Url::parse(&s.state.config.public_url()).unwrap()
}

async fn password(b: &Browser) -> reqwest::Response {
    let token = b.csrf("/t/acme/login").await;
    b.post(
        "/t/acme/login",
        &[
            ("email", EMAIL),
            ("password", PASSWORD),
            ("return_to", "/t/acme/account"),
            ("csrf_token", &token),
        ],
    )
    .await
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

/// Register a passkey named `name` from the account page.
async fn register(s: &TestServer, b: &Browser, key: &mut SoftPasskey, name: &str) -> String {
    let page = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(page.contains("data-passkey=\"register\""));
    assert!(page.contains("<script src=\"/static/webauthn.js\""));
    let csrf = csrf_of(&page);
    let (st, begun) = post_json(
        b,
        "/t/acme/account/passkeys/register/begin",
        &json!({ "csrf_token": csrf }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{begun}");
    let ccr: CreationChallengeResponse = serde_json::from_value(begun["options"].clone()).unwrap();
    let credential = key
        .do_registration(origin(s), ccr)
        .expect("the authenticator registers");
    let (st, done) = post_json(
        b,
        "/t/acme/account/passkeys/register/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "name": name,
                 "credential": credential }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/t/acme/account?notice=passkey_added");
    credential.id
}

/// Begin an assertion ceremony; the options and the page's CSRF token.
async fn begin(b: &Browser, page: &str, path: &str) -> (String, Value) {
    let html = b.get(page).await.text().await.unwrap();
    let csrf = csrf_of(&html);
    let (st, begun) = post_json(b, path, &json!({ "csrf_token": csrf })).await;
    assert_eq!(st, StatusCode::OK, "{begun}");
    (csrf, begun)
}

#[tokio::test]
async fn passkeys_register_and_sign_in_as_second_factor_and_passwordless() {
    let s = server().await;
    let b = s.browser();
    password(&b).await;
    let mut laptop = SoftPasskey::new(true);
    let cred_id = register(&s, &b, &mut laptop, "Laptop").await;
    let mut phone = SoftPasskey::new(true);
    register(&s, &b, &mut phone, "Phone").await;
    let page = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(page.contains("<strong>Laptop</strong>") && page.contains("<strong>Phone</strong>"));
    // Passkeys do not stand in the way of an authenticator app.
    let res = b.get("/t/acme/account/mfa/totp").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("otpauth-uri"));

    // Second factor: the password alone is not enough any more.
    let b2 = s.browser();
    let res = password(&b2).await;
    assert!(location(&res).starts_with("/t/acme/login/mfa"));
    let mfa_page = b2.get(&location(&res)).await.text().await.unwrap();
    assert!(mfa_page.contains("Use a passkey"));
    let (csrf, begun) = begin(&b2, &location(&res), "/t/acme/login/mfa/passkey/begin").await;
    let rcr: RequestChallengeResponse = serde_json::from_value(begun["options"].clone()).unwrap();
    let assertion = laptop
        .do_authentication(origin(&s), rcr)
        .expect("the authenticator signs");
    // A tampered signature is refused, and uses the ceremony up.
    let mut forged = assertion.clone();
    let mut sig: Vec<u8> = forged.response.signature.clone();
    sig[10] ^= 0xff;
    forged.response.signature = sig;
    let (st, refused) = post_json(
        &b2,
        "/t/acme/login/mfa/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "credential": forged }),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], "The passkey could not be verified.");
    let (st, again) = post_json(
        &b2,
        "/t/acme/login/mfa/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "credential": assertion }),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "single-use ceremony: {again}");
    assert_eq!(again["error"], "The passkey request expired. Try again.");
    let (csrf, begun) = begin(&b2, "/t/acme/login/mfa", "/t/acme/login/mfa/passkey/begin").await;
    let rcr: RequestChallengeResponse = serde_json::from_value(begun["options"].clone()).unwrap();
    let assertion = laptop.do_authentication(origin(&s), rcr).unwrap();
    let (st, done) = post_json(
        &b2,
        "/t/acme/login/mfa/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "credential": assertion,
                 "return_to": "/t/acme/account" }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(done["redirect"], "/t/acme/account");
    assert_eq!(b2.get("/t/acme/account").await.status(), StatusCode::OK);

    // Passwordless, usernameless: a discoverable request. The software authenticator keeps
    // no resident keys, so the test plays the part of the browser's credential picker: it
    // names the credential and passes the user handle the authenticator stored for it.
    let b3 = s.browser();
    let (csrf, begun) = begin(&b3, "/t/acme/login", "/t/acme/login/passkey/begin").await;
    assert_eq!(begun["options"]["mediation"], "conditional");
    assert_eq!(begun["options"]["publicKey"]["allowCredentials"], json!([]));
    let mut rcr: RequestChallengeResponse =
        serde_json::from_value(begun["options"].clone()).unwrap();
    let raw: Vec<u8> =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &cred_id)
            .unwrap();
    rcr.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id: raw,
        transports: None,
    }];
    let mut assertion: PublicKeyCredential = laptop.do_authentication(origin(&s), rcr).unwrap();
    let user_id = user_id(&s).await;
    assertion.response.user_handle = Some(user_id.as_bytes().to_vec());
    let (st, done) = post_json(
        &b3,
        "/t/acme/login/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "credential": assertion,
                 "return_to": "/t/acme/account" }),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(b3.get("/t/acme/account").await.status(), StatusCode::OK);
    // The sessions say how: a device-bound key (`hwk`), a second factor, and (passwordless)
    // no password.
    let amrs = session_amrs(&s).await;
    assert!(amrs.contains(&"pwd hwk mfa".to_string()), "{amrs:?}");
    assert!(amrs.contains(&"hwk mfa".to_string()), "{amrs:?}");

    // A credential named with another user's handle is refused.
    let b4 = s.browser();
    let (csrf, begun) = begin(&b4, "/t/acme/login", "/t/acme/login/passkey/begin").await;
    let mut rcr: RequestChallengeResponse =
        serde_json::from_value(begun["options"].clone()).unwrap();
    rcr.public_key.allow_credentials = vec![AllowCredentials {
        type_: "public-key".into(),
        id: base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &cred_id)
            .unwrap(),
        transports: None,
    }];
    let mut assertion = laptop.do_authentication(origin(&s), rcr).unwrap();
    assertion.response.user_handle = Some(uuid::Uuid::new_v4().as_bytes().to_vec());
    let (st, refused) = post_json(
        &b4,
        "/t/acme/login/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "credential": assertion }),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"], "This passkey is not registered here.");

    let actions: Vec<String> = s
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    for a in [
        "passkey.register",
        "passkey.login",
        "mfa.success",
        "mfa.failure",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }
}

async fn session_amrs(s: &TestServer) -> Vec<String> {
    use sea_orm::EntityTrait;
    entity::session::Entity::find()
        .all(&s.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.amr)
        .collect()
}

async fn user_id(s: &TestServer) -> uuid::Uuid {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::user::Entity::find()
        .filter(entity::user::Column::Email.eq(EMAIL))
        .one(&s.state.db)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn passkey_bad_input_rename_remove_and_reset() {
    let s = server().await;
    let b = s.browser();
    password(&b).await;
    let mut key = SoftPasskey::new(true);
    register(&s, &b, &mut key, "Old name").await;
    let html = b.get("/t/acme/account").await.text().await.unwrap();
    let csrf = csrf_of(&html);

    // Bad input: JSON errors with a clear message, never a 500.
    let (st, v) = post_json(&b, "/t/acme/account/passkeys/register/begin", &json!({})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "no CSRF token: {v}");
    let res = b
        .http
        .post(format!("{}/t/acme/login/passkey/finish", b.base()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (st, v) = post_json(
        &b,
        "/t/acme/login/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": uuid::Uuid::new_v4(), "credential": {"id": 1} }),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    // An expired challenge.
    let (_, begun) = begin(&b, "/t/acme/account", "/t/acme/login/passkey/begin").await;
    s.clock.advance(chrono::Duration::minutes(6));
    let (csrf2, begun2) = begin(&b, "/t/acme/account", "/t/acme/login/mfa/passkey/begin").await;
    let rcr2: RequestChallengeResponse = serde_json::from_value(begun2["options"].clone()).unwrap();
    let assertion = key.do_authentication(origin(&s), rcr2).unwrap();
    let (st, v) = post_json(
        &b,
        "/t/acme/login/passkey/finish",
        &json!({ "csrf_token": csrf2, "ceremony": begun["ceremony"], "credential": assertion }),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "The passkey request expired. Try again.");
    // An unknown credential id.
    let (csrf, begun) = begin(&b, "/t/acme/account", "/t/acme/login/mfa/passkey/begin").await;
    let rcr: RequestChallengeResponse = serde_json::from_value(begun["options"].clone()).unwrap();
    let mut other = SoftPasskey::new(true);
    assert!(other.do_authentication(origin(&s), rcr.clone()).is_err());
    let mut assertion = key.do_authentication(origin(&s), rcr).unwrap();
    assertion.raw_id = vec![7u8; 32];
    assertion.id = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc".into();
    let (st, v) = post_json(
        &b,
        "/t/acme/login/mfa/passkey/finish",
        &json!({ "csrf_token": csrf, "ceremony": begun["ceremony"], "credential": assertion }),
    )
    .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");

    // Rename and remove on the account page; removing, six minutes after signing in, needs
    // the password again (sudo mode).
    let html = b.get("/t/acme/account").await.text().await.unwrap();
    let token = csrf_of(&html);
    let res = b
        .post(
            &format!("/t/acme/account/passkeys/{}/remove", uuid::Uuid::new_v4()),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(
        location(&res),
        "/t/acme/account/reauth?return_to=%2Ft%2Facme%2Faccount"
    );
    let res = b
        .submit(
            "/t/acme/account/reauth",
            "/t/acme/account/reauth",
            &[("password", PASSWORD), ("return_to", "/t/acme/account")],
        )
        .await;
    assert_eq!(location(&res), "/t/acme/account");
    let html = b.get("/t/acme/account").await.text().await.unwrap();
    let id = html
        .split("data-passkey-id=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let token = csrf_of(&html);
    let res = b
        .post(
            &format!("/t/acme/account/passkeys/{id}/rename"),
            &[("name", "Work laptop"), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(location(&res), "/t/acme/account?notice=passkey_renamed");
    let res = b
        .post(
            &format!("/t/acme/account/passkeys/{id}/rename"),
            &[("name", ""), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(location(&res), "/t/acme/account?notice=passkey_name");
    let html = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(html.contains("<strong>Work laptop</strong>"));
    let res = b
        .post(
            &format!("/t/acme/account/passkeys/{}/remove", uuid::Uuid::new_v4()),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = b
        .post(
            &format!("/t/acme/account/passkeys/{id}/remove"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(location(&res), "/t/acme/account?notice=passkey_removed");
    assert!(
        !b.get("/t/acme/account")
            .await
            .text()
            .await
            .unwrap()
            .contains("Work laptop")
    );

    // The administrator's reset removes passkeys too.
    register(&s, &b, &mut key, "Again").await;
    let out = s.cli(&["user", "reset-mfa", "--tenant", "acme", EMAIL]);
    assert!(out.status.success());
    assert!(
        !b.get("/t/acme/account")
            .await
            .text()
            .await
            .unwrap()
            .contains("<strong>Again</strong>")
    );
}
