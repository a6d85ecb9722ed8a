//! The Basic OP plan (`oidcc-basic-certification-test-plan`, response_type=code, static
//! clients), and the same checks with response_mode=form_post for the Form Post plan.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use openidconnect::core::CoreIdToken;
use openidconnect::{AccessToken, SubjectIdentifier};
use tokio::time::sleep;

use super::{Verdict, not_applicable, pass};
use crate::browser::{AuthEnd, Trace};
use crate::ctx::Ctx;
use crate::flow::{
    AuthParams, Method, Mode, NonceRule, Notes, UserinfoCall, as_response, check_error,
    check_success, check_token_error, code_flow, expect_userinfo_rejects, now, prepare, redeem,
    refresh, run, same_auth, tamper_signature, token_raw, userinfo, verify_id,
    warn_missing_scope_claims,
};

fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Query => "query",
        Mode::FormPost => "form_post",
    }
}

/// oidcc-server: the whole code flow, then userinfo.
pub async fn server(ctx: &Ctx, _notes: &mut Notes, mode: Mode) -> Result<Verdict> {
    let b = ctx.browser()?;
    let f = code_flow(ctx, &ctx.basic, &b, &AuthParams::default().mode(mode)).await?;
    userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    pass(format!(
        "code flow ({}), ID token verified, userinfo sub matches",
        mode_label(mode)
    ))
}

/// oidcc-response-type-missing: an error page, or a redirect with invalid_request /
/// unsupported_response_type in the query.
pub async fn response_type_missing(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let req = prepare(
        ctx,
        &ctx.basic,
        &AuthParams::default().remove("response_type"),
    );
    let mut trace = Trace::default();
    let end = run(&b, &req, &mut trace).await?;
    match &end {
        AuthEnd::Stopped(page) if (400..500).contains(&page.status) => {
            pass(format!("error page, HTTP {}", page.status))
        }
        AuthEnd::Redirect { .. } | AuthEnd::FormPost { .. } => {
            let resp = as_response(&end)?;
            let err = check_error(
                ctx,
                &req,
                &resp,
                &["invalid_request", "unsupported_response_type"],
                notes,
            )?;
            pass(format!("redirected with error={err}"))
        }
        other => bail!(
            "expected an error page or an error redirect, got {}",
            other.describe()
        ),
    }
}

/// oidcc-idtoken-signature: the ID token verifies against the JWKS, and the same token with a
/// damaged signature does not (so the verification really happened).
pub async fn idtoken_signature(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let f = code_flow(ctx, &ctx.basic, &b, &AuthParams::default()).await?;
    let alg =
        f.id.token
            .signing_alg()
            .ok()
            .and_then(|a| serde_json::to_value(a).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
    let tampered = tamper_signature(&f.id.raw)?;
    let tampered = CoreIdToken::from_str(&tampered)
        .map_err(|e| anyhow!("re-parsing the tampered token: {e}"))?;
    ensure!(
        verify_id(
            ctx,
            &ctx.basic,
            &tampered,
            NonceRule::Equals(&f.req.nonce),
            None
        )
        .is_err(),
        "an ID token with a damaged signature still verified: the JWKS check is not effective"
    );
    pass(format!(
        "signature ({alg}) verified with the JWKS key named by kid"
    ))
}

/// oidcc-userinfo-get, through `openidconnect`'s userinfo request and a raw GET.
pub async fn userinfo_get(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let f = code_flow(ctx, &ctx.basic, &b, &AuthParams::default()).await?;
    let claims: openidconnect::core::CoreUserInfoClaims = ctx
        .basic
        .client
        .user_info(
            AccessToken::new(f.tokens.access_token.clone()),
            Some(SubjectIdentifier::new(f.id.sub().to_string())),
        )
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!("userinfo: {}", crate::ctx::error_chain(&e)))?;
    ensure!(
        claims.subject().as_str() == f.id.sub(),
        "userinfo sub differs"
    );
    userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    pass("GET with Bearer header: 200 JSON, sub matches the ID token")
}

/// oidcc-userinfo-post-header / -post-body.
pub async fn userinfo_post(ctx: &Ctx, _notes: &mut Notes, how: UserinfoCall) -> Result<Verdict> {
    let b = ctx.browser()?;
    let f = code_flow(ctx, &ctx.basic, &b, &AuthParams::default()).await?;
    userinfo(ctx, &f.tokens.access_token, how, f.id.sub()).await?;
    pass(match how {
        UserinfoCall::PostHeader => "POST with Bearer header: 200 JSON, sub matches",
        UserinfoCall::PostBody => "POST with access_token in the body: 200 JSON, sub matches",
        UserinfoCall::Get => "GET: 200 JSON, sub matches",
    })
}

/// oidcc-ensure-request-without-nonce-succeeds-for-code-flow.
pub async fn without_nonce(ctx: &Ctx, _notes: &mut Notes, mode: Mode) -> Result<Verdict> {
    let b = ctx.browser()?;
    let p = AuthParams::default().remove("nonce").mode(mode);
    let f = code_flow(ctx, &ctx.basic, &b, &p).await?;
    userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    pass("no nonce sent: flow succeeded, ID token has no nonce")
}

/// oidcc-scope-*: request the scopes, check userinfo; missing claims are warnings.
pub async fn scopes(ctx: &Ctx, notes: &mut Notes, scopes: &[&str]) -> Result<Verdict> {
    if let Some(s) = scopes.iter().find(|s| !ctx.scope_supported(s)) {
        return not_applicable(format!("scopes_supported does not list {s}"));
    }
    let b = ctx.browser()?;
    let f = code_flow(ctx, &ctx.basic, &b, &AuthParams::default().scopes(scopes)).await?;
    let claims = userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    warn_missing_scope_claims(scopes, &claims, notes);
    let mut names: Vec<&str> = claims.keys().map(String::as_str).collect();
    names.sort_unstable();
    pass(format!("userinfo claims: {}", names.join(" ")))
}

/// oidcc-ensure-other-scope-order-succeeds: scope=email openid.
pub async fn other_scope_order(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let p = AuthParams::default()
        .scopes(&["email"])
        .replace("scope", "email openid");
    let f = code_flow(ctx, &ctx.basic, &b, &p).await?;
    let claims = userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    warn_missing_scope_claims(&["email"], &claims, notes);
    pass("scope=\"email openid\" accepted")
}

/// The modules that add one parameter the provider must accept or ignore.
pub async fn with_param(ctx: &Ctx, _notes: &mut Notes, name: &str, value: &str) -> Result<Verdict> {
    let b = ctx.browser()?;
    let f = code_flow(
        ctx,
        &ctx.basic,
        &b,
        &AuthParams::default().extra(name, value),
    )
    .await?;
    userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    pass(format!("{name}={value} accepted, flow completed"))
}

/// oidcc-prompt-login: a second authorization with prompt=login must ask for the password
/// again, and auth_time must move forward.
pub async fn prompt_login(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let first = code_flow(ctx, &ctx.basic, &b, &AuthParams::default()).await?;
    // auth_time has a resolution of one second
    sleep(Duration::from_millis(1500)).await;
    let second = code_flow(
        ctx,
        &ctx.basic,
        &b,
        &AuthParams::default().extra("prompt", "login"),
    )
    .await
    .context("second authorization (prompt=login)")?;
    ensure!(
        second.trace.logins >= 1,
        "prompt=login did not show the login page to a signed-in user"
    );
    ensure!(
        first.id.sub() == second.id.sub(),
        "sub changed between the two authorizations"
    );
    match (first.id.auth_time(), second.id.auth_time()) {
        (Some(a), Some(b)) => {
            ensure!(
                b > a,
                "auth_time did not move forward after the new login ({a} then {b})"
            );
            pass(format!("login page shown again; auth_time {a} → {b}"))
        }
        (None, Some(_)) | (Some(_), None) => {
            bail!("auth_time present in only one of the two ID tokens")
        }
        (None, None) => pass("login page shown again (no auth_time in the ID tokens)"),
    }
}

/// oidcc-prompt-none-not-logged-in: a fresh browser, prompt=none → login_required.
pub async fn prompt_none_not_logged_in(
    ctx: &Ctx,
    notes: &mut Notes,
    mode: Mode,
) -> Result<Verdict> {
    let b = ctx.browser()?;
    let p = AuthParams::default()
        .extra("prompt", "none")
        .long_state()
        .no_interaction()
        .mode(mode);
    let req = prepare(ctx, &ctx.basic, &p);
    let mut trace = Trace::default();
    let end = run(&b, &req, &mut trace).await?;
    let resp = as_response(&end)?;
    let err = check_error(ctx, &req, &resp, &["login_required"], notes)?;
    pass(format!(
        "error={err} ({}), 128-char state intact",
        mode_label(mode)
    ))
}

/// oidcc-prompt-none-logged-in: a second authorization with prompt=none succeeds silently.
pub async fn prompt_none_logged_in(ctx: &Ctx, _notes: &mut Notes, mode: Mode) -> Result<Verdict> {
    let b = ctx.browser()?;
    let first = code_flow(ctx, &ctx.basic, &b, &AuthParams::default().mode(mode)).await?;
    let second = code_flow(
        ctx,
        &ctx.basic,
        &b,
        &AuthParams::default()
            .extra("prompt", "none")
            .long_state()
            .no_interaction()
            .mode(mode),
    )
    .await
    .context("second authorization (prompt=none)")?;
    same_auth(&first.id, &second.id)?;
    userinfo(
        ctx,
        &second.tokens.access_token,
        UserinfoCall::Get,
        second.id.sub(),
    )
    .await?;
    pass("silent re-authorization: same sub and auth_time")
}

/// oidcc-max-age-1: wait, then max_age=1 must ask for the password again; auth_time is
/// required and later than the first.
pub async fn max_age_1(ctx: &Ctx, _notes: &mut Notes, mode: Mode) -> Result<Verdict> {
    let b = ctx.browser()?;
    let first = code_flow(ctx, &ctx.basic, &b, &AuthParams::default().mode(mode)).await?;
    sleep(Duration::from_secs(2)).await;
    let second = code_flow(
        ctx,
        &ctx.basic,
        &b,
        &AuthParams::default().extra("max_age", "1").mode(mode),
    )
    .await
    .context("second authorization (max_age=1)")?;
    ensure!(
        second.trace.logins >= 1,
        "max_age=1 after 2 s did not ask the user to sign in again"
    );
    let at = second.id.auth_time().ok_or_else(|| {
        anyhow!("no auth_time in the ID token although max_age was requested (OIDC Core §3.1.2.1)")
    })?;
    if let Some(first_at) = first.id.auth_time() {
        ensure!(
            at > first_at,
            "auth_time did not move forward ({first_at} then {at})"
        );
    }
    let age = now() - at;
    ensure!(
        age <= 120,
        "auth_time {at} is {age} s old right after signing in"
    );
    ensure!(first.id.sub() == second.id.sub(), "sub changed");
    pass(format!(
        "login page shown again; auth_time present and recent ({})",
        mode_label(mode)
    ))
}

/// oidcc-max-age-10000: no new login, auth_time required and unchanged.
pub async fn max_age_10000(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let first = code_flow(ctx, &ctx.basic, &b, &AuthParams::default()).await?;
    let second = code_flow(
        ctx,
        &ctx.basic,
        &b,
        &AuthParams::default()
            .extra("max_age", "10000")
            .no_interaction(),
    )
    .await
    .context("second authorization (max_age=10000, expected without interaction)")?;
    ensure!(
        second.id.auth_time().is_some(),
        "no auth_time in the ID token although max_age was requested (OIDC Core §3.1.2.1)"
    );
    same_auth(&first.id, &second.id)?;
    pass("no new login; auth_time present and unchanged")
}

/// oidcc-id-token-hint: prompt=none with the first ID token as id_token_hint.
pub async fn id_token_hint(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let first = code_flow(ctx, &ctx.basic, &b, &AuthParams::default()).await?;
    let second = code_flow(
        ctx,
        &ctx.basic,
        &b,
        &AuthParams::default()
            .extra("prompt", "none")
            .extra("id_token_hint", &first.id.raw)
            .no_interaction(),
    )
    .await
    .context("second authorization (prompt=none, id_token_hint)")?;
    same_auth(&first.id, &second.id)?;
    pass("prompt=none with id_token_hint succeeded silently; same sub")
}

/// oidcc-login-hint.
pub async fn login_hint(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let hint = ctx.args.username.clone();
    let f = code_flow(
        ctx,
        &ctx.basic,
        &b,
        &AuthParams::default().extra("login_hint", &hint),
    )
    .await?;
    if !f.trace.login_prefill.contains(&hint) {
        notes.warn("the login page did not prefill the email from login_hint");
    }
    pass("login_hint accepted, flow completed")
}

/// oidcc-codereuse(-30seconds): the second redemption fails with invalid_grant, and the access
/// token of the first is revoked (RFC 6749 §4.1.2).
pub async fn code_reuse(
    ctx: &Ctx,
    _notes: &mut Notes,
    wait_secs: u64,
    mode: Mode,
) -> Result<Verdict> {
    let b = ctx.browser()?;
    let req = prepare(ctx, &ctx.basic, &AuthParams::default().mode(mode));
    let mut trace = Trace::default();
    let end = run(&b, &req, &mut trace).await?;
    let resp = as_response(&end)?;
    let code = check_success(ctx, &req, &resp)?;
    let tokens = redeem(ctx, &ctx.basic, &code, req.pkce_verifier.as_deref()).await?;
    if wait_secs > 0 {
        sleep(Duration::from_secs(wait_secs)).await;
    }
    let mut fields = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".to_string(), code),
        ("redirect_uri".to_string(), req.redirect_uri.to_string()),
    ];
    if let Some(v) = &req.pkce_verifier {
        fields.push(("code_verifier".to_string(), v.clone()));
    }
    let raw = token_raw(ctx, &ctx.basic, fields).await?;
    check_token_error(&raw, "invalid_grant").context("reusing the code")?;
    expect_userinfo_rejects(ctx, &tokens.access_token)
        .await
        .context("the access token from the first redemption after the code was reused")?;
    pass(if wait_secs > 0 {
        format!("reuse after {wait_secs} s: 400 invalid_grant; first access token revoked")
    } else {
        "reuse: 400 invalid_grant; first access token revoked".to_string()
    })
}

/// oidcc-ensure-registered-redirect-uri: an unregistered redirect URI gets an error page and
/// is never redirected to.
pub async fn registered_redirect_uri(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let mut bad = ctx.redirect_uri.clone();
    let suffix = openidconnect::CsrfToken::new_random_len(6);
    bad.set_path(&format!(
        "{}/not-registered-{}",
        ctx.redirect_uri.path().trim_end_matches('/'),
        suffix.secret()
    ));
    let p = AuthParams {
        redirect_uri: Some(bad.clone()),
        ..AuthParams::default()
    };
    let req = prepare(ctx, &ctx.basic, &p);
    let mut trace = Trace::default();
    let end = b
        .authorize(
            req.nav(),
            &[bad.clone(), ctx.redirect_uri.clone()],
            req.interact,
            &mut trace,
        )
        .await?;
    if trace.logins > 0 {
        notes.warn("the user was asked to sign in before the redirect URI was rejected");
    }
    match end {
        AuthEnd::Stopped(page) if (400..500).contains(&page.status) => {
            pass(format!("error page, HTTP {}, no redirect", page.status))
        }
        other => bail!(
            "expected an error page for redirect_uri={bad}, got {}",
            other.describe()
        ),
    }
}

/// oidcc-ensure-post-request-succeeds: the authorization request as a POST form.
pub async fn post_request(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let p = AuthParams {
        method: Method::Post,
        ..AuthParams::default()
    };
    let f = code_flow(ctx, &ctx.basic, &b, &p).await?;
    userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    pass("POSTed authorization request succeeded")
}

/// oidcc-server-client-secret-post: the code flow with the client_secret_post client.
pub async fn client_secret_post(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let f = code_flow(ctx, &ctx.post, &b, &AuthParams::default()).await?;
    userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    pass("client_secret_post client: code flow and userinfo")
}

/// oidcc-claims-essential: name requested as an essential userinfo claim.
pub async fn claims_essential(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let claims = r#"{"userinfo":{"name":{"essential":true}}}"#;
    let f = code_flow(
        ctx,
        &ctx.basic,
        &b,
        &AuthParams::default().extra("claims", claims),
    )
    .await?;
    let ui = userinfo(ctx, &f.tokens.access_token, UserinfoCall::Get, f.id.sub()).await?;
    if !ui.contains_key("name") {
        notes.warn("userinfo has no name although it was requested as essential");
    }
    if f.id.claims.name().is_some() {
        notes.warn("the ID token contains name although it was requested for userinfo only");
    }
    pass("claims parameter accepted")
}

/// oidcc-refresh-token: refresh with client 1 (new access token, consistent ID token,
/// userinfo), then client 2's refresh token must not work for client 1.
pub async fn refresh_token(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let grants = ctx
        .raw_meta
        .get("grant_types_supported")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().any(|g| g.as_str() == Some("refresh_token")))
        .unwrap_or(false);
    let b = ctx.browser()?;
    let mut p = AuthParams::default();
    let mut scope = vec!["openid"];
    if ctx.scope_supported("offline_access") {
        p = p.scopes(&["offline_access"]).extra("prompt", "consent");
        scope.push("offline_access");
    }
    let first = code_flow(ctx, &ctx.basic, &b, &p).await?;
    let Some(rt) = first.tokens.refresh_token.clone() else {
        if grants {
            bail!(
                "no refresh_token (scope {}) although grant_types_supported lists refresh_token",
                scope.join(" ")
            );
        }
        return not_applicable("no refresh token issued and none advertised");
    };
    if !grants {
        notes.warn("a refresh token was issued but grant_types_supported lacks refresh_token");
    }
    // the suite waits so that iat differs
    sleep(Duration::from_millis(1100)).await;
    let second = refresh(ctx, &ctx.basic, &rt, &scope)
        .await
        .context("refresh_token grant")?;
    if second.access_token == first.tokens.access_token {
        notes.warn("the refreshed access token equals the first one");
    }
    if let Some(idt) = &second.id_token {
        let id2 = verify_id(
            ctx,
            &ctx.basic,
            idt,
            NonceRule::Any,
            Some(&second.access_token),
        )
        .context("ID token from the refresh")?;
        ensure!(
            id2.sub() == first.id.sub(),
            "refreshed ID token has another sub (OIDC Core §12.2)"
        );
        ensure!(
            id2.claims.audiences() == first.id.claims.audiences(),
            "refreshed ID token has other audiences (OIDC Core §12.2)"
        );
        if let (Some(a), Some(b)) = (first.id.auth_time(), id2.auth_time()) {
            ensure!(
                a == b,
                "refreshed ID token's auth_time {b} is not the original {a} (OIDC Core §12.2)"
            );
        }
        ensure!(
            id2.iat() >= first.id.iat(),
            "refreshed ID token's iat is older than the first"
        );
    }
    userinfo(ctx, &second.access_token, UserinfoCall::Get, first.id.sub())
        .await
        .context("userinfo with the refreshed access token")?;

    // client 2's refresh token presented by client 1
    let other = code_flow(ctx, &ctx.post, &b, &p)
        .await
        .context("authorization of the second client")?;
    let rt2 = other
        .tokens
        .refresh_token
        .clone()
        .ok_or_else(|| anyhow!("the second client got no refresh_token"))?;
    let raw = token_raw(
        ctx,
        &ctx.basic,
        vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), rt2),
            ("scope".into(), scope.join(" ")),
        ],
    )
    .await?;
    check_token_error(&raw, "invalid_grant")
        .context("client 1 presenting client 2's refresh token")?;
    pass("refresh works; tokens bound to their client (invalid_grant across clients)")
}

/// oidcc-ensure-request-with-valid-pkce-succeeds, plus RFC 7636 §4.6: a wrong or missing
/// code_verifier must be refused.
pub async fn valid_pkce(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let b = ctx.browser()?;
    let f = code_flow(ctx, &ctx.basic, &b, &AuthParams::default()).await?;
    ensure!(
        f.req.param("code_challenge_method").as_deref() == Some("S256"),
        "the request did not use S256"
    );

    for (what, verifier) in [
        (
            "a wrong code_verifier",
            Some("wrong-verifier-wrong-verifier-wrong-verifier-0123456789"),
        ),
        ("no code_verifier", None),
    ] {
        let req = prepare(ctx, &ctx.basic, &AuthParams::default().no_interaction());
        let mut trace = Trace::default();
        let end = run(&b, &req, &mut trace).await?;
        let resp = as_response(&end)?;
        let code = check_success(ctx, &req, &resp)?;
        let mut fields = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".to_string(), code),
            ("redirect_uri".to_string(), req.redirect_uri.to_string()),
        ];
        if let Some(v) = verifier {
            fields.push(("code_verifier".to_string(), v.to_string()));
        }
        let raw = token_raw(ctx, &ctx.basic, fields).await?;
        if verifier.is_none() && raw.status == 400 {
            let body = raw.json().unwrap_or_default();
            let e = body
                .get("error")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            ensure!(
                e == "invalid_grant" || e == "invalid_request",
                "redeeming with {what}: error {e}, expected invalid_grant"
            );
            continue;
        }
        check_token_error(&raw, "invalid_grant")
            .with_context(|| format!("redeeming with {what}"))?;
    }
    pass("S256 flow succeeded; wrong and missing code_verifier refused")
}
