//! OAuth / OpenID Connect protocol fixes (issue 16 §2 and §4, issue 17 §4, 7, 8, 10, 17): each
//! test drives the attack or the outside client's default over HTTP, and the legitimate path
//! beside it.

use chrono::Duration;
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::oidc::{
    REDIRECT, Rp, VERIFIER, authorize, authorize_path, challenge, client, code_as, exchange,
    jwt_parts, param, params_of, refresh, token, userinfo,
};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Browser, TestServer, location};

const BOB: &str = "bob@example.com";
const BOB_PASSWORD: &str = "bob's own long password";

fn params<'a>(rp: &'a Rp, chal: &'a str, scope: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", rp.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", scope),
        ("state", "st"),
        ("nonce", "n"),
        ("code_challenge", chal),
        ("code_challenge_method", "S256"),
    ]
}

/// Sign in through `p` as `email` and redeem the code: the token response.
async fn tokens_via(
    s: &TestServer,
    b: &Browser,
    rp: &Rp,
    p: &[(&str, &str)],
    email: &str,
    password: &str,
) -> Value {
    let res = authorize(b, &authorize_path(p), email, password).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let code = param(&params_of(&res), "code")
        .unwrap_or_else(|| panic!("a code: {}", location(&res)))
        .to_string();
    let res = exchange(s, rp, &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn error_of(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

async fn post_as(s: &TestServer, who: &Rp, path: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.url(path))
        .basic_auth(&who.id, who.secret.as_deref())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

/// Issue 16 §2: a `sub` asked for in `claims`, or the subject of an `id_token_hint`, is another
/// user than the one who signs in at the prompt: `login_required`, no code, never that user's
/// tokens. The named user signing in gets their tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_sub_or_hint_of_another_user_is_refused_after_sign_in() {
    let s = TestServer::start().await;
    let bob = s.create_user("default", BOB, BOB_PASSWORD).await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let chal = challenge(VERIFIER);
    let claims = json!({ "id_token": { "sub": { "value": bob.sub } } }).to_string();
    let mut p = params(&rp, &chal, "openid email");
    p.push(("claims", &claims));

    // Alice (the admin) signs in at the prompt of a request for Bob's sub.
    let alice = s.browser();
    let res = authorize(&alice, &authorize_path(&p), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(location(&res).starts_with(REDIRECT));
    let got = params_of(&res);
    assert_eq!(param(&got, "error"), Some("login_required"), "{got:?}");
    assert_eq!(param(&got, "code"), None);
    assert_eq!(param(&got, "state"), Some("st"));

    // Bob signing in gets Bob's tokens.
    let b = s.browser();
    let t = tokens_via(&s, &b, &rp, &p, BOB, BOB_PASSWORD).await;
    let bob_id_token = t["id_token"].as_str().unwrap().to_string();
    assert_eq!(jwt_parts(&bob_id_token).1["sub"], bob.sub.as_str());

    // Bob's ID token as the hint while Alice is signed in: asked to sign in again, and Alice
    // signing in again is refused too.
    let mut p = params(&rp, &chal, "openid email");
    p.push(("id_token_hint", &bob_id_token));
    s.clock.advance(Duration::seconds(2));
    let res = alice.get(&authorize_path(&p)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res).contains("prompt=login"),
        "{}",
        location(&res)
    );
    let res = authorize(&alice, &authorize_path(&p), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(param(&params_of(&res), "error"), Some("login_required"));
    // With its own subject's session the hint is honoured at once.
    let res = b.get(&authorize_path(&p)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(param(&params_of(&res), "code").is_some());
    s.stop().await;
}

/// Issue 16 §4 / RFC 7009 §2.1: a client revoking another client's token is refused with
/// `unauthorized_client` and the token stays active; its own client revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_another_clients_token_is_refused() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let other = client(&s, |_| {}).await;
    let b = s.browser();
    let code = code_as(&s, &b, &rp, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();

    for tok in [at, rt] {
        let res = post_as(
            &s,
            &other,
            "/t/default/oauth2/revoke",
            &format!("token={tok}"),
        )
        .await;
        assert_eq!(
            error_of(res).await,
            (StatusCode::BAD_REQUEST, "unauthorized_client".into())
        );
    }
    assert_eq!(userinfo(&s, at).await.status(), StatusCode::OK);
    // Unknown tokens still get 200 (RFC 7009 §2.2).
    let res = post_as(&s, &other, "/t/default/oauth2/revoke", "token=unknown").await;
    assert_eq!(res.status(), StatusCode::OK);
    // The owner revokes: gone.
    let res = post_as(&s, &rp, "/t/default/oauth2/revoke", &format!("token={at}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(userinfo(&s, at).await.status(), StatusCode::UNAUTHORIZED);
    let res = refresh(&s, &rp, rt).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the refresh token was not revoked"
    );
    s.stop().await;
}

/// Issue 17 §8: only the token's own client (or a resource server in its audience) sees it
/// at the introspection endpoint; any other client gets exactly `{"active": false}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_client_cannot_introspect_a_token() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let other = client(&s, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.redirect_uris = vec![];
        c.scopes = vec!["reports:read".into()];
    })
    .await;
    let b = s.browser();
    let code = code_as(&s, &b, &rp, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    let introspect = |who: &Rp, tok: &str| {
        let (who, body) = (
            Rp {
                id: who.id.clone(),
                secret: who.secret.clone(),
            },
            format!("token={tok}"),
        );
        let s = &s;
        async move {
            post_as(s, &who, "/t/default/oauth2/introspect", &body)
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    assert_eq!(introspect(&other, at).await, json!({ "active": false }));
    let mine = introspect(&rp, at).await;
    assert_eq!(mine["active"], true);
    assert_eq!(mine["client_id"], rp.id.as_str());
    // And the other way round: the service's own token is hidden from the RP.
    let cc: Value = token(&s, &other, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    let cc = cc["access_token"].as_str().unwrap();
    assert_eq!(introspect(&rp, cc).await, json!({ "active": false }));
    assert_eq!(introspect(&other, cc).await["active"], true);
    s.stop().await;
}

/// Issue 17 §7: a refresh refused for its `scope` does not use up the token: the corrected
/// retry works, and the family is not revoked as a replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_refused_for_its_scope_can_be_retried() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let b = s.browser();
    let code = code_as(&s, &b, &rp, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    let wide = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("scope", "openid email phone-admin"),
    ];
    assert_eq!(
        error_of(token(&s, &rp, &wide).await).await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    let narrow = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt),
        ("scope", "openid email"),
    ];
    let res = token(&s, &rp, &narrow).await;
    assert_eq!(res.status(), StatusCode::OK, "the retry works");
    let t2: Value = res.json().await.unwrap();
    assert_eq!(t2["scope"], "openid email");
    let res = refresh(&s, &rp, t2["refresh_token"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK, "the family lives on");
    s.stop().await;
}

/// Issue 17 §4: without `offline_access` a refresh token ends with its browser session: its
/// idle timeout (a refresh counts as activity) and its absolute lifetime. With
/// `offline_access` it outlives both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_without_offline_access_end_with_the_session() {
    let s = TestServer::start_with(|c| {
        c.session_idle_timeout_secs = 600;
        c.session_max_lifetime_secs = 3000;
    })
    .await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let chal = challenge(VERIFIER);
    let online = params(&rp, &chal, "openid email");
    let offline = params(&rp, &chal, "openid email offline_access");

    // Idle: refreshes keep the session alive; a silence longer than the idle timeout ends it.
    let b = s.browser();
    let t = tokens_via(&s, &b, &rp, &online, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut rt = t["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..3 {
        s.clock.advance(Duration::seconds(500));
        let res = refresh(&s, &rp, &rt).await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "a refresh within the idle timeout"
        );
        rt = res.json::<Value>().await.unwrap()["refresh_token"]
            .as_str()
            .unwrap()
            .to_string();
    }
    s.clock.advance(Duration::seconds(601));
    assert_eq!(
        error_of(refresh(&s, &rp, &rt).await).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert_eq!(
        b.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER,
        "the browser session ended too"
    );
    // The retry is still refused: the grant is revoked.
    assert_eq!(
        refresh(&s, &rp, &rt).await.status(),
        StatusCode::BAD_REQUEST
    );

    // Absolute: refreshes never extend the session's lifetime; offline_access outlives it.
    let b = s.browser();
    let t = tokens_via(&s, &b, &rp, &online, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut rt = t["refresh_token"].as_str().unwrap().to_string();
    let t = tokens_via(&s, &b, &rp, &offline, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut offline_rt = t["refresh_token"].as_str().unwrap().to_string();
    let mut elapsed = 0;
    while elapsed + 500 < 3000 {
        s.clock.advance(Duration::seconds(500));
        elapsed += 500;
        for token in [&mut rt, &mut offline_rt] {
            let res = refresh(&s, &rp, token).await;
            assert_eq!(res.status(), StatusCode::OK, "at {elapsed} s");
            *token = res.json::<Value>().await.unwrap()["refresh_token"]
                .as_str()
                .unwrap()
                .to_string();
        }
    }
    s.clock.advance(Duration::seconds(3000 - elapsed));
    assert_eq!(
        error_of(refresh(&s, &rp, &rt).await).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let res = refresh(&s, &rp, &offline_rt).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "offline_access outlives the session"
    );
    s.stop().await;
}

/// Issue 17 §10: an old ID token of the same user (another session) as `id_token_hint` does
/// not sign the current session out without asking; the current session's own ID token does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_without_confirmation_only_for_the_current_sessions_id_token() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let chal = challenge(VERIFIER);
    let p = params(&rp, &chal, "openid email");
    let b = s.browser();
    let old = tokens_via(&s, &b, &rp, &p, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let old_hint = old["id_token"].as_str().unwrap().to_string();
    // That session ends; a new one begins.
    let res = b
        .get(&format!(
            "/t/default/oauth2/logout?id_token_hint={old_hint}"
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        b.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );
    let new = tokens_via(&s, &b, &rp, &p, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let new_hint = new["id_token"].as_str().unwrap().to_string();
    assert_ne!(jwt_parts(&old_hint).1["sid"], jwt_parts(&new_hint).1["sid"]);

    // The old hint: a confirmation page, still signed in.
    let res = b
        .get(&format!(
            "/t/default/oauth2/logout?id_token_hint={old_hint}"
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("name=\"confirm\""));
    assert_eq!(b.get("/t/default/account").await.status(), StatusCode::OK);
    // The current session's hint: signed out at once.
    let res = b
        .get(&format!(
            "/t/default/oauth2/logout?id_token_hint={new_hint}"
        ))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!res.text().await.unwrap().contains("name=\"confirm\""));
    assert_eq!(
        b.get("/t/default/account").await.status(),
        StatusCode::SEE_OTHER
    );
    s.stop().await;
}

/// Issue 17 §17: a deleted client's tokens stop working at once (its grants are revoked in
/// the database, which every node reads), whether the deletion is on this node or by the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_clients_tokens_stop_working_at_once() {
    let s = TestServer::start().await;
    let tenant = plinto::tenants::find_by_slug(&s.state.db, "default")
        .await
        .unwrap()
        .unwrap();
    let b = s.browser();
    let here = client(&s, |c| c.skip_consent = true).await;
    let by_cli = client(&s, |c| c.skip_consent = true).await;
    let mut tokens = Vec::new();
    for rp in [&here, &by_cli] {
        let code = code_as(&s, &b, rp, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let t: Value = exchange(&s, rp, &code).await.json().await.unwrap();
        let at = t["access_token"].as_str().unwrap().to_string();
        // The client is in this node's read cache now.
        assert_eq!(userinfo(&s, &at).await.status(), StatusCode::OK);
        tokens.push((at, t["refresh_token"].as_str().unwrap().to_string()));
    }

    s.state
        .delete_client(tenant.id, &here.id, None, "test", &Default::default())
        .await
        .unwrap();
    let out = s.cli(&["client", "delete", "--tenant", "default", &by_cli.id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (rp, (at, rt)) in [&here, &by_cli].into_iter().zip(&tokens) {
        assert_eq!(userinfo(&s, at).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refresh(&s, rp, rt).await.status().as_u16() / 100, 4);
    }
    s.stop().await;
}

/// Issue 17 §17: a wildcard redirect URI is refused at registration, saying why; the exact
/// URI is accepted. Issue 16 §4: a client created without `--auth-method` says it accepts
/// both secret methods, one created with a method only that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_refuses_wildcards_and_tells_the_auth_methods() {
    let s = TestServer::start().await;
    let create = |uri: &str, method: Option<&str>| {
        let mut args = vec![
            "client",
            "create",
            "--tenant",
            "default",
            "--name",
            "App",
            "--redirect-uri",
            uri,
        ];
        if let Some(m) = method {
            args.extend(["--auth-method", m]);
        }
        s.cli(&args)
    };
    let out = create("https://*.example.com/cb", None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wildcards are not supported"), "{err}");
    let out = create("https://app.example.com/cb", None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["auth_methods"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    let out = create("https://app.example.com/cb", Some("client_secret_basic"));
    let pinned: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pinned["auth_methods"], json!(["client_secret_basic"]));
    let list: Value =
        serde_json::from_slice(&s.cli(&["client", "list", "--tenant", "default"]).stdout).unwrap();
    let listed: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["auth_methods"])
        .collect();
    assert_eq!(
        listed,
        vec![&v["auth_methods"], &pinned["auth_methods"]],
        "{list}"
    );

    // The unpinned client authenticates either way; the pinned one only with Basic.
    for (who, ok) in [(&v, true), (&pinned, false)] {
        let res = reqwest::Client::new()
            .post(s.url("/t/default/oauth2/token"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(crate::support::serde_urlencoded_pairs(&[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("client_id", who["client_id"].as_str().unwrap()),
                ("client_secret", who["client_secret"].as_str().unwrap()),
            ]))
            .send()
            .await
            .unwrap();
        let expected = if ok {
            (StatusCode::BAD_REQUEST, "invalid_grant".to_string())
        } else {
            (StatusCode::UNAUTHORIZED, "invalid_client".to_string())
        };
        assert_eq!(error_of(res).await, expected);
    }
    s.stop().await;
}

/// Issue 16 §4: openid-client v6 in its defaults (`client_secret_post`) against a client
/// registered without `--auth-method`: discovery, code flow with PKCE, token, UserInfo and
/// refresh all work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_in_its_defaults_signs_in_and_refreshes() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let work = tempfile::tempdir().unwrap();
    let state_file = work.path().join("state.json").display().to_string();
    let issuer = s.url("/t/default");
    let secret = rp.secret.clone().unwrap();
    let env = |phase: &'static str| {
        vec![
            ("PHASE", phase.to_string()),
            ("ISSUER", issuer.clone()),
            ("CLIENT_ID", rp.id.clone()),
            ("CLIENT_SECRET", secret.clone()),
            ("REDIRECT_URI", REDIRECT.to_string()),
            ("STATE_FILE", state_file.clone()),
        ]
    };
    let run = |env: Vec<(&'static str, String)>| async move {
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::outside::node("openid_client.mjs", &pairs).await
    };
    let start = run(env("start")).await;
    let url = start["url"].as_str().unwrap();
    let b = s.browser();
    let res = authorize(
        &b,
        url.strip_prefix(&s.base).unwrap(),
        ADMIN_EMAIL,
        ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let mut finish = env("finish");
    finish.push(("CALLBACK_URL", location(&res)));
    let out = run(finish).await;
    let users: Value =
        serde_json::from_slice(&s.cli(&["user", "list", "--tenant", "default"]).stdout).unwrap();
    let admin_sub = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == ADMIN_EMAIL)
        .unwrap()["sub"]
        .clone();
    assert_eq!(
        out,
        json!({
            "sub": admin_sub,
            "userinfo_email": ADMIN_EMAIL,
            "refreshed": true,
            "userinfo_after_refresh_sub": admin_sub,
        })
    );
    s.stop().await;
}

/// An RSA key for `private_key_jwt`: the private key as PEM (for authlib) and the public JWK
/// Set (registered with the client).
fn client_key() -> (josekit::jwk::Jwk, String, String) {
    use josekit::jwk::KeyPair;
    let pair = josekit::jws::RS256.generate_key_pair(2048).unwrap();
    let pem = String::from_utf8(pair.to_pem_private_key()).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("authlib-1");
    let jwks = json!({ "keys": [serde_json::from_str::<Value>(&public.to_string()).unwrap()] });
    (pair.to_jwk_key_pair(), pem, jwks.to_string())
}

async fn authlib(s: &TestServer, client_id: &str, key_file: &std::path::Path) -> Value {
    let token_url = s.url("/t/default/oauth2/token");
    let key_file = key_file.display().to_string();
    crate::outside::python(
        "authlib_pkjwt.py",
        &[
            ("TOKEN_URL", &token_url),
            ("CLIENT_ID", client_id),
            ("KEY_FILE", &key_file),
            ("SCOPE", "reports:read"),
        ],
    )
    .await
}

async fn assertion_grant(s: &TestServer, assertion: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.url("/t/default/oauth2/token"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(crate::support::serde_urlencoded_pairs(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", assertion),
        ]))
        .send()
        .await
        .unwrap()
}

/// Issue 16 §4: authlib's `PrivateKeyJWT` in its defaults signs assertions valid for one hour:
/// accepted, once (its `jti` is kept for its lifetime, so the replay is refused). A client
/// pinned to a shorter maximum (`--max-assertion-lifetime`) refuses them; nobody accepts more
/// than an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authlib_private_key_jwt_defaults_are_accepted_once() {
    let s = TestServer::start().await;
    let (key, pem, jwks) = client_key();
    let key_file = s.dir.path().join("client-key.pem");
    std::fs::write(&key_file, &pem).unwrap();
    let create = |extra: &[&str]| {
        let mut args = vec![
            "client",
            "create",
            "--tenant",
            "default",
            "--name",
            "Backend",
            "--grant-type",
            "client_credentials",
            "--scope",
            "reports:read",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            &jwks,
        ];
        args.extend_from_slice(extra);
        let out = s.cli(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["client_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let default = create(&[]);
    let got = authlib(&s, &default, &key_file).await;
    assert!(got["access_token"].is_string(), "{got}");
    let assertion = got["assertion"].as_str().unwrap();
    let (_, claims) = jwt_parts(assertion);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600,
        "authlib's default lifetime"
    );
    // The same assertion again: a replay, refused for as long as it lives.
    s.clock.advance(Duration::seconds(1800));
    assert_eq!(
        error_of(assertion_grant(&s, assertion).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    // More than an hour ahead: refused for every client.
    let now = s.state.now().timestamp();
    let long = {
        let mut header = josekit::jws::JwsHeader::new();
        header.set_key_id("authlib-1");
        let mut p = josekit::jwt::JwtPayload::new();
        p.set_issuer(&default);
        p.set_subject(&default);
        p.set_audience(vec![s.url("/t/default/oauth2/token")]);
        p.set_jwt_id("long-lived");
        p.set_claim("exp", Some(json!(now + 2 * 3600))).unwrap();
        let signer = josekit::jws::RS256.signer_from_jwk(&key).unwrap();
        josekit::jwt::encode_with_signer(&p, &header, &signer).unwrap()
    };
    assert_eq!(
        error_of(assertion_grant(&s, &long).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );

    // A client pinned to five minutes refuses authlib's hour.
    let pinned = create(&["--max-assertion-lifetime", "300"]);
    let got = authlib(&s, &pinned, &key_file).await;
    assert_eq!(got["error"], "invalid_client", "{got}");
    let list: Value =
        serde_json::from_slice(&s.cli(&["client", "list", "--tenant", "default"]).stdout).unwrap();
    let lifetimes: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["max_assertion_lifetime_secs"])
        .collect();
    assert_eq!(lifetimes, vec![&json!(3600), &json!(300)]);
    s.stop().await;
}
