//! The building blocks the modules share: build an authorization request with
//! `openidconnect`, run it in a browser, check the authorization response (success or error),
//! redeem the code, verify the ID token, call userinfo; and the raw token-endpoint calls for
//! the negative checks.

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreGenderClaim, CoreIdToken, CoreIdTokenClaims, CoreTokenResponse,
    CoreTokenType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, CsrfToken, EmptyAdditionalClaims,
    IdTokenVerifier, JsonWebKey, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use url::Url;

use crate::browser::{AuthEnd, Browser, Interact, Nav, Trace};
use crate::ctx::{ClientAuth, Ctx, Rp, error_chain};
use crate::http::{Raw, basic_auth, snippet};

/// Allowed clock skew for `iat` and `auth_time` in the future.
const SKEW_SECS: i64 = 300;

/// Warnings collected by a module; they do not fail it.
#[derive(Debug, Default)]
pub struct Notes {
    pub warnings: Vec<String>,
}

impl Notes {
    pub fn warn(&mut self, msg: impl Into<String>) {
        self.warnings.push(msg.into());
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The default of response_type=code: parameters in the redirect's query.
    Query,
    /// response_mode=form_post.
    FormPost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// An authorization request to make.
#[derive(Debug, Clone)]
pub struct AuthParams {
    /// Scopes besides `openid` (which comes first).
    pub scopes: Vec<String>,
    /// Extra parameters (prompt, max_age, display, claims, ...).
    pub extra: Vec<(String, String)>,
    /// Parameters taken out of the request after it is built.
    pub remove: Vec<String>,
    /// Parameters whose value is replaced after the request is built.
    pub replace: Vec<(String, String)>,
    pub pkce: bool,
    /// Bytes of randomness in `state` (base64url: 4/3 as many characters).
    pub state_bytes: u32,
    pub mode: Mode,
    pub method: Method,
    pub redirect_uri: Option<Url>,
    pub interact: Interact,
}

impl Default for AuthParams {
    fn default() -> Self {
        Self {
            scopes: Vec::new(),
            extra: Vec::new(),
            remove: Vec::new(),
            replace: Vec::new(),
            pkce: true,
            state_bytes: 24,
            mode: Mode::Query,
            method: Method::Get,
            redirect_uri: None,
            interact: Interact::Yes,
        }
    }
}

impl AuthParams {
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn extra(mut self, name: &str, value: &str) -> Self {
        self.extra.push((name.to_string(), value.to_string()));
        self
    }
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_string());
        self
    }
    pub fn replace(mut self, name: &str, value: &str) -> Self {
        self.replace.push((name.to_string(), value.to_string()));
        self
    }
    pub fn no_interaction(mut self) -> Self {
        self.interact = Interact::No;
        self
    }
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        if mode == Mode::FormPost {
            self.extra
                .push(("response_mode".to_string(), "form_post".to_string()));
        }
        self
    }
    /// A 128-character state, as the suite uses to catch truncation.
    pub fn long_state(mut self) -> Self {
        self.state_bytes = 96;
        self
    }
}

/// A built authorization request.
pub struct Prepared {
    pub url: Url,
    pub state: String,
    pub nonce: Nonce,
    pub nonce_sent: bool,
    pub pkce_verifier: Option<String>,
    pub redirect_uri: Url,
    pub method: Method,
    pub mode: Mode,
    pub interact: Interact,
}

impl Prepared {
    pub fn nav(&self) -> Nav {
        match self.method {
            Method::Get => Nav::Get(self.url.clone()),
            Method::Post => {
                let mut endpoint = self.url.clone();
                let fields = crate::http::query_pairs(&self.url);
                endpoint.set_query(None);
                Nav::Post(endpoint, fields)
            }
        }
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// Build the request with `openidconnect`.
pub fn prepare(ctx: &Ctx, rp: &Rp, p: &AuthParams) -> Prepared {
    let state_bytes = p.state_bytes;
    let mut req = rp.client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        move || CsrfToken::new_random_len(state_bytes),
        Nonce::new_random,
    );
    for s in &p.scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    let mut verifier = None;
    if p.pkce {
        let (challenge, v) = PkceCodeChallenge::new_random_sha256();
        req = req.set_pkce_challenge(challenge);
        verifier = Some(v.secret().clone());
    }
    for (k, v) in &p.extra {
        req = req.add_extra_param(k.clone(), v.clone());
    }
    let redirect_uri = p
        .redirect_uri
        .clone()
        .unwrap_or_else(|| ctx.redirect_uri.clone());
    if p.redirect_uri.is_some() {
        req = req.set_redirect_uri(Cow::Owned(RedirectUrl::from_url(redirect_uri.clone())));
    }
    let (mut url, state, nonce) = req.url();
    if !p.remove.is_empty() || !p.replace.is_empty() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !p.remove.iter().any(|r| r == k))
            .map(|(k, v)| {
                let v = p
                    .replace
                    .iter()
                    .find(|(rk, _)| rk == &k)
                    .map_or_else(|| v.into_owned(), |(_, rv)| rv.clone());
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let nonce_sent = !p.remove.iter().any(|r| r == "nonce");
    Prepared {
        url,
        state: state.secret().clone(),
        nonce,
        nonce_sent,
        pkce_verifier: verifier,
        redirect_uri,
        method: p.method,
        mode: p.mode,
        interact: p.interact,
    }
}

/// How the authorization response reached the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Query,
    Fragment,
    FormPost,
}

/// An authorization response.
#[derive(Debug, Clone)]
pub struct AuthResponse {
    pub params: Vec<(String, String)>,
    pub delivered: Delivered,
    /// The redirect's status code (None for form_post).
    pub status: Option<u16>,
}

impl AuthResponse {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn duplicates(&self) -> Vec<String> {
        let mut seen: Vec<&str> = Vec::new();
        let mut dup = Vec::new();
        for (k, _) in &self.params {
            if seen.contains(&k.as_str()) {
                dup.push(k.clone());
            } else {
                seen.push(k);
            }
        }
        dup
    }
}

/// The browser's end as an authorization response, or an error saying what happened instead.
pub fn as_response(end: &AuthEnd) -> Result<AuthResponse> {
    match end {
        AuthEnd::Redirect {
            status,
            query,
            fragment,
            ..
        } => {
            ensure!(
                query.is_empty() || fragment.is_empty(),
                "the redirect carries parameters in both the query and the fragment"
            );
            let (params, delivered) = if fragment.is_empty() {
                (query.clone(), Delivered::Query)
            } else {
                (fragment.clone(), Delivered::Fragment)
            };
            Ok(AuthResponse {
                params,
                delivered,
                status: Some(*status),
            })
        }
        AuthEnd::FormPost { params, method, .. } => {
            ensure!(
                method == "post",
                "the form_post page's form uses method {method:?}, not post"
            );
            Ok(AuthResponse {
                params: params.clone(),
                delivered: Delivered::FormPost,
                status: None,
            })
        }
        other => bail!(
            "expected a response at the redirect URI, got {}",
            other.describe()
        ),
    }
}

/// Run the request in the browser.
pub async fn run(browser: &Browser, req: &Prepared, trace: &mut Trace) -> Result<AuthEnd> {
    browser
        .authorize(
            req.nav(),
            std::slice::from_ref(&req.redirect_uri),
            req.interact,
            trace,
        )
        .await
}

/// What the `iss` authorization-response parameter must be (RFC 9207).
pub struct IssRule<'a> {
    pub issuer: &'a str,
    /// Discovery says `authorization_response_iss_parameter_supported`.
    pub required: bool,
}

impl<'a> IssRule<'a> {
    pub fn of(ctx: &'a Ctx) -> Self {
        Self {
            issuer: &ctx.args.issuer,
            required: ctx.meta_bool("authorization_response_iss_parameter_supported") == Some(true),
        }
    }
}

/// Checks common to success and error responses: delivery mode, status, duplicates, `iss`.
fn check_envelope(iss_rule: &IssRule<'_>, req: &Prepared, resp: &AuthResponse) -> Result<()> {
    let expected = match req.mode {
        Mode::Query => Delivered::Query,
        Mode::FormPost => Delivered::FormPost,
    };
    ensure!(
        resp.delivered == expected,
        "the response was delivered by {:?}, expected {:?}",
        resp.delivered,
        expected
    );
    if let Some(status) = resp.status {
        ensure!(
            status == 302 || status == 303,
            "the response was delivered by an HTTP {status} redirect; expected 302 or 303"
        );
    }
    let dup = resp.duplicates();
    ensure!(
        dup.is_empty(),
        "parameters repeated in the response: {dup:?}"
    );
    match resp.get("iss") {
        Some(iss) => ensure!(
            iss == iss_rule.issuer,
            "iss in the authorization response is {iss:?}, the issuer is {:?} (RFC 9207)",
            iss_rule.issuer
        ),
        None => ensure!(
            !iss_rule.required,
            "no iss in the authorization response although discovery says \
             authorization_response_iss_parameter_supported (RFC 9207)"
        ),
    }
    Ok(())
}

/// A successful authorization response: returns the code.
pub fn check_success(ctx: &Ctx, req: &Prepared, resp: &AuthResponse) -> Result<String> {
    success_with(&IssRule::of(ctx), req, resp)
}

fn success_with(iss_rule: &IssRule<'_>, req: &Prepared, resp: &AuthResponse) -> Result<String> {
    if let Some(err) = resp.get("error") {
        bail!(
            "the authorization failed: error={err} error_description={:?}",
            resp.get("error_description").unwrap_or_default()
        );
    }
    check_envelope(iss_rule, req, resp)?;
    match resp.get("state") {
        Some(s) => ensure!(
            s == req.state,
            "state not echoed intact: sent {} characters, got {:?}",
            req.state.len(),
            s
        ),
        None => bail!("no state in the authorization response"),
    }
    let code = resp
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| anyhow!("no code in the authorization response"))?;
    Ok(code.to_string())
}

/// An error authorization response whose `error` is one of `expected`; the generic checks of
/// the suite's `performGenericAuthorizationEndpointErrorResponseValidation`.
pub fn check_error(
    ctx: &Ctx,
    req: &Prepared,
    resp: &AuthResponse,
    expected: &[&str],
    notes: &mut Notes,
) -> Result<String> {
    error_with(&IssRule::of(ctx), req, resp, expected, notes)
}

fn error_with(
    iss_rule: &IssRule<'_>,
    req: &Prepared,
    resp: &AuthResponse,
    expected: &[&str],
    notes: &mut Notes,
) -> Result<String> {
    let Some(error) = resp.get("error") else {
        if resp.get("code").is_some() {
            bail!(
                "the authorization succeeded (a code was returned), expected error {}",
                expected.join(" or ")
            );
        }
        bail!("the response has no error parameter: {:?}", resp.params);
    };
    check_envelope(iss_rule, req, resp)?;
    match resp.get("state") {
        Some(s) => ensure!(
            s == req.state,
            "state not echoed intact in the error response: sent {} characters, got {:?}",
            req.state.len(),
            s
        ),
        None => bail!("no state in the error response (RFC 6749 §4.1.2.1)"),
    }
    ensure!(
        resp.get("code").is_none(),
        "the error response also carries a code"
    );
    ensure!(
        error_code_valid(error),
        "error {error:?} has characters outside %x20-21 / %x23-5B / %x5D-7E"
    );
    if let Some(d) = resp.get("error_description") {
        ensure!(
            error_code_valid(d),
            "error_description has characters outside %x20-21 / %x23-5B / %x5D-7E: {d:?}"
        );
    }
    if let Some(u) = resp.get("error_uri") {
        ensure!(Url::parse(u).is_ok(), "error_uri {u:?} is not a URI");
    }
    let known = [
        "error",
        "error_description",
        "error_uri",
        "state",
        "iss",
        "session_state",
    ];
    let unexpected: Vec<&str> = resp
        .params
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !known.contains(k))
        .collect();
    if !unexpected.is_empty() {
        notes.warn(format!(
            "unexpected parameters in the error response: {unexpected:?}"
        ));
    }
    ensure!(
        expected.contains(&error),
        "error={error} ({:?}), expected {}",
        resp.get("error_description").unwrap_or_default(),
        expected.join(" or ")
    );
    Ok(error.to_string())
}

/// RFC 6749's character set for `error` and `error_description`.
pub fn error_code_valid(s: &str) -> bool {
    s.chars().all(|c| {
        let c = c as u32;
        (0x20..=0x21).contains(&c) || (0x23..=0x5B).contains(&c) || (0x5D..=0x7E).contains(&c)
    })
}

/// Tokens from the token endpoint, checked.
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<CoreIdToken>,
}

fn describe_token_error<RE: std::error::Error + 'static>(
    e: &RequestTokenError<
        RE,
        openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    >,
) -> String {
    match e {
        RequestTokenError::ServerResponse(r) => format!(
            "token endpoint error {} ({:?})",
            r.error(),
            r.error_description().cloned().unwrap_or_default()
        ),
        RequestTokenError::Parse(err, body) => format!(
            "token response not understood: {err}: {}",
            snippet(&String::from_utf8_lossy(body))
        ),
        other => format!("token request failed: {}", error_chain(other)),
    }
}

/// Checks on the last token-endpoint response's status and headers.
fn check_token_http(ctx: &Ctx) -> Result<()> {
    let seen = ctx
        .http
        .last()
        .ok_or_else(|| anyhow!("no token response recorded"))?;
    ensure!(
        seen.status == 200,
        "token endpoint answered HTTP {}",
        seen.status
    );
    let mt = crate::http::media_type(&seen.headers);
    ensure!(
        mt == "application/json",
        "token response Content-Type is {mt:?}, expected application/json (RFC 6749 §5.1)"
    );
    let cc = crate::http::header(&seen.headers, "cache-control")
        .unwrap_or_default()
        .to_ascii_lowercase();
    ensure!(
        cc.contains("no-store"),
        "token response lacks Cache-Control: no-store (RFC 6749 §5.1), got {cc:?}"
    );
    Ok(())
}

/// Checks of a successful token response body (code or refresh grant).
fn check_token_body(resp: &CoreTokenResponse) -> Result<()> {
    ensure!(
        *resp.token_type() == CoreTokenType::Bearer,
        "token_type is {:?}, expected Bearer",
        resp.token_type()
    );
    let at = resp.access_token().secret();
    ensure!(!at.is_empty(), "empty access_token");
    ensure!(
        at.chars().all(|c| (' '..='~').contains(&c)),
        "access_token has characters outside VSCHAR (RFC 6749 A.12)"
    );
    let bits = entropy_bits(at);
    ensure!(
        bits >= 128.0,
        "access_token carries about {bits:.0} bits of entropy, less than 128"
    );
    if let Some(exp) = resp.expires_in() {
        ensure!(
            exp.as_secs() > 0,
            "expires_in is {} (must be positive)",
            exp.as_secs()
        );
    }
    if let Some(rt) = resp.refresh_token() {
        ensure!(
            !rt.secret().is_empty() && rt.secret().chars().all(|c| (' '..='~').contains(&c)),
            "refresh_token empty or with characters outside VSCHAR (RFC 6749 A.17)"
        );
        let bits = entropy_bits(rt.secret());
        ensure!(
            bits >= 128.0,
            "refresh_token carries about {bits:.0} bits of entropy, less than 128 (RFC 6749 §10.10)"
        );
    }
    Ok(())
}

/// An estimate of a token's entropy as the suite makes it: the Shannon entropy of its
/// characters times its length.
pub fn entropy_bits(s: &str) -> f64 {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut counts: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_default() += 1;
    }
    let n = chars.len() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// Redeem a code through `openidconnect`.
pub async fn redeem(ctx: &Ctx, rp: &Rp, code: &str, verifier: Option<&str>) -> Result<Tokens> {
    let mut req = rp
        .client
        .exchange_code(AuthorizationCode::new(code.to_string()));
    if let Some(v) = verifier {
        req = req.set_pkce_verifier(PkceCodeVerifier::new(v.to_string()));
    }
    let response = req
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!(describe_token_error(&e)))?;
    check_token_http(ctx)?;
    check_token_body(&response)?;
    Ok(Tokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|r| r.secret().clone()),
        id_token: response.id_token().cloned(),
    })
}

/// Use a refresh token through `openidconnect`.
pub async fn refresh(ctx: &Ctx, rp: &Rp, refresh_token: &str, scopes: &[&str]) -> Result<Tokens> {
    let rt = openidconnect::RefreshToken::new(refresh_token.to_string());
    let mut req = rp.client.exchange_refresh_token(&rt);
    for s in scopes {
        req = req.add_scope(Scope::new(s.to_string()));
    }
    let response = req
        .request_async(&ctx.http)
        .await
        .map_err(|e| anyhow!(describe_token_error(&e)))?;
    check_token_http(ctx)?;
    check_token_body(&response)?;
    Ok(Tokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|r| r.secret().clone()),
        id_token: response.id_token().cloned(),
    })
}

/// A raw token request with the client's authentication added.
pub async fn token_raw(ctx: &Ctx, rp: &Rp, mut fields: Vec<(String, String)>) -> Result<Raw> {
    let mut headers = vec![("accept", "application/json".to_string())];
    match rp.auth {
        ClientAuth::Basic => headers.push(("authorization", basic_auth(&rp.id, &rp.secret))),
        ClientAuth::Post => {
            fields.push(("client_id".into(), rp.id.clone()));
            fields.push(("client_secret".into(), rp.secret.clone()));
        }
    }
    ctx.http
        .post_form(&ctx.token_endpoint()?, &fields, &headers)
        .await
}

/// A token-endpoint error response (RFC 6749 §5.2) with this `error`.
pub fn check_token_error(raw: &Raw, expected: &str) -> Result<()> {
    ensure!(
        raw.status == 400,
        "token endpoint answered HTTP {} (expected 400 with error={expected}): {}",
        raw.status,
        snippet(&raw.text())
    );
    let mt = raw.media_type();
    ensure!(
        mt == "application/json",
        "token error Content-Type is {mt:?}, expected application/json"
    );
    let body = raw.json()?;
    let error = body
        .get("error")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("token error response has no error member: {body}"))?;
    ensure!(
        error_code_valid(error),
        "error {error:?} has invalid characters"
    );
    if let Some(d) = body.get("error_description") {
        let d = d
            .as_str()
            .ok_or_else(|| anyhow!("error_description is not a string"))?;
        ensure!(
            error_code_valid(d),
            "error_description has characters outside %x20-21 / %x23-5B / %x5D-7E"
        );
    }
    if let Some(u) = body.get("error_uri") {
        ensure!(
            u.as_str().is_some_and(|u| Url::parse(u).is_ok()),
            "error_uri is not a URI"
        );
    }
    ensure!(
        error == expected,
        "token endpoint error is {error} ({}), expected {expected}",
        body.get("error_description")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    );
    Ok(())
}

/// A verified ID token.
pub struct VerifiedId {
    pub token: CoreIdToken,
    pub raw: String,
    pub claims: CoreIdTokenClaims,
}

impl VerifiedId {
    pub fn sub(&self) -> &str {
        self.claims.subject().as_str()
    }
    pub fn auth_time(&self) -> Option<i64> {
        self.claims.auth_time().map(|t| t.timestamp())
    }
    pub fn iat(&self) -> i64 {
        self.claims.issue_time().timestamp()
    }
}

/// How to treat the `nonce` claim.
pub enum NonceRule<'a> {
    /// Must equal this.
    Equals(&'a Nonce),
    /// None was sent: must be absent.
    Absent,
    /// Not checked (refreshed ID tokens).
    Any,
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn jose_header(raw: &str) -> Result<serde_json::Value> {
    let first = raw
        .split('.')
        .next()
        .ok_or_else(|| anyhow!("ID token is not a JWS"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(first)
        .context("ID token header is not base64url")?;
    serde_json::from_slice(&bytes).context("ID token header is not JSON")
}

/// Verify an ID token as OIDC Core §3.1.3.7 says: signature against the JWKS (through
/// `openidconnect`'s verifier, with the algorithms discovery allows), iss, aud, azp, exp, iat,
/// nonce, and at_hash when present.
pub fn verify_id(
    ctx: &Ctx,
    rp: &Rp,
    token: &CoreIdToken,
    nonce: NonceRule<'_>,
    access_token: Option<&str>,
) -> Result<VerifiedId> {
    let raw = token.to_string();
    let header = jose_header(&raw)?;
    let alg = header
        .get("alg")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    ensure!(alg != "none", "the ID token is unsigned (alg none)");
    ensure!(
        !alg.starts_with("HS"),
        "the ID token is signed with {alg}; the suite expects an asymmetric algorithm"
    );
    match header.get("kid").and_then(|v| v.as_str()) {
        Some(kid) => ensure!(
            ctx.jwks
                .keys()
                .iter()
                .any(|k| k.key_id().map(|id| id.as_str()) == Some(kid)),
            "the ID token's kid {kid:?} is not in the JWKS"
        ),
        None => {
            ensure!(
                ctx.jwks.keys().len() == 1,
                "the ID token has no kid and the JWKS has several keys"
            );
        }
    }
    let verifier: IdTokenVerifier<'_, _> = rp.client.id_token_verifier();
    let claims = match nonce {
        NonceRule::Equals(n) => token.claims(&verifier, n),
        NonceRule::Absent => token.claims(&verifier, |n: Option<&Nonce>| match n {
            Some(_) => Err("the ID token has a nonce although none was sent".to_string()),
            None => Ok(()),
        }),
        NonceRule::Any => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
    }
    .map_err(|e| anyhow!("ID token rejected: {}", error_chain(&e)))?
    .clone();

    let sub = claims.subject().as_str();
    ensure!(
        !sub.is_empty() && sub.len() <= 255 && sub.is_ascii(),
        "sub must be 1-255 ASCII characters (OIDC Core §2), got {sub:?}"
    );
    let now = now();
    let iat = claims.issue_time().timestamp();
    ensure!(
        iat <= now + SKEW_SECS,
        "iat {iat} is in the future (now {now})"
    );
    ensure!(
        iat >= now - 3600,
        "iat {iat} is more than an hour old (now {now})"
    );
    if let Some(at) = claims.auth_time() {
        ensure!(
            at.timestamp() <= now + SKEW_SECS,
            "auth_time {} is in the future (now {now})",
            at.timestamp()
        );
    }
    if claims.audiences().len() > 1 {
        ensure!(
            claims.authorized_party().map(|a| a.as_str()) == Some(rp.id.as_str()),
            "several audiences but azp is not the client id"
        );
    }
    if let Some(azp) = claims.authorized_party() {
        ensure!(
            azp.as_str() == rp.id,
            "azp {:?} is not the client id",
            azp.as_str()
        );
    }
    if let (Some(expected_hash), Some(at)) = (claims.access_token_hash(), access_token) {
        let key = token
            .signing_key(&verifier)
            .map_err(|e| anyhow!("no signing key: {}", error_chain(&e)))?;
        let alg = token
            .signing_alg()
            .map_err(|e| anyhow!("no signing alg: {}", error_chain(&e)))?;
        let actual = AccessTokenHash::from_token(&AccessToken::new(at.to_string()), alg, key)
            .map_err(|e| anyhow!("cannot hash the access token: {e}"))?;
        ensure!(
            actual == *expected_hash,
            "at_hash does not match the access token"
        );
    }
    Ok(VerifiedId {
        token: token.clone(),
        raw,
        claims,
    })
}

/// The outcome of a whole code flow.
pub struct Flow {
    pub req: Prepared,
    pub tokens: Tokens,
    pub id: VerifiedId,
    pub trace: Trace,
}

/// Authorization request → response → token request → ID token verification.
pub async fn code_flow(ctx: &Ctx, rp: &Rp, browser: &Browser, p: &AuthParams) -> Result<Flow> {
    let req = prepare(ctx, rp, p);
    let mut trace = Trace::default();
    let end = run(browser, &req, &mut trace).await?;
    let resp = as_response(&end)?;
    let code = check_success(ctx, &req, &resp)?;
    let tokens = redeem(ctx, rp, &code, req.pkce_verifier.as_deref()).await?;
    let id_token = tokens
        .id_token
        .clone()
        .ok_or_else(|| anyhow!("no id_token in the token response to an openid request"))?;
    let nonce = if req.nonce_sent {
        NonceRule::Equals(&req.nonce)
    } else {
        NonceRule::Absent
    };
    let id = verify_id(ctx, rp, &id_token, nonce, Some(&tokens.access_token))?;
    Ok(Flow {
        req,
        tokens,
        id,
        trace,
    })
}

/// How to present the access token to userinfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserinfoCall {
    Get,
    PostHeader,
    PostBody,
}

/// Call userinfo; check 200, JSON, the claim types (parsing into `openidconnect`'s claims) and
/// that `sub` is the ID token's. Returns the claims as JSON.
pub async fn userinfo(
    ctx: &Ctx,
    access_token: &str,
    how: UserinfoCall,
    expected_sub: &str,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let url = ctx.userinfo_endpoint()?;
    let raw = match how {
        UserinfoCall::Get => ctx.http.get(&url, Some(access_token)).await?,
        UserinfoCall::PostHeader => {
            ctx.http
                .post_form(
                    &url,
                    &[],
                    &[("authorization", format!("Bearer {access_token}"))],
                )
                .await?
        }
        UserinfoCall::PostBody => {
            ctx.http
                .post_form(
                    &url,
                    &[("access_token".to_string(), access_token.to_string())],
                    &[],
                )
                .await?
        }
    };
    ensure!(
        raw.status == 200,
        "userinfo ({how:?}) answered HTTP {}: {} {}",
        raw.status,
        raw.header("www-authenticate").unwrap_or_default(),
        snippet(&raw.text())
    );
    let mt = raw.media_type();
    ensure!(
        mt == "application/json",
        "userinfo Content-Type is {mt:?}, expected application/json"
    );
    let sub = SubjectIdentifier::new(expected_sub.to_string());
    let _typed: CoreUserInfoClaims =
        UserInfoClaims::<EmptyAdditionalClaims, CoreGenderClaim>::from_json::<std::io::Error>(
            &raw.body,
            Some(&sub),
        )
        .map_err(|e| anyhow!("userinfo claims invalid: {}", error_chain(&e)))?;
    let json = raw.json()?;
    let obj = json
        .as_object()
        .cloned()
        .ok_or_else(|| anyhow!("userinfo is not a JSON object"))?;
    if let Some(u) = obj.get("updated_at") {
        ensure!(
            u.is_i64() || u.is_u64(),
            "updated_at must be a number of seconds (OIDC Core §5.1), got {u}"
        );
    }
    if let Some(b) = obj.get("birthdate") {
        let s = b.as_str().unwrap_or_default();
        ensure!(
            valid_birthdate(s),
            "birthdate must be YYYY, YYYY-MM-DD or 0000-MM-DD, got {b}"
        );
    }
    Ok(obj)
}

fn valid_birthdate(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let digits = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_digit());
    match parts.as_slice() {
        [y] => digits(y, 4),
        [y, m, d] => digits(y, 4) && digits(m, 2) && digits(d, 2),
        _ => false,
    }
}

/// Userinfo must refuse the token: 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
pub async fn expect_userinfo_rejects(ctx: &Ctx, access_token: &str) -> Result<()> {
    let raw = ctx
        .http
        .get(&ctx.userinfo_endpoint()?, Some(access_token))
        .await?;
    ensure!(
        raw.status == 401,
        "userinfo accepted a token that should be revoked (HTTP {})",
        raw.status
    );
    let www = raw.header("www-authenticate").unwrap_or_default();
    ensure!(
        www.to_ascii_lowercase().starts_with("bearer"),
        "401 without a Bearer WWW-Authenticate challenge (RFC 6750 §3), got {www:?}"
    );
    ensure!(
        www.contains("error=\"invalid_token\""),
        "WWW-Authenticate lacks error=\"invalid_token\" (RFC 6750 §3.1), got {www:?}"
    );
    Ok(())
}

/// Which claims each scope asks for (OIDC Core §5.4).
pub fn scope_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

/// The suite's `VerifyScopesReturnedInUserInfoClaims`, a warning: each requested scope should
/// yield at least one of its claims.
pub fn warn_missing_scope_claims(
    scopes: &[&str],
    claims: &serde_json::Map<String, serde_json::Value>,
    notes: &mut Notes,
) {
    for s in scopes {
        let wanted = scope_claims(s);
        if !wanted.is_empty() && !wanted.iter().any(|c| claims.contains_key(*c)) {
            notes.warn(format!("no {s} claims in userinfo"));
        }
    }
}

/// Compare two ID tokens of the same session: same sub, and same auth_time when both have it.
pub fn same_auth(first: &VerifiedId, second: &VerifiedId) -> Result<()> {
    ensure!(
        first.sub() == second.sub(),
        "sub changed between the two authorizations: {} then {}",
        first.sub(),
        second.sub()
    );
    if let (Some(a), Some(b)) = (first.auth_time(), second.auth_time()) {
        ensure!(
            a == b,
            "auth_time changed ({a} then {b}) although the user did not sign in again"
        );
    }
    Ok(())
}

/// An unsigned JWT (alg none) carrying these claims.
pub fn unsigned_jwt(claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// The same JWT with its header changed to alg none and the signature dropped (the suite's
/// `ChangeIdTokenToAlgNone`).
pub fn to_alg_none(jwt: &str) -> Result<String> {
    let mut parts = jwt.split('.');
    let header = parts.next().ok_or_else(|| anyhow!("not a JWT"))?;
    let payload = parts.next().ok_or_else(|| anyhow!("not a JWT"))?;
    let mut h: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header)?)?;
    if let Some(obj) = h.as_object_mut() {
        obj.insert("alg".into(), serde_json::Value::String("none".into()));
        obj.remove("kid");
    }
    Ok(format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        payload
    ))
}

/// The same JWT with its signature altered (every byte of the signature flipped).
pub fn tamper_signature(jwt: &str) -> Result<String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    ensure!(parts.len() == 3, "not a JWS compact serialization");
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2])?;
    ensure!(!sig.is_empty(), "the JWT has no signature");
    for b in &mut sig {
        *b ^= 0x5a;
    }
    Ok(format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        URL_SAFE_NO_PAD.encode(sig)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: IssRule<'static> = IssRule {
        issuer: "https://op.example/t/x",
        required: true,
    };

    fn prepared(mode: Mode) -> Prepared {
        Prepared {
            url: Url::parse("https://op.example/t/x/oauth2/authorize?state=s1").unwrap(),
            state: "s1".into(),
            nonce: Nonce::new("n".into()),
            nonce_sent: true,
            pkce_verifier: None,
            redirect_uri: Url::parse("https://rp.example/cb").unwrap(),
            method: Method::Get,
            mode,
            interact: Interact::Yes,
        }
    }

    fn response(pairs: &[(&str, &str)]) -> AuthResponse {
        AuthResponse {
            params: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            delivered: Delivered::Query,
            status: Some(302),
        }
    }

    const GOOD: &[(&str, &str)] = &[
        ("code", "c1"),
        ("state", "s1"),
        ("iss", "https://op.example/t/x"),
    ];

    #[test]
    fn success_accepts_a_good_response() {
        let req = prepared(Mode::Query);
        assert_eq!(success_with(&ISS, &req, &response(GOOD)).unwrap(), "c1");
        let mut r = response(GOOD);
        r.status = Some(303);
        assert!(success_with(&ISS, &req, &r).is_ok());
    }

    #[test]
    fn success_catches_bad_responses() {
        let req = prepared(Mode::Query);
        let bad: Vec<(&str, AuthResponse)> = vec![
            (
                "state changed",
                response(&[("code", "c1"), ("state", "s"), ("iss", ISS.issuer)]),
            ),
            (
                "state missing",
                response(&[("code", "c1"), ("iss", ISS.issuer)]),
            ),
            (
                "iss wrong",
                response(&[
                    ("code", "c1"),
                    ("state", "s1"),
                    ("iss", "https://op.example"),
                ]),
            ),
            (
                "iss missing although advertised",
                response(&[("code", "c1"), ("state", "s1")]),
            ),
            ("no code", response(&[("state", "s1"), ("iss", ISS.issuer)])),
            (
                "error",
                response(&[
                    ("error", "access_denied"),
                    ("state", "s1"),
                    ("iss", ISS.issuer),
                ]),
            ),
            (
                "repeated code",
                response(&[
                    ("code", "c1"),
                    ("code", "c2"),
                    ("state", "s1"),
                    ("iss", ISS.issuer),
                ]),
            ),
            ("307", {
                let mut r = response(GOOD);
                r.status = Some(307);
                r
            }),
            ("fragment", {
                let mut r = response(GOOD);
                r.delivered = Delivered::Fragment;
                r
            }),
        ];
        for (what, r) in bad {
            assert!(success_with(&ISS, &req, &r).is_err(), "{what} was accepted");
        }
        // form_post expected, query given
        assert!(success_with(&ISS, &prepared(Mode::FormPost), &response(GOOD)).is_err());
        // iss optional when not advertised
        let lax = IssRule {
            issuer: ISS.issuer,
            required: false,
        };
        assert!(success_with(&lax, &req, &response(&[("code", "c1"), ("state", "s1")])).is_ok());
    }

    #[test]
    fn error_checks() {
        let req = prepared(Mode::Query);
        let mut notes = Notes::default();
        let ok = response(&[
            ("error", "login_required"),
            ("error_description", "not signed in"),
            ("state", "s1"),
            ("iss", ISS.issuer),
        ]);
        assert_eq!(
            error_with(&ISS, &req, &ok, &["login_required"], &mut notes).unwrap(),
            "login_required"
        );
        assert!(notes.warnings.is_empty());
        assert!(error_with(&ISS, &req, &ok, &["consent_required"], &mut notes).is_err());
        let bad = [
            response(&[("error", "login_required"), ("iss", ISS.issuer)]),
            response(&[
                ("error", "login_required"),
                ("state", "x"),
                ("iss", ISS.issuer),
            ]),
            response(&[
                ("error", "login_required"),
                ("code", "c"),
                ("state", "s1"),
                ("iss", ISS.issuer),
            ]),
            response(&[
                ("error", "login_required"),
                ("error_description", "bad \"quote\""),
                ("state", "s1"),
                ("iss", ISS.issuer),
            ]),
            response(GOOD),
        ];
        for r in &bad {
            assert!(
                error_with(&ISS, &req, r, &["login_required"], &mut notes).is_err(),
                "{r:?} was accepted"
            );
        }
        let extra = response(&[
            ("error", "login_required"),
            ("state", "s1"),
            ("iss", ISS.issuer),
            ("foo", "bar"),
        ]);
        assert!(error_with(&ISS, &req, &extra, &["login_required"], &mut notes).is_ok());
        assert_eq!(notes.warnings.len(), 1);
    }

    fn raw(status: u16, content_type: &str, body: &str) -> Raw {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_str(content_type).unwrap(),
        );
        Raw {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn token_errors() {
        let grant = r#"{"error":"invalid_grant","error_description":"used"}"#;
        assert!(check_token_error(&raw(400, "application/json", grant), "invalid_grant").is_ok());
        assert!(
            check_token_error(
                &raw(400, "application/json; charset=utf-8", grant),
                "invalid_grant"
            )
            .is_ok()
        );
        assert!(check_token_error(&raw(401, "application/json", grant), "invalid_grant").is_err());
        assert!(check_token_error(&raw(400, "text/html", grant), "invalid_grant").is_err());
        assert!(check_token_error(&raw(200, "application/json", "{}"), "invalid_grant").is_err());
        assert!(
            check_token_error(
                &raw(400, "application/json", r#"{"error":"invalid_request"}"#),
                "invalid_grant"
            )
            .is_err()
        );
    }

    #[test]
    fn entropy() {
        assert!(entropy_bits("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") < 1.0);
        assert!(entropy_bits("2YotnFZFEjr1zCsicMWpAA") < 128.0);
        assert!(entropy_bits("Xq3vR8kLp2Zt7yBn4WcE9hJd6FgA1sMu5oKiT0rYxVb") >= 128.0);
    }

    #[test]
    fn error_charset() {
        assert!(error_code_valid("invalid_grant"));
        assert!(error_code_valid("The code was already used."));
        assert!(!error_code_valid("bad \"quote\""));
        assert!(!error_code_valid("back\\slash"));
        assert!(!error_code_valid("new\nline"));
    }

    #[test]
    fn birthdates() {
        assert!(valid_birthdate("1999"));
        assert!(valid_birthdate("0000-02-29"));
        assert!(!valid_birthdate("99-1-1"));
    }

    #[test]
    fn alg_none_and_tampering() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        let s = URL_SAFE_NO_PAD.encode([1u8, 2, 3]);
        let jwt = format!("{h}.{p}.{s}");
        let none = to_alg_none(&jwt).unwrap();
        assert!(none.ends_with('.'));
        let hdr: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(none.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(hdr["alg"], "none");
        let t = tamper_signature(&jwt).unwrap();
        assert_ne!(t, jwt);
        assert!(t.starts_with(&format!("{h}.{p}.")));
    }
}
