//! The OpenID Provider over HTTP: authorization, consent, token, userinfo, introspection,
//! revocation, logout and CORS, good paths and every named error path (exact `error` code,
//! status, and whether a redirect happened).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use plinto::clients::NewClient;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Browser, TestServer, location, serde_urlencoded_pairs,
};

pub const REDIRECT: &str = "https://rp.example.com/cb";
pub const LOGOUT_REDIRECT: &str = "https://rp.example.com/bye";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub struct Rp {
    pub id: String,
    pub secret: Option<String>,
}

pub async fn client(s: &TestServer, tweak: impl FnOnce(&mut NewClient)) -> Rp {
    let tenant = plinto::tenants::find_by_slug(&s.state.db, "default")
        .await
        .unwrap()
        .unwrap();
    let mut input = NewClient {
        name: "Test RP".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![LOGOUT_REDIRECT.into()],
        cors_origins: vec!["https://rp.example.com".into()],
        ..Default::default()
    };
    tweak(&mut input);
    let created = plinto::clients::create(
        &s.state.db,
        s.state.now(),
        &s.state.keys.client_secret,
        tenant.id,
        input,
        "test",
        &Default::default(),
    )
    .await
    .unwrap();
    Rp {
        id: created.client.client_id,
        secret: created.secret,
    }
}

/// The query (or fragment) parameters of a redirect's Location.
pub fn params_of(res: &reqwest::Response) -> Vec<(String, String)> {
    let loc = location(res);
    let url = url::Url::parse(&loc).unwrap();
    let raw = url
        .fragment()
        .map(str::to_string)
        .or(url.query().map(str::to_string))
        .unwrap_or_default();
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Hidden inputs of the first form on a page (askama escapes values).
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, _) in html.match_indices("<input type=\"hidden\" name=\"") {
        let rest = &html[i + "<input type=\"hidden\" name=\"".len()..];
        let name_end = rest.find('"').unwrap();
        let name = &rest[..name_end];
        let vstart = rest.find("value=\"").unwrap() + "value=\"".len();
        let vend = rest[vstart..].find('"').unwrap() + vstart;
        let value = unescape(&rest[vstart..vend]);
        out.push((name.to_string(), value));
    }
    out
}

/// Undo askama's HTML escaping (named and numeric entities).
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(end) = after.find(';') else {
            out.push_str(&rest[i..]);
            return out;
        };
        let entity = &after[..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&rest[i..i + end + 2]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

pub fn authorize_path(params: &[(&str, &str)]) -> String {
    format!(
        "/t/default/oauth2/authorize?{}",
        serde_urlencoded_pairs(params)
    )
}

fn base_params<'a>(rp: &'a Rp, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", rp.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email offline_access"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Follow the authorization request through sign-in and consent to the final response.
pub async fn authorize(b: &Browser, path: &str, email: &str, password: &str) -> reqwest::Response {
    let mut res = b.get(path).await;
    for _ in 0..6 {
        if res.status() == StatusCode::SEE_OTHER {
            let loc = location(&res);
            if loc.starts_with("/t/default/login") {
                let page = b.get(&loc).await;
                assert_eq!(page.status(), StatusCode::OK);
                let fields = hidden_inputs(&page.text().await.unwrap());
                let mut all: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                all.push(("email", email));
                all.push(("password", password));
                res = b.post("/t/default/login", &all).await;
                continue;
            }
            res = b.get(&loc).await;
            continue;
        }
        if res.status() == StatusCode::OK {
            let html = res.text().await.unwrap();
            if html.contains("/oauth2/consent") {
                let fields = hidden_inputs(&html);
                let mut all: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                all.push(("decision", "allow"));
                res = b.post("/t/default/oauth2/consent", &all).await;
                continue;
            }
            panic!("unexpected page: {html}");
        }
        return res;
    }
    res
}

pub async fn token(s: &TestServer, rp: &Rp, fields: &[(&str, &str)]) -> reqwest::Response {
    let basic = format!("{}:{}", rp.id, rp.secret.as_deref().unwrap_or(""));
    reqwest::Client::new()
        .post(s.url("/t/default/oauth2/token"))
        .header(
            AUTHORIZATION,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(basic)
            ),
        )
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded_pairs(fields))
        .send()
        .await
        .unwrap()
}

pub fn jwt_parts(jwt: &str) -> (Value, Value) {
    let mut it = jwt.split('.');
    let h = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    let p = URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&h).unwrap(),
        serde_json::from_slice(&p).unwrap(),
    )
}

async fn code_for(s: &TestServer, b: &Browser, rp: &Rp) -> String {
    code_as(s, b, rp, ADMIN_EMAIL, ADMIN_PASSWORD).await
}

/// Sign `email` in through an authorization request of `rp` and return the code.
pub async fn code_as(s: &TestServer, b: &Browser, rp: &Rp, email: &str, password: &str) -> String {
    let chal = challenge(VERIFIER);
    let res = authorize(b, &authorize_path(&base_params(rp, &chal)), email, password).await;
    assert_eq!(res.status(), StatusCode::FOUND, "{}", s.base);
    let p = params_of(&res);
    assert!(location(&res).starts_with(REDIRECT));
    param(&p, "code").expect("a code").to_string()
}

pub async fn exchange(s: &TestServer, rp: &Rp, code: &str) -> reqwest::Response {
    token(
        s,
        rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

pub async fn userinfo(s: &TestServer, access_token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(s.url("/t/default/oauth2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
}

/// Refresh with `refresh_token` as client `rp`.
pub async fn refresh(s: &TestServer, rp: &Rp, refresh_token: &str) -> reqwest::Response {
    token(
        s,
        rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// The response is the OAuth error `error` with `status`.
async fn expect_error(res: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(error_of(res).await, (status, error.to_string()));
}

async fn error_of(res: reqwest::Response) -> (StatusCode, String) {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_advertises_exactly_what_is_implemented() {
    let s = TestServer::start().await;
    let doc: Value = reqwest::get(s.url("/t/default/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = s.url("/t/default");
    assert_eq!(doc["issuer"], issuer.as_str());
    for (key, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/oauth2/jwks"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("end_session_endpoint", "/oauth2/logout"),
    ] {
        assert_eq!(doc[key], format!("{issuer}{path}").as_str(), "{key}");
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(doc["request_parameter_supported"], false);
    assert_eq!(doc["request_uri_parameter_supported"], false);
    assert_eq!(doc["claims_parameter_supported"], true);
    assert_eq!(
        doc["response_modes_supported"],
        serde_json::json!(["query", "fragment", "form_post"])
    );
    // RFC 8414 §3 location and the one below the issuer give the same document.
    for path in [
        "/.well-known/oauth-authorization-server/t/default",
        "/t/default/.well-known/oauth-authorization-server",
    ] {
        let other: Value = reqwest::get(s.url(path))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(other, doc, "{path}");
    }
    let res = reqwest::get(s.url("/t/nope/.well-known/openid-configuration"))
        .await
        .unwrap();
    expect_error(res, StatusCode::NOT_FOUND, "invalid_request").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_with_pkce_consent_tokens_userinfo_and_remembered_consent() {
    let s = TestServer::start().await;
    let rp = client(&s, |_| {}).await;
    let b = s.browser();
    let chal = challenge(VERIFIER);
    let path = authorize_path(&base_params(&rp, &chal));

    // Not signed in: to the sign-in page, with the request kept in return_to.
    let res = b.get(&path).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        location(&res)
            .starts_with("/t/default/login?return_to=%2Ft%2Fdefault%2Foauth2%2Fauthorize")
    );

    let res = authorize(&b, &path, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let p = params_of(&res);
    assert_eq!(param(&p, "state"), Some("st-123"));
    assert_eq!(param(&p, "iss"), Some(s.url("/t/default").as_str()));
    let code = param(&p, "code").unwrap().to_string();

    let res = exchange(&s, &rp, &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let t: Value = res.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["scope"], "openid profile email offline_access");
    assert!(t["refresh_token"].is_string());
    let at = t["access_token"].as_str().unwrap();
    let (h, c) = jwt_parts(at);
    assert_eq!(h["typ"], "at+jwt");
    assert!(h["kid"].is_string());
    for claim in [
        "iss",
        "sub",
        "aud",
        "client_id",
        "scope",
        "jti",
        "exp",
        "iat",
    ] {
        assert!(c.get(claim).is_some(), "access token claim {claim}");
    }
    assert_eq!(c["client_id"], rp.id.as_str());
    let (h, id) = jwt_parts(t["id_token"].as_str().unwrap());
    assert_eq!(h["alg"], "RS256");
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["aud"], rp.id.as_str());
    assert_eq!(id["azp"], rp.id.as_str());
    assert_eq!(id["email"], ADMIN_EMAIL);
    assert_eq!(id["sub"], c["sub"]);
    for claim in ["auth_time", "sid", "at_hash", "amr", "exp", "iat"] {
        assert!(id.get(claim).is_some(), "id token claim {claim}");
    }
    let expected_hash = {
        let d = Sha256::digest(at.as_bytes());
        URL_SAFE_NO_PAD.encode(&d[..16])
    };
    assert_eq!(id["at_hash"], expected_hash.as_str());

    // UserInfo: GET, POST with the header, POST with the token in the body.
    let res = userinfo(&s, at).await;
    assert_eq!(res.status(), StatusCode::OK);
    let u: Value = res.json().await.unwrap();
    assert_eq!(u["sub"], c["sub"]);
    assert_eq!(u["email"], ADMIN_EMAIL);
    assert_eq!(u["email_verified"], true);
    let http = reqwest::Client::new();
    let res = http
        .post(s.url("/t/default/oauth2/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http
        .post(s.url("/t/default/oauth2/userinfo"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("access_token={at}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // Consent is remembered: the next request goes straight back with a code.
    let res = b.get(&path).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(param(&params_of(&res), "code").is_some());
    // ...unless prompt=consent forces the page.
    let mut forced = base_params(&rp, &chal);
    forced.push(("prompt", "consent"));
    let res = b.get(&authorize_path(&forced)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Browsers apply form-action to the redirect to the client: the consent page has none.
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("form-action"), "{csp}");
    assert!(res.text().await.unwrap().contains("/oauth2/consent"));
    let plain_login = s.browser().get("/t/default/login").await;
    assert_eq!(plain_login.status(), StatusCode::OK);
    let csp = plain_login.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("form-action 'self'"), "{csp}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_errors_page_or_redirect_with_exact_codes() {
    let s = TestServer::start().await;
    let rp = client(&s, |_| {}).await;
    let public = client(&s, |c| c.auth_method = Some("none".into())).await;
    let b = s.browser();
    let chal = challenge(VERIFIER);

    // Never a redirect for an unknown client or an unregistered redirect URI.
    for path in [
        authorize_path(&[
            ("response_type", "code"),
            ("client_id", "nope"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
        ]),
        authorize_path(&[
            ("response_type", "code"),
            ("client_id", &rp.id),
            ("redirect_uri", "https://evil.example/cb"),
            ("scope", "openid"),
        ]),
        authorize_path(&[
            ("response_type", "code"),
            ("client_id", &rp.id),
            ("redirect_uri", "https://rp.example.com/cb/"),
            ("scope", "openid"),
        ]),
        authorize_path(&[
            ("response_type", "code"),
            ("client_id", &rp.id),
            ("scope", "openid"),
        ]),
        "/t/default/oauth2/authorize?client_id=%FF".to_string(),
    ] {
        let res = b.get(&path).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(res.headers().get(LOCATION).is_none(), "{path}");
        assert!(
            res.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }

    let with = |extra: &[(&'static str, &'static str)], drop: &[&str]| {
        let mut p: Vec<(&str, &str)> = base_params(&rp, &chal)
            .into_iter()
            .filter(|(k, _)| !drop.contains(k))
            .collect();
        p.extend_from_slice(extra);
        authorize_path(&p)
    };
    let cases: Vec<(String, &str)> = vec![
        (with(&[], &["response_type"]), "invalid_request"),
        (
            with(&[("response_type", "token")], &["response_type"]),
            "unsupported_response_type",
        ),
        (
            with(&[("request", "eyJhbGciOiJub25lIn0.e30.")], &[]),
            "request_not_supported",
        ),
        (
            with(&[("request_uri", "https://rp.example.com/r")], &[]),
            "request_uri_not_supported",
        ),
        (
            with(
                &[("code_challenge_method", "plain")],
                &["code_challenge_method"],
            ),
            "invalid_request",
        ),
        (with(&[], &["code_challenge_method"]), "invalid_request"),
        (
            with(&[("code_challenge", "short")], &["code_challenge"]),
            "invalid_request",
        ),
        (with(&[("prompt", "none")], &[]), "login_required"),
        (with(&[("prompt", "none login")], &[]), "invalid_request"),
        (with(&[("max_age", "-1")], &[]), "invalid_request"),
        (with(&[("claims", "{not json")], &[]), "invalid_request"),
        (with(&[("scope", "unknown")], &["scope"]), "invalid_scope"),
        (with(&[("response_mode", "bogus")], &[]), "invalid_request"),
        (with(&[("id_token_hint", "a.b.c")], &[]), "invalid_request"),
    ];
    for (path, error) in cases {
        let res = b.get(&path).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{path}");
        assert!(location(&res).starts_with(REDIRECT), "{path}");
        let p = params_of(&res);
        assert_eq!(param(&p, "error"), Some(error), "{path}");
        assert_eq!(param(&p, "state"), Some("st-123"), "{path}");
        assert_eq!(param(&p, "iss"), Some(s.url("/t/default").as_str()));
        assert!(param(&p, "error_description").is_some());
    }

    // A public client must use PKCE.
    let res = b
        .get(&authorize_path(&[
            ("response_type", "code"),
            ("client_id", &public.id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s"),
        ]))
        .await;
    assert_eq!(param(&params_of(&res), "error"), Some("invalid_request"));

    // Signed in but no consent yet: prompt=none gives consent_required.
    b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let res = b.get(&with(&[("prompt", "none")], &[])).await;
    assert_eq!(param(&params_of(&res), "error"), Some("consent_required"));

    // Denying consent.
    let res = b.get(&with(&[], &[])).await;
    let fields = hidden_inputs(&res.text().await.unwrap());
    let mut all: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push(("decision", "deny"));
    let res = b.post("/t/default/oauth2/consent", &all).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(param(&params_of(&res), "error"), Some("access_denied"));
    // The consent form without its CSRF token is refused.
    let no_csrf: Vec<(&str, &str)> = all
        .iter()
        .filter(|(k, _)| *k != "csrf_token")
        .cloned()
        .collect();
    let res = b.post("/t/default/oauth2/consent", &no_csrf).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(LOCATION).is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_post_and_fragment_response_modes() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let b = s.browser();
    b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let chal = challenge(VERIFIER);
    let mut p = base_params(&rp, &chal);
    p.push(("response_mode", "form_post"));
    let res = b.get(&authorize_path(&p)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("form-action https://rp.example.com"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{REDIRECT}\"")));
    let fields = hidden_inputs(&html);
    assert!(fields.iter().any(|(k, _)| k == "code"));
    assert!(fields.iter().any(|(k, v)| k == "state" && v == "st-123"));

    let mut p = base_params(&rp, &chal);
    p.push(("response_mode", "fragment"));
    let res = b.get(&authorize_path(&p)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let loc = location(&res);
    assert!(loc.starts_with(&format!("{REDIRECT}#code=")), "{loc}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_errors_and_code_replay_revokes_what_the_code_gave() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let b = s.browser();

    // Client authentication failures: 401 invalid_client with a challenge.
    let bad = Rp {
        id: rp.id.clone(),
        secret: Some("wrong".into()),
    };
    let res = token(
        &s,
        &bad,
        &[("grant_type", "authorization_code"), ("code", "x")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    expect_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = b
        .post(
            "/t/default/oauth2/token",
            &[("grant_type", "authorization_code"), ("code", "x")],
        )
        .await;
    expect_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    // client_secret_post for a client registered explicitly with client_secret_basic.
    let pinned = client(&s, |c| c.auth_method = Some("client_secret_basic".into())).await;
    let res = b
        .post(
            "/t/default/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "x"),
                ("client_id", &pinned.id),
                ("client_secret", pinned.secret.as_deref().unwrap()),
            ],
        )
        .await;
    expect_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // Request errors.
    let res = token(&s, &rp, &[("code", "x")]).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = token(&s, &rp, &[("grant_type", "password")]).await;
    expect_error(res, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
    let res = token(&s, &rp, &[("grant_type", "client_credentials")]).await;
    expect_error(res, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    let res = token(
        &s,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", "nope"),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = token(
        &s,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("grant_type", "authorization_code"),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = reqwest::Client::new()
        .post(s.url("/t/default/oauth2/token"))
        .json(&serde_json::json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Wrong PKCE verifier, wrong redirect URI, expired code: invalid_grant.
    let code = code_for(&s, &b, &rp).await;
    let res = token(
        &s,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"a".repeat(43)),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let code = code_for(&s, &b, &rp).await;
    let res = token(
        &s,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example.com/other"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let code = code_for(&s, &b, &rp).await;
    let res = token(
        &s,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let code = code_for(&s, &b, &rp).await;
    s.clock.advance(Duration::seconds(61));
    let res = exchange(&s, &rp, &code).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // Replay: the second use fails and revokes the first use's tokens.
    let code = code_for(&s, &b, &rp).await;
    let first: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let at = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&s, at).await.status(), StatusCode::OK);
    let res = exchange(&s, &rp, &code).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = userinfo(&s, at).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let res = refresh(&s, &rp, first["refresh_token"].as_str().unwrap()).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let b = s.browser();
    let code = code_for(&s, &b, &rp).await;
    let t1: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let r1 = t1["refresh_token"].as_str().unwrap();
    let res = refresh(&s, &rp, r1).await;
    assert_eq!(res.status(), StatusCode::OK);
    let t2: Value = res.json().await.unwrap();
    let r2 = t2["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert!(t2["id_token"].is_string());
    assert_eq!(
        userinfo(&s, t2["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    // A narrower scope is fine, a wider one is not.
    let res = token(
        &s,
        &rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r2),
            ("scope", "openid address"),
        ],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_scope").await;
    // Reuse of r1: the family (r2 and its access token) is revoked.
    let res = refresh(&s, &rp, r1).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = refresh(&s, &rp, r2).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        userinfo(&s, t2["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    // Another client cannot use (or burn) this client's refresh token.
    let other = client(&s, |c| c.skip_consent = true).await;
    let code = code_for(&s, &b, &rp).await;
    let t3: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let r3 = t3["refresh_token"].as_str().unwrap();
    let res = refresh(&s, &other, r3).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = refresh(&s, &rp, r3).await;
    assert_eq!(res.status(), StatusCode::OK);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_userinfo_introspection_and_revocation() {
    let s = TestServer::start().await;
    let svc = client(&s, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.redirect_uris = vec![];
        c.scopes = vec!["reports:read".into(), "reports:write".into()];
        c.id_token_signed_response_alg = Some("ES256".into());
    })
    .await;
    let res = token(
        &s,
        &svc,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "reports:read"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = res.json().await.unwrap();
    assert!(t.get("refresh_token").is_none() && t.get("id_token").is_none());
    assert_eq!(t["scope"], "reports:read");
    let at = t["access_token"].as_str().unwrap().to_string();
    let (h, c) = jwt_parts(&at);
    assert_eq!(
        (h["alg"].as_str(), h["typ"].as_str()),
        (Some("ES256"), Some("at+jwt"))
    );
    assert_eq!(c["sub"], svc.id.as_str());
    let res = token(
        &s,
        &svc,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // UserInfo: no token, a bad token, a token without openid.
    let res = reqwest::get(s.url("/t/default/oauth2/userinfo"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], "Bearer");
    let res = userinfo(&s, "not.a.token").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
    let res = userinfo(&s, &at).await;
    expect_error(res, StatusCode::FORBIDDEN, "insufficient_scope").await;

    // Introspection needs client authentication.
    let http = reqwest::Client::new();
    let res = http
        .post(s.url("/t/default/oauth2/introspect"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("token={at}"))
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let introspect = |token: String| {
        let svc_id = svc.id.clone();
        let secret = svc.secret.clone().unwrap();
        let url = s.url("/t/default/oauth2/introspect");
        async move {
            reqwest::Client::new()
                .post(url)
                .basic_auth(svc_id, Some(secret))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let i = introspect(at.clone()).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], svc.id.as_str());
    assert_eq!(i["scope"], "reports:read");
    assert_eq!(
        introspect("garbage".into()).await,
        serde_json::json!({"active": false})
    );

    // Revocation: the access token goes inactive; unknown tokens get 200 too.
    let revoke = |token: String| {
        let svc_id = svc.id.clone();
        let secret = svc.secret.clone().unwrap();
        let url = s.url("/t/default/oauth2/revoke");
        async move {
            reqwest::Client::new()
                .post(url)
                .basic_auth(svc_id, Some(secret))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(format!("token={token}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(revoke(at.clone()).await, StatusCode::OK);
    assert_eq!(introspect(at.clone()).await["active"], false);
    assert_eq!(revoke("unknown".into()).await, StatusCode::OK);
    // Expired tokens are inactive.
    let t: Value = token(&s, &svc, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    let at2 = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(introspect(at2.clone()).await["active"], true);
    s.clock.advance(Duration::seconds(601));
    assert_eq!(introspect(at2).await["active"], false);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_refresh_token_revokes_its_grant() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let b = s.browser();
    let code = code_for(&s, &b, &rp).await;
    let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let res = reqwest::Client::new()
        .post(s.url("/t/default/oauth2/revoke"))
        .basic_auth(&rp.id, rp.secret.as_deref())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!(
            "token={}&token_type_hint=refresh_token",
            t["refresh_token"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        userinfo(&s, t["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let res = refresh(&s, &rp, t["refresh_token"].as_str().unwrap()).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_login_and_max_age_force_a_fresh_sign_in() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let b = s.browser();
    let chal = challenge(VERIFIER);
    let code = code_for(&s, &b, &rp).await;
    let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let first_auth = jwt_parts(t["id_token"].as_str().unwrap()).1["auth_time"]
        .as_i64()
        .unwrap();

    for extra in [("prompt", "login"), ("max_age", "10")] {
        s.clock.advance(Duration::seconds(20));
        let mut p = base_params(&rp, &chal);
        p.push(extra);
        let path = authorize_path(&p);
        let res = b.get(&path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{extra:?}");
        let loc = location(&res);
        assert!(
            loc.starts_with("/t/default/login?") && loc.contains("prompt=login"),
            "{loc}"
        );
        // The sign-in page shows its form although a session exists.
        assert_eq!(b.get(&loc).await.status(), StatusCode::OK);
        let res = authorize(&b, &path, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let code = param(&params_of(&res), "code").unwrap().to_string();
        let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
        let auth = jwt_parts(t["id_token"].as_str().unwrap()).1["auth_time"]
            .as_i64()
            .unwrap();
        assert!(auth > first_auth, "{extra:?}: a new auth_time");
    }
    // A large max_age does not ask again.
    let mut p = base_params(&rp, &chal);
    p.push(("max_age", "10000"));
    assert_eq!(b.get(&authorize_path(&p)).await.status(), StatusCode::FOUND);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rp_initiated_logout() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let b = s.browser();
    // Without offline_access the grant lives only as long as the session.
    let chal = challenge(VERIFIER);
    let mut p = base_params(&rp, &chal);
    p.retain(|(k, _)| *k != "scope");
    p.push(("scope", "openid email"));
    let res = authorize(&b, &authorize_path(&p), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let code = param(&params_of(&res), "code").unwrap().to_string();
    let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let id_token = t["id_token"].as_str().unwrap().to_string();
    // With offline_access (same session, already consented), the grant outlives the session.
    let offline_code = code_for(&s, &b, &rp).await;
    let offline: Value = exchange(&s, &rp, &offline_code).await.json().await.unwrap();
    let logout = |params: &[(&str, &str)]| {
        format!(
            "/t/default/oauth2/logout?{}",
            serde_urlencoded_pairs(params)
        )
    };

    // Unregistered post-logout URI, tampered hint, hint with another client: no redirect.
    let mut tampered = id_token.clone();
    tampered.pop();
    tampered.push(if id_token.ends_with('A') { 'B' } else { 'A' });
    for path in [
        logout(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ]),
        logout(&[
            ("id_token_hint", &tampered),
            ("post_logout_redirect_uri", LOGOUT_REDIRECT),
        ]),
        logout(&[("post_logout_redirect_uri", LOGOUT_REDIRECT)]),
        logout(&[("id_token_hint", &id_token), ("client_id", "someone-else")]),
    ] {
        let res = b.get(&path).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
        assert!(res.headers().get(LOCATION).is_none());
    }
    // No hint: a confirmation page.
    let res = b
        .get(&logout(&[
            ("client_id", &rp.id),
            ("post_logout_redirect_uri", LOGOUT_REDIRECT),
            ("state", "bye"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("name=\"confirm\""));

    // A valid hint: signed out at once, back to the RP with state; the access token is dead.
    let res = b
        .get(&logout(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", LOGOUT_REDIRECT),
            ("state", "bye"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(location(&res), format!("{LOGOUT_REDIRECT}?state=bye"));
    assert_eq!(
        userinfo(&s, t["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    p.push(("prompt", "none"));
    let res = b.get(&authorize_path(&p)).await;
    assert_eq!(param(&params_of(&res), "error"), Some("login_required"));
    let res = refresh(&s, &rp, offline["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "offline_access outlives the session"
    );

    // Confirming on the page signs out too.
    b.login("default", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let page = b.get(&logout(&[])).await.text().await.unwrap();
    let fields = hidden_inputs(&page);
    let mut all: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.push(("confirm", "yes"));
    let res = b.post("/t/default/oauth2/logout", &all).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("You are signed out"));
    let res = b.get(&authorize_path(&p)).await;
    assert_eq!(param(&params_of(&res), "error"), Some("login_required"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_registered_origins() {
    let s = TestServer::start().await;
    client(&s, |_| {}).await;
    let http = reqwest::Client::new();
    for path in [
        "/t/default/oauth2/token",
        "/t/default/oauth2/userinfo",
        "/t/default/oauth2/jwks",
        "/t/default/.well-known/openid-configuration",
    ] {
        let res = http
            .request(reqwest::Method::OPTIONS, s.url(path))
            .header("Origin", "https://rp.example.com")
            .header("Access-Control-Request-Method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{path}");
        assert_eq!(
            res.headers()["access-control-allow-origin"],
            "https://rp.example.com",
            "{path}"
        );
        let res = http
            .request(reqwest::Method::OPTIONS, s.url(path))
            .header("Origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert!(
            res.headers().get("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
    let res = http
        .get(s.url("/t/default/.well-known/openid-configuration"))
        .header("Origin", "https://rp.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://rp.example.com"
    );
    let res = http
        .post(s.url("/t/default/oauth2/token"))
        .header("Origin", "https://rp.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://rp.example.com"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_requests_survive_the_trip_through_sign_in() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let b = s.browser();
    let code = code_for(&s, &b, &rp).await;
    let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let hint = t["id_token"].as_str().unwrap();
    // A fresh browser: the request (with an ID token hint and a claims request) goes through
    // the sign-in page and comes back whole.
    let b2 = s.browser();
    let chal = challenge(VERIFIER);
    let claims = r#"{"userinfo":{"email":{"essential":true},"name":null},"id_token":{"email":{"essential":true}}}"#;
    let mut p = base_params(&rp, &chal);
    p.push(("id_token_hint", hint));
    p.push(("claims", claims));
    p.push(("ui_locales", "fr-CA fr en"));
    p.push(("unknown_param", "ignored"));
    let res = authorize(&b2, &authorize_path(&p), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let params = params_of(&res);
    assert_eq!(param(&params, "state"), Some("st-123"));
    let code = param(&params, "code").unwrap().to_string();
    let t: Value = exchange(&s, &rp, &code).await.json().await.unwrap();
    let (_, id) = jwt_parts(t["id_token"].as_str().unwrap());
    assert_eq!(id["email"], ADMIN_EMAIL);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_error_codes_and_no_server_errors_on_malformed_requests() {
    let s = TestServer::start().await;
    let rp = client(&s, |c| c.skip_consent = true).await;
    let cc_only = client(&s, |c| {
        c.grant_types = vec!["client_credentials".into()];
        c.redirect_uris = vec![REDIRECT.into()];
    })
    .await;
    let b = s.browser();
    // A client without the code grant: unauthorized_client, by redirect.
    let res = b
        .get(&authorize_path(&[
            ("response_type", "code"),
            ("client_id", &cc_only.id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s1"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        param(&params_of(&res), "error"),
        Some("unauthorized_client")
    );
    // Introspection and revocation without a token: invalid_request.
    for path in ["/t/default/oauth2/introspect", "/t/default/oauth2/revoke"] {
        let res = reqwest::Client::new()
            .post(s.url(path))
            .basic_auth(&rp.id, rp.secret.as_deref())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("token_type_hint=access_token")
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(res).await,
            (StatusCode::BAD_REQUEST, "invalid_request".into()),
            "{path}"
        );
    }
    // Garbage everywhere: a 4xx in the protocol's format, never a 5xx.
    let http = reqwest::Client::new();
    let bodies: Vec<Vec<u8>> = vec![
        b"\xff\xfe=\xff".to_vec(),
        b"%%%%&&&===".to_vec(),
        "a=".repeat(100).into_bytes(),
        format!("code={}", "x".repeat(20_000)).into_bytes(),
        b"grant_type=authorization_code&code=&redirect_uri=".to_vec(),
        b"grant_type=refresh_token&refresh_token=%00".to_vec(),
        b"token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_vec(),
        b"client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c".to_vec(),
    ];
    for path in [
        "/t/default/oauth2/token",
        "/t/default/oauth2/introspect",
        "/t/default/oauth2/revoke",
        "/t/default/oauth2/userinfo",
        "/t/default/oauth2/authorize",
        "/t/default/oauth2/consent",
        "/t/default/oauth2/logout",
        "/t/nope/oauth2/token",
    ] {
        for body in &bodies {
            let res = http
                .post(s.url(path))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(AUTHORIZATION, "Basic !!!notbase64")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let what = format!(
                "{path} {:?}: {}",
                String::from_utf8_lossy(body),
                res.status()
            );
            if path.ends_with("/logout") {
                // Nothing to check in a bare sign-out: the signed-out page, never a redirect.
                assert!(!res.status().is_server_error(), "{what}");
                assert!(res.headers().get(LOCATION).is_none(), "{what}");
            } else {
                assert!(res.status().is_client_error(), "{what}");
            }
        }
    }
    for query in [
        "?id_token_hint=a.b.c",
        "?id_token_hint=%FF",
        "?post_logout_redirect_uri=javascript:alert(1)",
        "?client_id=&response_type=code",
    ] {
        for path in ["/t/default/oauth2/logout", "/t/default/oauth2/authorize"] {
            if path.ends_with("logout") && query.starts_with("?client_id") {
                continue; // a bare sign-out request is fine: "you are signed out"
            }
            let res = http
                .get(s.url(&format!("{path}{query}")))
                .send()
                .await
                .unwrap();
            assert!(
                res.status().is_client_error(),
                "{path}{query}: {}",
                res.status()
            );
            assert!(res.headers().get(LOCATION).is_none(), "{path}{query}");
        }
    }
    let res = http
        .get(s.url("/t/default/oauth2/userinfo"))
        .header(AUTHORIZATION, "Bearer a.b.c")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_fixes_marks_claims_consent_replays_and_introspection_scope() {
    let s = TestServer::start().await;
    let rp = client(&s, |_| {}).await;
    let b = s.browser();
    let chal = challenge(VERIFIER);
    // Consent to openid only.
    let mut p = base_params(&rp, &chal);
    p.retain(|(k, _)| *k != "scope");
    p.push(("scope", "openid"));
    let res = authorize(&b, &authorize_path(&p), ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FOUND);

    // A forged sign-in mark does not skip prompt=login.
    let mut forged = p.clone();
    forged.push(("prompt", "login"));
    forged.push(("plinto_auth_after", "0.AAAA"));
    let res = b.get(&authorize_path(&forged)).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/t/default/login"));

    // Asking for the email claim by name needs consent to the email scope.
    let mut with_claims = p.clone();
    with_claims.push(("prompt", "none"));
    with_claims.push(("claims", r#"{"id_token":{"email":null}}"#));
    let res = b.get(&authorize_path(&with_claims)).await;
    assert_eq!(param(&params_of(&res), "error"), Some("consent_required"));

    // A code can be neither used nor burnt by another client.
    let other = client(&s, |_| {}).await;
    let res = b.get(&authorize_path(&p)).await;
    let code = param(&params_of(&res), "code").unwrap().to_string();
    let res = exchange(&s, &other, &code).await;
    expect_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = exchange(&s, &rp, &code).await;
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = res.json().await.unwrap();

    // Another client cannot introspect this client's refresh token; a public client cannot
    // introspect at all.
    let introspect = |who: &Rp, token: &str| {
        let mut req = reqwest::Client::new()
            .post(s.url("/t/default/oauth2/introspect"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        let body = match &who.secret {
            Some(secret) => {
                req = req.basic_auth(&who.id, Some(secret));
                format!("token={token}")
            }
            None => format!("token={token}&client_id={}", who.id),
        };
        req.body(body).send()
    };
    let refresh = t["refresh_token"].as_str().unwrap();
    let mine: Value = introspect(&rp, refresh)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(mine["active"], true);
    let theirs: Value = introspect(&other, refresh)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["active"], false);
    let public = client(&s, |c| c.auth_method = Some("none".into())).await;
    let res = introspect(&public, refresh).await.unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;

    // A disabled user's access token is dead for introspection and UserInfo.
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&s, at).await.status(), StatusCode::OK);
    plinto::accounts::users::disable(
        &s.state.db,
        s.state.now(),
        plinto::tenants::find_by_slug(&s.state.db, "default")
            .await
            .unwrap()
            .unwrap()
            .id,
        ADMIN_EMAIL,
        "test",
        &Default::default(),
    )
    .await
    .unwrap();
    let after: Value = introspect(&rp, at).await.unwrap().json().await.unwrap();
    assert_eq!(after["active"], false);
    assert_eq!(userinfo(&s, at).await.status(), StatusCode::UNAUTHORIZED);

    // NUL bytes are a clear 400, on every backend.
    let res = b.get("/t/default/oauth2/authorize?client_id=%00").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = reqwest::Client::new()
        .post(s.url("/t/default/oauth2/token"))
        .basic_auth("a%00b", Some("x"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    expect_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_ip_redirect_uri_accepts_any_port() {
    let s = TestServer::start().await;
    let native = client(&s, |c| {
        c.auth_method = Some("none".into());
        c.redirect_uris = vec!["http://127.0.0.1/callback".into()];
        c.skip_consent = true;
    })
    .await;
    let b = s.browser();
    let chal = challenge(VERIFIER);
    let given = "http://127.0.0.1:54321/callback";
    let path = authorize_path(&[
        ("response_type", "code"),
        ("client_id", &native.id),
        ("redirect_uri", given),
        ("scope", "openid"),
        ("code_challenge", &chal),
        ("code_challenge_method", "S256"),
    ]);
    let res = authorize(&b, &path, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(location(&res).starts_with(&format!("{given}?code=")));
    let code = param(&params_of(&res), "code").unwrap().to_string();
    let res = b
        .post(
            "/t/default/oauth2/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &native.id),
                ("code", &code),
                ("redirect_uri", given),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Another path on the loopback host is not registered: the error page, no redirect.
    let res = b
        .get(&authorize_path(&[
            ("response_type", "code"),
            ("client_id", &native.id),
            ("redirect_uri", "http://127.0.0.1:54321/other"),
            ("scope", "openid"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
    s.stop().await;
}
