//! Accounts with only a SCIM `userName` (RFC 7643 §4.1), the one profile that SCIM and the
//! account page write and OIDC reads (checked with the `openidconnect` crate's typed claims),
//! the `claims` request parameter asking for one claim, and the migration that made email
//! optional, on SQLite and PostgreSQL.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, EntityTrait};
use serde_json::{Value, json};

use crate::oidc::{REDIRECT, authorize, client, param, params_of};
use crate::rp::{discover, http, local};
use crate::scim_client::{Scim, USER};
use crate::support::{TestDb, TestServer, location};

const PASSWORD: &str = "a long enough password";

async fn server() -> TestServer {
    TestServer::start_with(|c| c.rate_limits = "off".into()).await
}

/// `plinto tenant update default --sign-in-with-username <on>`, as JSON.
fn sign_in_with_username(s: &TestServer, on: bool) -> Value {
    let out = s.cli(&[
        "tenant",
        "update",
        "default",
        "--sign-in-with-username",
        if on { "true" } else { "false" },
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An RP of the default tenant, its client and the claims of one code flow for `login`.
struct Flow {
    id_token: openidconnect::core::CoreIdTokenClaims,
    userinfo: CoreUserInfoClaims,
    userinfo_json: Value,
    id_token_json: Value,
}

async fn code_flow(s: &TestServer, login: &str, scopes: &[&str], claims: Option<Value>) -> Flow {
    let rp = client(s, |c| c.skip_consent = true).await;
    let oidc = CoreClient::from_provider_metadata(
        discover(s).await,
        ClientId::new(rp.id.clone()),
        Some(ClientSecret::new(rp.secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = oidc
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in scopes {
        req = req.add_scope(Scope::new(scope.to_string()));
    }
    if let Some(c) = &claims {
        req = req.add_extra_param("claims", c.to_string());
    }
    let (url, _, nonce) = req.url();
    let res = authorize(&s.browser(), &local(s, &url), login, PASSWORD).await;
    let code = param(&params_of(&res), "code")
        .unwrap_or_else(|| panic!("no code: {}", location(&res)))
        .to_string();
    let tokens = oidc
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("token exchange");
    let raw_id_token = tokens.id_token().unwrap().to_string();
    let id_token = tokens
        .id_token()
        .unwrap()
        .claims(&oidc.id_token_verifier(), &nonce)
        .expect("the ID token verifies")
        .clone();
    let userinfo: CoreUserInfoClaims = oidc
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    let userinfo_json: Value = reqwest::Client::new()
        .get(s.url("/t/default/oauth2/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = raw_id_token.split('.').nth(1).unwrap();
    let id_token_json = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    Flow {
        id_token,
        userinfo,
        userinfo_json,
        id_token_json,
    }
}

async fn login_status(s: &TestServer, login: &str, password: &str) -> StatusCode {
    s.browser().login("default", login, password).await.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_only_a_user_name_signs_in_where_allowed_and_has_no_email_anywhere() {
    let s = server().await;
    let scim = Scim::new(&s, "default").await;
    let r = scim
        .post(
            "/Users",
            &json!({ "schemas": [USER], "userName": "E-10042", "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.body.get("emails").is_none(), "{}", r.text);
    let id = r.id();
    // Another one: several accounts without an address live beside each other.
    let r = scim
        .post(
            "/Users",
            &json!({ "schemas": [USER], "userName": "E-10043" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // The userName stays unique case-insensitively.
    scim.post(
        "/Users",
        &json!({ "schemas": [USER], "userName": "e-10042" }),
    )
    .await
    .assert_error(409, Some("uniqueness"));

    // Off by default: the userName is not a sign-in name (same answer as a wrong password).
    let page = s
        .browser()
        .get("/t/default/login")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(">Email</label>") && page.contains("type=\"email\""),
        "{page}"
    );
    let json = sign_in_with_username(&s, false);
    assert_eq!(json["sign_in_with_username"], false);
    assert_eq!(
        login_status(&s, "E-10042", PASSWORD).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let json = sign_in_with_username(&s, true);
    assert_eq!(json["sign_in_with_username"], true);
    assert_eq!(json["slug"], "default", "the other fields stay: {json}");
    s.clock.advance(chrono::Duration::seconds(11)); // past the read cache
    assert_eq!(
        login_status(&s, "e-10042", "wrong password").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let page = s
        .browser()
        .get("/t/default/login")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(">Email or user name</label>"), "{page}");
    let b = s.browser();
    let res = b.login("default", "e-10042", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The admin still signs in with an address.
    assert_eq!(
        login_status(
            &s,
            crate::support::ADMIN_EMAIL,
            crate::support::ADMIN_PASSWORD
        )
        .await,
        StatusCode::SEE_OTHER
    );

    // The account page shows the userName and no address, and nothing is sent.
    let page = b.get("/t/default/account").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("value=\"E-10042\""), "{html}");
    assert!(html.contains("id=\"no-email\""), "{html}");
    let csrf = crate::support::csrf_of(&html);
    let res = b
        .post("/t/default/account/email/verify", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A reset is asked for by address: a userName is not one, and nothing is sent.
    let forgot = b
        .submit(
            "/t/default/password/forgot",
            "/t/default/password/forgot",
            &[("email", "E-10042")],
        )
        .await;
    assert_eq!(forgot.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let outbox: Vec<entity::mail_outbox::Model> = entity::mail_outbox::Entity::find()
        .all(&s.state.db)
        .await
        .unwrap();
    assert!(outbox.is_empty(), "{outbox:?}");

    // OIDC: preferred_username is the userName; no email claims without an address.
    let flow = code_flow(&s, "E-10042", &["profile", "email"], None).await;
    for claims in [&flow.id_token_json, &flow.userinfo_json] {
        assert_eq!(claims["preferred_username"], "E-10042", "{claims}");
        assert!(claims.get("email").is_none(), "{claims}");
        assert!(claims.get("email_verified").is_none(), "{claims}");
    }
    assert_eq!(
        flow.id_token.preferred_username().map(|u| u.as_str()),
        Some("E-10042")
    );
    assert_eq!(flow.id_token.email(), None);
    assert_eq!(flow.userinfo.email(), None);

    // The CLI lists it with its userName and no address; the audit trail names it.
    let out = s.cli(&["user", "list", "--tenant", "default"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let me = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id.as_str())
        .expect("listed");
    assert_eq!(me["user_name"], "E-10042");
    assert!(me["email"].is_null());

    // An address given later over SCIM is the account's (and the email claims come back).
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            &json!({ "schemas": [crate::scim_client::PATCH_OP], "Operations": [
                { "op": "add", "path": "emails", "value": [{ "value": "ada@example.com", "primary": true }] }
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let flow = code_flow(&s, "ada@example.com", &["email"], None).await;
    assert_eq!(
        flow.id_token.email().map(|e| e.as_str()),
        Some("ada@example.com")
    );
    assert_eq!(flow.id_token.email_verified(), Some(true));
    s.stop().await;
}

fn scim_profile(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "password": PASSWORD,
        "displayName": "Ada Lovelace",
        "name": { "givenName": "Ada", "middleName": "King", "familyName": "Lovelace" },
        "nickName": "ada",
        "profileUrl": "https://people.example/ada",
        "photos": [{ "value": "https://img.example/ada.png", "type": "photo", "primary": true }],
        "emails": [{ "value": email, "primary": true }],
        "phoneNumbers": [
            { "value": "+44 20 7946 0000", "type": "home" },
            { "value": "+44 20 7946 0001", "type": "work", "primary": true }
        ],
        "addresses": [{
            "type": "work", "primary": true, "streetAddress": "12 St James's Square",
            "locality": "London", "region": "Westminster", "postalCode": "SW1Y 4LB",
            "country": "GB", "formatted": "12 St James's Square\nLondon SW1Y 4LB"
        }],
        "locale": "en-GB",
        "timezone": "Europe/London"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_scim_writes_the_id_token_and_userinfo_return_and_one_claim_comes_alone() {
    let s = server().await;
    let scim = Scim::new(&s, "default").await;
    let r = scim
        .post("/Users", &scim_profile("ada", "ada@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let flow = code_flow(
        &s,
        "ada@example.com",
        &["profile", "email", "phone", "address"],
        None,
    )
    .await;
    for (given, family, middle, nick, locale, zone, picture, profile, phone, address) in [
        (
            flow.id_token.given_name(),
            flow.id_token.family_name(),
            flow.id_token.middle_name(),
            flow.id_token.nickname(),
            flow.id_token.locale(),
            flow.id_token.zoneinfo(),
            flow.id_token.picture(),
            flow.id_token.profile(),
            flow.id_token.phone_number(),
            flow.id_token.address(),
        ),
        (
            flow.userinfo.given_name(),
            flow.userinfo.family_name(),
            flow.userinfo.middle_name(),
            flow.userinfo.nickname(),
            flow.userinfo.locale(),
            flow.userinfo.zoneinfo(),
            flow.userinfo.picture(),
            flow.userinfo.profile(),
            flow.userinfo.phone_number(),
            flow.userinfo.address(),
        ),
    ] {
        assert_eq!(given.unwrap().get(None).unwrap().as_str(), "Ada");
        assert_eq!(family.unwrap().get(None).unwrap().as_str(), "Lovelace");
        assert_eq!(middle.unwrap().get(None).unwrap().as_str(), "King");
        assert_eq!(nick.unwrap().get(None).unwrap().as_str(), "ada");
        assert_eq!(locale.unwrap().as_str(), "en-GB");
        assert_eq!(zone.unwrap().as_str(), "Europe/London");
        assert_eq!(
            picture.unwrap().get(None).unwrap().as_str(),
            "https://img.example/ada.png"
        );
        assert_eq!(
            profile.unwrap().get(None).unwrap().as_str(),
            "https://people.example/ada"
        );
        assert_eq!(phone.unwrap().as_str(), "+44 20 7946 0001");
        let address = address.unwrap();
        assert_eq!(address.locality.as_ref().unwrap().as_str(), "London");
        assert_eq!(address.postal_code.as_ref().unwrap().as_str(), "SW1Y 4LB");
        assert_eq!(address.country.as_ref().unwrap().as_str(), "GB");
        assert_eq!(
            address.street_address.as_ref().unwrap().as_str(),
            "12 St James's Square"
        );
    }
    assert_eq!(flow.id_token.phone_number_verified(), Some(false));
    assert_eq!(flow.userinfo.preferred_username().unwrap().as_str(), "ada");

    // Only `openid`, and one claim asked for by name in each place: that claim alone, not
    // the rest of its scope (OIDC Core §5.5).
    let flow = code_flow(
        &s,
        "ada@example.com",
        &[],
        Some(json!({
            "userinfo": { "phone_number": null },
            "id_token": { "locale": { "essential": true } }
        })),
    )
    .await;
    assert_eq!(flow.userinfo_json["phone_number"], "+44 20 7946 0001");
    for absent in [
        "phone_number_verified",
        "given_name",
        "email",
        "address",
        "locale",
    ] {
        assert!(
            flow.userinfo_json.get(absent).is_none(),
            "{absent}: {}",
            flow.userinfo_json
        );
    }
    assert_eq!(flow.id_token_json["locale"], "en-GB");
    for absent in [
        "zoneinfo",
        "given_name",
        "phone_number",
        "preferred_username",
    ] {
        assert!(
            flow.id_token_json.get(absent).is_none(),
            "{absent}: {}",
            flow.id_token_json
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_of_a_scope_the_client_may_not_have_is_not_returned_even_by_name() {
    let s = server().await;
    let scim = Scim::new(&s, "default").await;
    let r = scim
        .post("/Users", &scim_profile("ada", "ada@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let rp = client(&s, |c| {
        c.skip_consent = true;
        c.scopes = vec!["openid".into(), "profile".into()];
    })
    .await;
    let oidc = CoreClient::from_provider_metadata(
        discover(&s).await,
        ClientId::new(rp.id.clone()),
        Some(ClientSecret::new(rp.secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, _) = oidc
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .add_extra_param(
            "claims",
            json!({ "userinfo": { "phone_number": null, "nickname": null } }).to_string(),
        )
        .url();
    let res = authorize(&s.browser(), &local(&s, &url), "ada@example.com", PASSWORD).await;
    let code = param(&params_of(&res), "code").unwrap().to_string();
    let tokens = oidc
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let info: Value = reqwest::Client::new()
        .get(s.url("/t/default/oauth2/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["nickname"], "ada", "{info}");
    assert!(info.get("phone_number").is_none(), "{info}");
    s.stop().await;
}

#[tokio::test]
async fn the_account_page_edits_the_profile_that_scim_and_oidc_read() {
    let s = server().await;
    let scim = Scim::new(&s, "default").await;
    let r = scim
        .post("/Users", &scim_profile("ada", "ada@example.com"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.id();
    let b = s.browser();
    assert_eq!(
        b.login("default", "ada@example.com", PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let page = b.get("/t/default/account").await.text().await.unwrap();
    assert!(page.contains("value=\"Westminster\""), "{page}");
    let save = |fields: Vec<(&'static str, String)>| {
        let b = &b;
        async move {
            let csrf = b.csrf("/t/default/account").await;
            let mut all: Vec<(&str, &str)> = vec![("csrf_token", csrf.as_str())];
            all.extend(fields.iter().map(|(k, v)| (*k, v.as_str())));
            let res = b.post("/t/default/account/profile", &all).await;
            let status = res.status();
            (status, res.text().await.unwrap())
        }
    };
    let (status, _) = save(vec![
        ("name", "Augusta Ada King".into()),
        ("given_name", "Augusta".into()),
        ("middle_name", "".into()),
        ("nickname", "Countess".into()),
        ("birthdate", "1815-12-10".into()),
        ("locale", "en-GB".into()),
        ("zoneinfo", "Europe/Paris".into()),
        ("phone_number", "+33 1 23 45 67 89".into()),
        ("website", "https://ada.example/".into()),
        ("address_locality", "Paris".into()),
        ("address_postal_code", "75001".into()),
        ("address_country", "FR".into()),
    ])
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let page = b.get("/t/default/account").await.text().await.unwrap();
    for v in [
        "Augusta",
        "Countess",
        "1815-12-10",
        "Europe/Paris",
        "https://ada.example/",
    ] {
        assert!(page.contains(&format!("value=\"{v}\"")), "{v}: {page}");
    }
    // SCIM reads the same profile (and its ETag moved on).
    let got = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body["name"]["givenName"], "Augusta", "{}", got.text);
    assert!(got.body["name"].get("middleName").is_none(), "{}", got.text);
    assert_eq!(got.body["name"]["familyName"], "Lovelace");
    assert_eq!(got.body["nickName"], "Countess");
    assert_eq!(got.body["timezone"], "Europe/Paris");
    assert_eq!(got.body["phoneNumbers"][0]["value"], "+44 20 7946 0000");
    assert_eq!(got.body["phoneNumbers"][1]["value"], "+33 1 23 45 67 89");
    assert_eq!(got.body["phoneNumbers"][1]["type"], "work");
    assert_eq!(got.body["addresses"][0]["locality"], "Paris");
    assert_eq!(got.body["displayName"], "Augusta Ada King");
    assert_ne!(got.body["meta"]["version"], r.body["meta"]["version"]);
    // OIDC too, with the claims only the account page sets.
    let flow = code_flow(
        &s,
        "ada@example.com",
        &["profile", "phone", "address"],
        None,
    )
    .await;
    assert_eq!(flow.userinfo_json["birthdate"], "1815-12-10");
    assert_eq!(flow.userinfo_json["website"], "https://ada.example/");
    assert_eq!(flow.userinfo_json["zoneinfo"], "Europe/Paris");
    assert_eq!(flow.userinfo_json["phone_number"], "+33 1 23 45 67 89");
    assert_eq!(flow.userinfo_json["address"]["locality"], "Paris");
    assert_eq!(flow.userinfo_json["name"], "Augusta Ada King");
    assert!(flow.userinfo_json.get("middle_name").is_none());

    // Bad input: a clear message naming the field, and nothing changes.
    for (field, value, message) in [
        ("birthdate", "10/12/1815", "Birthdate: use YYYY-MM-DD"),
        ("birthdate", "1815-02-30", "Birthdate: use YYYY-MM-DD"),
        (
            "website",
            "javascript:alert(1)",
            "Website: enter an absolute http or https URL",
        ),
        (
            "picture",
            "not a url",
            "Picture: enter an absolute http or https URL",
        ),
        (
            "zoneinfo",
            "not a zone",
            "Time zone: enter a time zone name",
        ),
        ("locale", "english please", "Language: enter a language tag"),
        (
            "phone_number",
            "call me",
            "Phone number: enter a telephone number",
        ),
    ] {
        let (status, html) = save(vec![(field, value.to_string())]).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(html.contains(message), "{field}: {html}");
    }
    let (status, html) = save(vec![("given_name", "A".repeat(201))]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("Given name: use at most 200 characters"),
        "{html}"
    );
    let (status, html) = save(vec![("address_formatted", "x".repeat(1001))]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("Address as written on mail: use at most 1000"),
        "{html}"
    );
    let after = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(after.body["meta"]["version"], got.body["meta"]["version"]);

    // The same rules over SCIM, as SCIM errors.
    let mut bad = scim_profile("grace", "grace@example.com");
    bad["photos"] = json!([{ "value": "javascript:alert(1)" }]);
    let r = scim.post("/Users", &bad).await;
    r.assert_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"].as_str().unwrap().contains("photos.value"),
        "{}",
        r.text
    );
    let mut bad = scim_profile("grace", "grace@example.com");
    bad["name"]["givenName"] = json!("G".repeat(201));
    let r = scim.post("/Users", &bad).await;
    r.assert_error(400, Some("invalidValue"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("name.givenName"),
        "{}",
        r.text
    );
    // A locale that is not a language tag is SCIM's to keep, but not released as a claim.
    let mut odd = scim_profile("grace", "grace@example.com");
    odd["locale"] = json!("somewhere nice");
    let r = scim.post("/Users", &odd).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["locale"], "somewhere nice");
    let flow = code_flow(&s, "grace@example.com", &["profile"], None).await;
    assert!(
        flow.userinfo_json.get("locale").is_none(),
        "{}",
        flow.userinfo_json
    );
    assert_eq!(flow.userinfo_json["given_name"], "Ada");
    s.stop().await;
}

/// Migration 10 on a database with data: every row stays (sessions too: rebuilding `users` on
/// SQLite must not cascade), the address becomes optional, the indexes still hold.
#[tokio::test]
async fn the_profiles_migration_keeps_every_row_and_index() {
    use migration::MigratorTrait;
    let dir = tempfile::tempdir().unwrap();
    let tdb = TestDb::new(dir.path()).await;
    let db = Database::connect(&tdb.url).await.unwrap();
    migration::Migrator::up(&db, Some(9)).await.unwrap();
    // A UUID as each backend stores it (SeaORM: a BLOB on SQLite).
    let postgres = tdb.pg_name().is_some();
    let lit = |id: uuid::Uuid| {
        if postgres {
            format!("'{id}'")
        } else {
            format!("X'{}'", id.simple())
        }
    };
    let (tenant_id, alice_id, bob_id) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    let (tenant, alice, bob) = (lit(tenant_id), lit(alice_id), lit(bob_id));
    let now = "2026-12-01T00:00:00+00:00";
    let sql = |s: String| {
        let db = &db;
        async move { db.execute_unprepared(&s).await }
    };
    sql(format!(
        "INSERT INTO tenants (id, slug, name, allow_signup, created_at) \
         VALUES ({tenant}, 'acme', 'Acme', false, '{now}')"
    ))
    .await
    .unwrap();
    for (id, email) in [(&alice, "alice@example.com"), (&bob, "bob@example.com")] {
        sql(format!(
            "INSERT INTO users (id, tenant_id, sub, email, email_normalized, email_verified, \
             name, created_at, updated_at, user_name, user_name_normalized, scim) VALUES \
             ({id}, {tenant}, '{email}', '{email}', '{email}', true, 'Someone', '{now}', \
             '{now}', '{email}', '{email}', '{{\"name\":{{\"givenName\":\"Al\"}}}}')"
        ))
        .await
        .unwrap();
    }
    sql(format!(
        "INSERT INTO sessions (id, tenant_id, user_id, token_hash, created_at, last_seen_at, \
         expires_at) VALUES ({}, {tenant}, {alice}, 'h1', '{now}', '{now}', '{now}')",
        lit(uuid::Uuid::new_v4())
    ))
    .await
    .unwrap();

    migration::Migrator::up(&db, None).await.unwrap();

    let users = entity::user::Entity::find().all(&db).await.unwrap();
    assert_eq!(users.len(), 2);
    let a = users.iter().find(|u| u.id == alice_id).unwrap();
    assert_eq!(a.email.as_deref(), Some("alice@example.com"));
    assert_eq!(a.name.as_deref(), Some("Someone"));
    assert!(a.email_verified);
    assert_eq!(a.profile, json!({}));
    // What SCIM provisioned before there were profiles is the profile.
    let p = plinto::accounts::profile::of(a);
    assert_eq!(p.given_name.as_deref(), Some("Al"));
    let sessions = entity::session::Entity::find().all(&db).await.unwrap();
    assert_eq!(sessions.len(), 1, "the session survived the rebuild");
    let tenant_row = entity::tenant::Entity::find()
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(!tenant_row.sign_in_with_username);

    let insert = |id: uuid::Uuid, email: Option<&str>, user_name: &str| {
        let email = email.map_or("NULL".to_string(), |e| format!("'{e}'"));
        sql(format!(
            "INSERT INTO users (id, tenant_id, sub, email, email_normalized, created_at, \
             updated_at, user_name, user_name_normalized) VALUES ({}, {tenant}, '{id}', \
             {email}, {email}, '{now}', '{now}', '{user_name}', '{user_name}')",
            lit(id)
        ))
    };
    // No address, twice: allowed.
    insert(uuid::Uuid::new_v4(), None, "e1").await.unwrap();
    insert(uuid::Uuid::new_v4(), None, "e2").await.unwrap();
    // The unique indexes hold: the same address, the same userName.
    assert!(
        insert(uuid::Uuid::new_v4(), Some("alice@example.com"), "e3")
            .await
            .is_err()
    );
    assert!(insert(uuid::Uuid::new_v4(), None, "e1").await.is_err());
    // Foreign keys are on again: deleting a user takes its sessions.
    sql(format!("DELETE FROM users WHERE id = {alice}"))
        .await
        .unwrap();
    assert!(
        entity::session::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .is_empty()
    );

    // Down refuses while an account has no address; without them it goes, and up again.
    // (The migrations after this one go first; then this one refuses.)
    let since_profiles = (migration::Migrator::migrations().len() - 9) as u32;
    assert!(
        migration::Migrator::down(&db, Some(since_profiles))
            .await
            .is_err()
    );
    sql("DELETE FROM users WHERE email IS NULL".into())
        .await
        .unwrap();
    migration::Migrator::down(&db, Some(1)).await.unwrap();
    assert!(insert(uuid::Uuid::new_v4(), None, "e4").await.is_err());
    migration::Migrator::up(&db, None).await.unwrap();
    let users = entity::user::Entity::find().all(&db).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].email.as_deref(), Some("bob@example.com"));
    db.close().await.unwrap();
    tdb.drop().await;
}
