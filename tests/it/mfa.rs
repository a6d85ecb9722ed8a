//! Two-step verification through the hosted pages: TOTP enrollment and sign-in with codes
//! computed independently (totp-rs from the otpauth URI the page shows), replay and window,
//! recovery codes, the tenant's policy, step-up with `acr_values`, `amr`/`acr` in ID tokens
//! checked by the `openidconnect` client, and the administrator's reset.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient};
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, Nonce, PkceCodeChallenge, RedirectUrl,
    TokenResponse,
};
use plinto::clock::Clock as _;
use reqwest::StatusCode;
use totp_rs::Totp as TOTP;

use crate::oidc::{REDIRECT, client, param, params_of};
use crate::saml_sp::html_unescape;
use crate::support::{Browser, TestServer, csrf_of, location};

const EMAIL: &str = "mia@example.com";
const PASSWORD: &str = "correct horse battery staple";
const ACR_MFA: &str = "urn:plinto:acr:mfa";

async fn server(tenant: &str) -> TestServer {
    let s = TestServer::start_with(|c| c.rate_limits = "off".into()).await;
    if tenant != "default" {
        s.create_tenant(tenant, false).await;
    }
    s.create_user(tenant, EMAIL, PASSWORD).await;
    s
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    let j = html[i..].find(end)? + i;
    Some(&html[i..j])
}

/// The server's TOTP code now, computed from the otpauth URI alone.
fn code(s: &TestServer, totp: &TOTP) -> String {
    totp.generate(s.clock.now().timestamp() as u64).to_string()
}

/// Sign in with the password only (the second step may follow).
async fn password(b: &Browser, tenant: &str, return_to: &str) -> reqwest::Response {
    let path = format!("/t/{tenant}/login");
    let token = b.csrf(&path).await;
    b.post(
        &path,
        &[
            ("email", EMAIL),
            ("password", PASSWORD),
            ("return_to", return_to),
            ("csrf_token", &token),
        ],
    )
    .await
}

/// Set up an authenticator app on the enrollment page; returns the app and the recovery
/// codes shown once.
async fn enroll(s: &TestServer, b: &Browser, tenant: &str) -> (TOTP, Vec<String>) {
    let path = format!("/t/{tenant}/account/mfa/totp");
    let res = b.get(&path).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("<svg"), "a server-side QR code");
    let uri = html_unescape(between(&html, "<code id=\"otpauth-uri\">", "</code>").unwrap());
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let totp = TOTP::from_url(&uri).expect("a valid otpauth URI");
    let secret = between(&html, "<code id=\"totp-secret\">", "</code>").unwrap();
    assert_eq!(totp.secret().to_base32(), secret);
    let token = csrf_of(&html);
    // A wrong first code does not turn it on.
    let res = b
        .post(&path, &[("code", "000000"), ("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = b
        .post(&path, &[("code", &code(s, &totp)), ("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let codes: Vec<String> = html
        .match_indices("<li><code>")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('<').unwrap()].to_string()
        })
        .collect();
    assert_eq!(codes.len(), 10, "{html}");
    (totp, codes)
}

async fn second_step(b: &Browser, tenant: &str, field: &str, value: &str) -> reqwest::Response {
    second_step_at(b, &format!("/t/{tenant}/login/mfa"), field, value).await
}

/// The second-step page at `page` (with its `return_to`), answered with `field=value`.
async fn second_step_at(b: &Browser, page: &str, field: &str, value: &str) -> reqwest::Response {
    let path = page.split('?').next().unwrap().to_string();
    let res = b.get(page).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    let token = csrf_of(&html);
    let return_to =
        html_unescape(between(&html, "name=\"return_to\" value=\"", "\"").unwrap_or_default());
    b.post(
        &path,
        &[
            (field, value),
            ("return_to", &return_to),
            ("csrf_token", &token),
        ],
    )
    .await
}

#[tokio::test]
async fn totp_enrollment_sign_in_replay_and_window() {
    let s = server("acme").await;
    let b = s.browser();
    assert_eq!(
        password(&b, "acme", "/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );
    let account = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(account.contains("Authenticator app: off"));
    let (totp, _) = enroll(&s, &b, "acme").await;
    let account = b.get("/t/acme/account").await.text().await.unwrap();
    assert!(account.contains("Authenticator app: <strong>on</strong>"));
    assert!(account.contains("Recovery codes left: 10"));

    // Sign in again: the password alone gives no session.
    let b2 = s.browser();
    let res = password(&b2, "acme", "/t/acme/account").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/t/acme/login/mfa?"));
    assert_eq!(
        b2.get("/t/acme/account").await.status(),
        StatusCode::SEE_OTHER
    );
    // The enrollment code is spent: the same code (same step) is refused.
    let res = second_step(&b2, "acme", "code", &code(&s, &totp)).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("already used"));
    // Bad input: clear messages, never a 500.
    for bad in ["", "12345", "abcdef", "1234567", "１２３４５６"] {
        let res = second_step(&b2, "acme", "code", bad).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
    }
    // Two steps later is outside the ±1 window.
    let later = totp
        .generate(s.clock.now().timestamp() as u64 + 60)
        .to_string();
    let res = second_step(&b2, "acme", "code", &later).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The next step's code works once.
    s.clock.advance(chrono::Duration::seconds(30));
    let fresh = code(&s, &totp);
    let res = second_step(&b2, "acme", "code", &fresh).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/t/acme/account");
    assert_eq!(b2.get("/t/acme/account").await.status(), StatusCode::OK);
    let b3 = s.browser();
    password(&b3, "acme", "/t/acme/account").await;
    let res = second_step(&b3, "acme", "code", &fresh).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "replayed");
    // Without the password step, the second step leads to the sign-in page.
    let res = s.browser().get("/t/acme/login/mfa").await;
    assert!(location(&res).starts_with("/t/acme/login?"));
    // A forged pending cookie is ignored.
    let forged = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = forged
        .get(s.url("/t/acme/login/mfa"))
        .header(
            "cookie",
            "plinto-mfa-acme=00000000-0000-0000-0000-000000000000.1.AAAA",
        )
        .send()
        .await
        .unwrap();
    assert!(location_of(&res).starts_with("/t/acme/login?"));
    let actions: Vec<String> = s
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    for a in ["mfa.totp_enroll", "mfa.success", "mfa.failure"] {
        assert!(actions.iter().any(|x| x == a), "{a}");
    }
}

fn location_of(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn attempts_are_rate_limited() {
    let s = TestServer::start_with(|c| c.rate_limits = "mfa=3/min".into()).await;
    s.create_tenant("acme", false).await;
    s.create_user("acme", EMAIL, PASSWORD).await;
    let b = s.browser();
    password(&b, "acme", "/t/acme/account").await;
    let (totp, _) = enroll(&s, &b, "acme").await;
    s.clock.advance(chrono::Duration::seconds(90));
    let b2 = s.browser();
    password(&b2, "acme", "/t/acme/account").await;
    for _ in 0..3 {
        let res = second_step(&b2, "acme", "code", "000000").await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Even the right code waits now.
    let res = second_step(&b2, "acme", "code", &code(&s, &totp)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn recovery_codes_are_single_use_and_regenerable() {
    let s = server("acme").await;
    let b = s.browser();
    password(&b, "acme", "/t/acme/account").await;
    let (_, codes) = enroll(&s, &b, "acme").await;

    let b2 = s.browser();
    password(&b2, "acme", "/t/acme/account").await;
    // Typed loosely: upper case, spaces.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let res = second_step(&b2, "acme", "recovery_code", &typed).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("You have 9 recovery codes left")
    );
    assert_eq!(b2.get("/t/acme/account").await.status(), StatusCode::OK);

    let b3 = s.browser();
    password(&b3, "acme", "/t/acme/account").await;
    let res = second_step(&b3, "acme", "recovery_code", &codes[0]).await;
    assert_eq!(
        res.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "used once only"
    );
    let res = second_step(&b3, "acme", "recovery_code", "not-a-code").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // New codes: the old ones stop working.
    let token = b.csrf("/t/acme/account").await;
    let res = b
        .post("/t/acme/account/mfa/recovery", &[("csrf_token", &token)])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert_eq!(html.matches("<li><code>").count(), 10);
    let res = second_step(&b3, "acme", "recovery_code", &codes[1]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let actions: Vec<String> = s
        .audit_actions()
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    assert!(actions.iter().any(|a| a == "mfa.recovery_code_used"));
    assert!(actions.iter().any(|a| a == "mfa.recovery_regenerate"));
}

#[tokio::test]
async fn tenant_policy_walks_users_through_enrollment_and_reset_clears_factors() {
    let s = server("acme").await;
    let out = s.cli(&["tenant", "update", "acme", "--mfa-policy", "required"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(t["mfa_policy"], "required");
    assert!(
        !s.cli(&["tenant", "update", "acme", "--mfa-policy", "sometimes"])
            .status
            .success()
    );

    let b = s.browser();
    let res = password(&b, "acme", "/t/acme/account").await;
    let to = location(&res);
    assert!(
        to.starts_with("/t/acme/account/mfa/totp?return_to="),
        "{to}"
    );
    let page = b.get(&to).await.text().await.unwrap();
    assert!(page.contains("requires two-step verification"));
    enroll(&s, &b, "acme").await;

    // A protocol request with a password-only session is sent to enroll first.
    let b2 = s.browser();
    let res = password(&b2, "acme", "/t/acme/account").await;
    assert!(
        location(&res).starts_with("/t/acme/login/mfa"),
        "enrolled now"
    );

    // The administrator resets the lost factor: the next sign-in enrolls again.
    let out = s.cli(&["user", "reset-mfa", "--tenant", "acme", EMAIL]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mfa_reset"], true);
    assert!(
        !s.cli(&[
            "user",
            "reset-mfa",
            "--tenant",
            "acme",
            "nobody@example.com"
        ])
        .status
        .success()
    );
    let b3 = s.browser();
    let res = password(&b3, "acme", "/t/acme/account").await;
    assert!(location(&res).starts_with("/t/acme/account/mfa/totp"));
    assert!(
        s.audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "mfa.reset")
    );

    // `admins`: only administrators must (a fresh tenant: the server caches tenants briefly).
    s.create_tenant("beta", false).await;
    s.create_user("beta", EMAIL, PASSWORD).await;
    assert!(
        s.cli(&["tenant", "update", "beta", "--mfa-policy", "admins"])
            .status
            .success()
    );
    let b4 = s.browser();
    let res = password(&b4, "beta", "/t/beta/account").await;
    assert_eq!(location(&res), "/t/beta/account");
}

/// Follow an authorization request through the password, the second factor (or its
/// enrollment) and consent, to the response.
async fn authorize_with(
    s: &TestServer,
    b: &Browser,
    path: &str,
    totp: &mut Option<TOTP>,
) -> reqwest::Response {
    let mut res = b.get(path).await;
    for _ in 0..12 {
        if res.status() == StatusCode::SEE_OTHER {
            let to = location(&res);
            if to.starts_with("/t/default/login/mfa") {
                s.clock.advance(chrono::Duration::seconds(30));
                let c = code(s, totp.as_ref().expect("an authenticator"));
                res = second_step_at(b, &to, "code", &c).await;
                continue;
            }
            if to.starts_with("/t/default/login") {
                let return_to = url::Url::parse(&format!("http://x{to}"))
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "return_to")
                    .map(|(_, v)| v.into_owned())
                    .unwrap();
                res = password(b, "default", &return_to).await;
                continue;
            }
            if to.starts_with("/t/default/account/mfa/totp") {
                let (app, _) = enroll(s, b, "default").await;
                *totp = Some(app);
                let return_to = url::Url::parse(&format!("http://x{to}"))
                    .unwrap()
                    .query_pairs()
                    .find(|(k, _)| k == "return_to")
                    .map(|(_, v)| v.into_owned())
                    .unwrap();
                res = b.get(&return_to).await;
                continue;
            }
            res = b.get(&to).await;
            continue;
        }
        if res.status() == StatusCode::OK {
            let html = res.text().await.unwrap();
            assert!(html.contains("/oauth2/consent"), "{html}");
            let mut fields = crate::oidc::hidden_inputs(&html);
            fields.push(("decision".into(), "allow".into()));
            let all: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            res = b.post("/t/default/oauth2/consent", &all).await;
            continue;
        }
        return res;
    }
    res
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acr_values_step_up_and_amr_acr_in_id_tokens() {
    let s = server("default").await;
    let rp = client(&s, |_| {}).await;
    let meta = crate::rp::discover(&s).await;
    let doc: serde_json::Value = reqwest::get(s.url("/t/default/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["acr_values_supported"],
        serde_json::json!(["urn:plinto:acr:pwd", ACR_MFA])
    );
    let oidc = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.id.clone()),
        Some(ClientSecret::new(rp.secret.clone().unwrap())),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());

    async fn flow(
        s: &TestServer,
        oidc: &CoreClient<
            EndpointSet,
            EndpointNotSet,
            EndpointNotSet,
            EndpointNotSet,
            EndpointMaybeSet,
            EndpointMaybeSet,
        >,
        b: &Browser,
        mfa: bool,
        totp: &mut Option<TOTP>,
    ) -> (Vec<String>, Option<String>) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = oidc
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        if mfa {
            req = req.add_auth_context_value(AuthenticationContextClass::new(ACR_MFA.into()));
        }
        let (url, _, nonce) = req.url();
        let res = authorize_with(s, b, &crate::rp::local(s, &url), totp).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        let code = param(&params_of(&res), "code").unwrap().to_string();
        let tokens = oidc
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&crate::rp::http)
            .await
            .expect("token exchange");
        let claims = tokens
            .id_token()
            .unwrap()
            .claims(&oidc.id_token_verifier(), &nonce)
            .expect("the ID token verifies")
            .clone();
        let amr = claims
            .auth_method_refs()
            .map(|v| v.iter().map(|m| m.to_string()).collect())
            .unwrap_or_default();
        (amr, claims.auth_context_ref().map(|a| a.to_string()))
    }

    // Password only: amr pwd, acr pwd.
    let b = s.browser();
    let mut totp = None;
    let (amr, acr) = flow(&s, &oidc, &b, false, &mut totp).await;
    assert_eq!(amr, ["pwd"]);
    assert_eq!(acr.as_deref(), Some("urn:plinto:acr:pwd"));
    // prompt=none cannot ask for the second factor.
    let res = b
        .get(&crate::oidc::authorize_path(&[
            ("response_type", "code"),
            ("client_id", &rp.id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("prompt", "none"),
            ("acr_values", ACR_MFA),
            (
                "code_challenge",
                &crate::oidc::challenge(crate::oidc::VERIFIER),
            ),
            ("code_challenge_method", "S256"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(
        param(&params_of(&res), "error"),
        Some("interaction_required")
    );
    // An essential `acr` claim asks for the second factor too (OpenID Connect Core §5.5.1.1).
    let claims =
        serde_json::json!({ "id_token": { "acr": { "essential": true, "values": [ACR_MFA] } } })
            .to_string();
    let res = b
        .get(&crate::oidc::authorize_path(&[
            ("response_type", "code"),
            ("client_id", &rp.id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("claims", &claims),
            (
                "code_challenge",
                &crate::oidc::challenge(crate::oidc::VERIFIER),
            ),
            ("code_challenge_method", "S256"),
        ]))
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/t/default/account/mfa/totp?return_to="));
    // acr_values asks for the second factor: no factor yet, so enrollment, then the code.
    let (amr, acr) = flow(&s, &oidc, &b, true, &mut totp).await;
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    assert_eq!(acr.as_deref(), Some(ACR_MFA));
    // Another browser signed in with the password before the enrollment above: step-up
    // asks that session for a code, and keeps the session.
    let b2 = s.browser();
    let mut none = None;
    s.cli(&["user", "reset-mfa", "--tenant", "default", EMAIL]);
    flow(&s, &oidc, &b2, false, &mut none).await;
    let b3 = s.browser();
    let mut app = None;
    let _ = flow(&s, &oidc, &b3, true, &mut app).await;
    let (amr, acr) = flow(&s, &oidc, &b2, true, &mut app).await;
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    assert_eq!(acr.as_deref(), Some(ACR_MFA));
}

/// SAML: a RequestedAuthnContext that needs a second factor steps the session up (here by
/// enrolling), and the AuthnContextClassRef then says so.
#[tokio::test]
async fn saml_requested_mfa_context_steps_up() {
    use crate::saml_sp::{AuthnOpts, TestSp, auto_post_form, form_field};
    let s = server("acme").await;
    let sp = TestSp::new(
        "https://mfa-sp.example/sp",
        "https://mfa-sp.example/acs",
        "https://mfa-sp.example/slo",
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), sp.metadata_xml(false, true)).unwrap();
    let out = s.cli(&[
        "saml-sp",
        "create",
        "--tenant",
        "acme",
        "--metadata",
        file.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = s.browser();
    password(&b, "acme", "/t/acme/account").await;
    let refeds = "https://refeds.org/profile/mfa";
    let (_, xml) = sp.authn_request(&AuthnOpts {
        destination: Some(s.url("/t/acme/saml/sso")),
        requested_authn_context: Some(("exact".into(), vec![refeds.into()])),
        ..Default::default()
    });
    let res = b
        .get(&format!(
            "/t/acme/saml/sso?{}",
            sp.redirect_query(&xml, None, false)
        ))
        .await;
    let cont = location(&res);
    let res = b.get(&cont).await;
    let to = location(&res);
    assert!(
        to.starts_with("/t/acme/account/mfa/totp?return_to="),
        "{to}"
    );
    enroll(&s, &b, "acme").await;
    let res = b.get(&cont).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (action, fields) = auto_post_form(&res.text().await.unwrap());
    assert_eq!(action, sp.acs_url);
    let response = String::from_utf8(
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            form_field(&fields, "SAMLResponse").unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(response.contains(&format!(
        "<saml:AuthnContextClassRef>{refeds}</saml:AuthnContextClassRef>"
    )));
}
