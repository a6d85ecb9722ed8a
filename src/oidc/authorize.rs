//! The authorization endpoint (RFC 6749 §4.1, OpenID Connect Core §3.1.2), GET and POST, and
//! the consent form it shows.
//!
//! An unknown client or a redirect URI that is not registered (exact match) gets the HTML
//! error page: nothing is ever sent to an unchecked URI. Every later error goes back to the
//! client as `error`, `error_description`, `state` and `iss` in the chosen response mode.
//!
//! Sending the browser to the sign-in page keeps the whole request in `return_to`, plus a
//! `plinto_auth_after` mark (milliseconds, MAC'd for this tenant and client, valid for ten
//! minutes): a session that started after the mark satisfies `prompt=login` and `max_age`, so
//! the browser does not loop. A forged or stale mark is ignored. If the user who signed in
//! after the mark is not the one a requested `sub` or `id_token_hint` names, the request is
//! refused with `login_required`: Plinto never answers for another user.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use entity::{client, session, tenant, user};
use url::Url;

use super::claims;
use super::tokens;
use crate::clients;
use crate::crypto;
use crate::grants::{self, NewCode};
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path};
use crate::state::AppState;
use crate::ui::{self, CsrfToken, UiError, UiResult};

/// The internal mark that a fresh sign-in was asked for (see the module docs).
const AUTH_AFTER: &str = "plinto_auth_after";
/// How long a mark stays valid.
const AUTH_AFTER_MAX_AGE_MS: i64 = 10 * 60 * 1000;

fn mark_mac(state: &AppState, tenant: &tenant::Model, client_id: &str, ms: i64) -> String {
    state
        .keys
        .csrf
        .mac_b64(format!("auth-after|{}|{client_id}|{ms}", tenant.id).as_bytes())
}

/// A new mark: sign-in must happen after now.
fn new_mark(state: &AppState, tenant: &tenant::Model, client_id: &str) -> String {
    let ms = state.now().timestamp_millis();
    format!("{ms}.{}", mark_mac(state, tenant, client_id, ms))
}

/// The time of a genuine, fresh mark.
fn check_mark(state: &AppState, tenant: &tenant::Model, client_id: &str, raw: &str) -> Option<i64> {
    let (ms, mac) = raw.split_once('.')?;
    let ms: i64 = ms.parse().ok()?;
    let now = state.now().timestamp_millis();
    let fresh = ms <= now + 1000 && now.saturating_sub(ms) <= AUTH_AFTER_MAX_AGE_MS;
    let genuine = crypto::ct_eq(
        mac.as_bytes(),
        mark_mac(state, tenant, client_id, ms).as_bytes(),
    );
    (fresh && genuine).then_some(ms)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// A checked authorization request.
pub struct AuthRequest {
    params: Vec<(String, String)>,
    client: client::Model,
    redirect_uri: String,
    /// Sent in the request (then the token request must repeat it, RFC 6749 §4.1.3).
    redirect_uri_given: bool,
    mode: ResponseMode,
    state: Option<String>,
    nonce: Option<String>,
    scopes: Vec<String>,
    /// `scopes` and the scopes of claims asked for by name: what the user consents to (a
    /// claim asked for by name is released alone, without the rest of its scope).
    consent_scopes: Vec<String>,
    prompt: Vec<String>,
    max_age: Option<i64>,
    hint_sub: Option<String>,
    login_hint: Option<String>,
    code_challenge: Option<String>,
    claims: Option<String>,
    auth_after_ms: Option<i64>,
    auth_after_raw: Option<String>,
    /// `acr_values` or an essential `acr` claim asks for a second factor.
    require_mfa: bool,
}

/// Where an error goes: to the client (redirect) once its redirect URI is trusted, else to
/// the user as a page.
pub enum Rejection {
    Page(UiError),
    Client {
        redirect_uri: String,
        mode: ResponseMode,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

impl From<UiError> for Rejection {
    fn from(e: UiError) -> Self {
        Rejection::Page(e)
    }
}

impl From<crate::error::DomainError> for Rejection {
    fn from(e: crate::error::DomainError) -> Self {
        Rejection::Page(e.into())
    }
}

fn page_error(message: &str) -> Rejection {
    Rejection::Page(UiError::BadRequest(message.to_string()))
}

/// Exact string match, except that a registered loopback IP redirect URI (`http://127.0.0.1`
/// or `http://[::1]`) accepts any port (RFC 8252 §7.3): native apps listen on a free port.
pub fn redirect_matches(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let (Ok(r), Ok(g)) = (Url::parse(registered), Url::parse(given)) else {
        return false;
    };
    let loopback_ip =
        r.scheme() == "http" && matches!(r.host_str(), Some("127.0.0.1") | Some("[::1]"));
    loopback_ip
        && g.scheme() == "http"
        && g.host_str() == r.host_str()
        && g.path() == r.path()
        && g.query() == r.query()
        && g.fragment().is_none()
        && g.username().is_empty()
        && g.password().is_none()
}

fn is_pkce_verifier_charset(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Check the request's parameters against the client's registration.
pub async fn parse(
    state: &AppState,
    tenant: &tenant::Model,
    form: &Form,
) -> Result<AuthRequest, Rejection> {
    let Some(client_id) = form.opt("client_id") else {
        return Err(page_error("The request has no client_id."));
    };
    let Some(client) = state.client(tenant.id, client_id).await? else {
        return Err(page_error(
            "The application that sent you here is not registered with this sign-in service.",
        ));
    };
    let registered = clients::list(&client.redirect_uris);
    let scope_param = form.text("scope");
    let redirect_uri_given = form.opt("redirect_uri").is_some();
    let redirect_uri = match form.opt("redirect_uri") {
        Some(uri) if registered.iter().any(|r| redirect_matches(r, uri)) => uri.to_string(),
        Some(_) => {
            return Err(page_error(
                "The application sent you here with a return address it has not registered.",
            ));
        }
        None if registered.len() == 1 && !scope_param.split(' ').any(|s| s == "openid") => {
            registered[0].clone()
        }
        None => return Err(page_error("The request has no redirect_uri.")),
    };
    if matches!(form.repeated(), Some("client_id" | "redirect_uri")) {
        return Err(page_error("The request repeats a parameter."));
    }
    let st = form.opt("state").map(str::to_string);
    let (mode, mode_error) = match form.opt("response_mode") {
        None | Some("query") => (ResponseMode::Query, None),
        Some("fragment") => (ResponseMode::Fragment, None),
        Some("form_post") => (ResponseMode::FormPost, None),
        Some(_) => (ResponseMode::Query, Some("unsupported response_mode")),
    };
    let reject = |error: &'static str, description: &str| Rejection::Client {
        redirect_uri: redirect_uri.clone(),
        mode,
        state: st.clone(),
        error,
        description: description.to_string(),
    };
    if let Some(d) = mode_error {
        return Err(reject("invalid_request", d));
    }
    if let Some(p) = form.repeated() {
        return Err(reject(
            "invalid_request",
            &format!("the parameter {p} is repeated"),
        ));
    }
    if form.opt("request").is_some() {
        return Err(reject(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if form.opt("request_uri").is_some() {
        return Err(reject(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match form.opt("response_type") {
        None => return Err(reject("invalid_request", "response_type is missing")),
        Some("code") => {}
        Some(_) => {
            return Err(reject(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    let grant_types = clients::list(&client.grant_types);
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(reject(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    let allowed = clients::list(&client.scopes);
    let refresh_allowed = grant_types.iter().any(|g| g == "refresh_token");
    let mut scopes: Vec<String> = Vec::new();
    for s in scope_param.split(' ').filter(|s| !s.is_empty()) {
        let usable = allowed.iter().any(|a| a == s) && (s != "offline_access" || refresh_allowed);
        if usable && !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    if scopes.is_empty() {
        return Err(reject(
            "invalid_scope",
            "none of the requested scopes is available to this client",
        ));
    }
    let challenge = form.opt("code_challenge");
    match (challenge, form.opt("code_challenge_method")) {
        (Some(_), Some("S256")) => {}
        (Some(_), _) => {
            return Err(reject(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        (None, Some(_)) => {
            return Err(reject(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ));
        }
        (None, None) if client.auth_method == "none" => {
            return Err(reject(
                "invalid_request",
                "PKCE (code_challenge with S256) is required for public clients",
            ));
        }
        (None, None) => {}
    }
    if let Some(c) = challenge
        && (c.len() != 43 || !is_pkce_verifier_charset(c))
    {
        return Err(reject(
            "invalid_request",
            "code_challenge must be a base64url SHA-256 digest (43 characters)",
        ));
    }
    let prompt: Vec<String> = form
        .text("prompt")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(reject(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match form.opt("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => {
                return Err(reject(
                    "invalid_request",
                    "max_age must be a non-negative integer",
                ));
            }
        },
    };
    let mut consent_scopes = scopes.clone();
    let (claims, claims_sub) = match form.opt("claims") {
        None => (None, None),
        Some(raw) => match claims::parse_request(raw) {
            Ok(v) => {
                // Claims asked for by name need the user's consent to their scope; the
                // client gets only those it may have.
                let v = claims::allowed_request(&v, &allowed);
                for scope in claims::implied_scopes(&v) {
                    if !consent_scopes.iter().any(|s| s == scope) {
                        consent_scopes.push(scope.to_string());
                    }
                }
                let sub = claims::required_sub(&v).map(str::to_string);
                (Some(v.to_string()), sub)
            }
            Err(d) => return Err(reject("invalid_request", &d)),
        },
    };
    let hint_sub = match form.opt("id_token_hint") {
        None => claims_sub,
        Some(hint) => match tokens::check_id_token_hint(state, tenant, hint).await? {
            Some(c) => c.get("sub").and_then(|s| s.as_str()).map(str::to_string),
            None => {
                return Err(reject(
                    "invalid_request",
                    "id_token_hint is not an ID token of this issuer",
                ));
            }
        },
    };
    let auth_after_ms = form
        .opt(AUTH_AFTER)
        .and_then(|raw| check_mark(state, tenant, &client.client_id, raw));
    Ok(AuthRequest {
        params: form
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        client,
        redirect_uri,
        redirect_uri_given,
        mode,
        state: st,
        nonce: form.opt("nonce").map(str::to_string),
        scopes,
        consent_scopes,
        prompt,
        max_age,
        hint_sub,
        login_hint: form.opt("login_hint").map(str::to_string),
        code_challenge: challenge.map(str::to_string),
        claims,
        auth_after_ms,
        auth_after_raw: auth_after_ms.and(form.opt(AUTH_AFTER).map(str::to_string)),
        require_mfa: wants_mfa(form.opt("acr_values"), form.opt("claims")),
    })
}

/// Whether the request asks for the multi-factor level: `acr_values` lists it (OpenID
/// Connect Core §3.1.2.1; Plinto honours the preference when it can, and it always can by
/// asking for the second factor), or the `claims` request asks for it as an essential `acr`
/// (§5.5.1.1).
fn wants_mfa(acr_values: Option<&str>, claims_raw: Option<&str>) -> bool {
    let listed = acr_values.is_some_and(|v| v.split(' ').any(|a| a == crate::mfa::ACR_MFA));
    let essential = claims_raw
        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
        .and_then(|v| v.get("id_token")?.get("acr").cloned())
        .is_some_and(|acr| {
            let wanted = |x: &serde_json::Value| x.as_str() == Some(crate::mfa::ACR_MFA);
            acr.get("value").is_some_and(wanted)
                || acr
                    .get("values")
                    .and_then(|v| v.as_array())
                    .is_some_and(|vs| vs.iter().any(wanted))
        });
    listed || essential
}

impl AuthRequest {
    fn has_prompt(&self, p: &str) -> bool {
        self.prompt.iter().any(|x| x == p)
    }

    fn reject(&self, error: &'static str, description: &str) -> Rejection {
        Rejection::Client {
            redirect_uri: self.redirect_uri.clone(),
            mode: self.mode,
            state: self.state.clone(),
            error,
            description: description.to_string(),
        }
    }

    /// The request as a query string, with a fresh `plinto_auth_after` mark when given.
    fn query(&self, new_mark: Option<String>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        let mut params: Vec<&(String, String)> = self
            .params
            .iter()
            .filter(|(k, _)| k != AUTH_AFTER)
            .collect();
        params.sort();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(mark) = new_mark.as_ref().or(self.auth_after_raw.as_ref()) {
            q.append_pair(AUTH_AFTER, mark);
        }
        q.finish()
    }

    /// Whether the session began with the sign-in this request sent the browser to.
    fn signed_in_after_mark(&self, s: &session::Model) -> bool {
        self.auth_after_ms
            .is_some_and(|mark| s.created_at.timestamp_millis() >= mark)
    }

    /// Whether the request names another user than `u` (a `sub` in `claims`, or the subject
    /// of `id_token_hint`).
    fn names_other_user(&self, u: &user::Model) -> bool {
        self.hint_sub.as_deref().is_some_and(|sub| sub != u.sub)
    }

    /// The refusal when the request names another user than the one signed in: OpenID
    /// Connect Core §5.5.1 (a requested `sub`: MUST NOT answer for another user) and §3.1.2.1
    /// (`id_token_hint`: SHOULD return an error such as `login_required`).
    fn other_user_refused(&self) -> Rejection {
        self.reject(
            "login_required",
            "the signed-in user is not the user the request names",
        )
    }

    /// Whether the session is too old or otherwise not the one this request accepts.
    fn needs_fresh_login(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        s: &session::Model,
        u: &user::Model,
    ) -> bool {
        if self.signed_in_after_mark(s) {
            return false;
        }
        let too_old = self
            .max_age
            .is_some_and(|max| (now - s.created_at).num_seconds() > max);
        self.has_prompt("login")
            || self.has_prompt("select_account")
            || too_old
            || self.names_other_user(u)
            || (self.grants_admin_to(u)
                && !crate::accounts::sessions::recently_authenticated(s, now))
    }

    /// Whether this request would give `u` a scope of the admin API. A session alone (a
    /// stolen cookie) must not turn into an admin API token: that needs a sign-in within
    /// the re-authentication window, as the account's own sensitive changes do.
    fn grants_admin_to(&self, u: &user::Model) -> bool {
        self.scopes.iter().any(|scope| {
            crate::admin::access::is_admin_scope(scope) && crate::admin::access::may_hold(u, scope)
        })
    }
}

/// Send the response parameters to the client in its response mode.
pub fn deliver(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> HttpResponse {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return UiError::BadRequest("The registered return address is invalid.".into())
            .error_response();
    };
    match mode {
        ResponseMode::Query => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in params {
                    q.append_pair(k, v);
                }
            }
            found(url.as_str())
        }
        ResponseMode::Fragment => {
            let mut f = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                f.append_pair(k, v);
            }
            url.set_fragment(Some(&f.finish()));
            found(url.as_str())
        }
        ResponseMode::FormPost => form_post(&url, redirect_uri, params),
    }
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Template)]
#[template(path = "ui/form_post.html")]
struct FormPostPage<'a> {
    action: &'a str,
    fields: Vec<(&'a str, &'a str)>,
    nonce: String,
}

/// OAuth 2.0 Form Post Response Mode: an auto-submitting form, allowed by its own CSP.
pub fn form_post(url: &Url, action: &str, params: &[(&str, &str)]) -> HttpResponse {
    let nonce = crypto::random_token(16).unwrap_or_default();
    let target = match url.scheme() {
        "http" | "https" => url.origin().ascii_serialization(),
        scheme => format!("{scheme}:"),
    };
    let body = FormPostPage {
        action,
        fields: params.to_vec(),
        nonce: nonce.clone(),
    }
    .render()
    .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; form-action {target}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Ok(v) = HeaderValue::from_str(&csp) {
        res.insert_header((header::CONTENT_SECURITY_POLICY, v));
    }
    res.body(body)
}

fn reject_response(tenant: &tenant::Model, state: &AppState, r: Rejection) -> HttpResponse {
    match r {
        Rejection::Page(e) => e.error_response(),
        Rejection::Client {
            redirect_uri,
            mode,
            state: st,
            error,
            description,
        } => {
            let iss = state.config.issuer(&tenant.slug);
            let mut params = vec![
                ("error", error),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = st.as_deref() {
                params.push(("state", s));
            }
            params.push(("iss", iss.as_str()));
            deliver(&redirect_uri, mode, &params)
        }
    }
}

/// The scope names a user reads on the consent page.
fn describe(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "Know who you are (your account identifier)",
        "profile" => "See your name and basic profile",
        "email" => "See your email address",
        "address" => "See your postal address",
        "phone" => "See your phone number",
        "offline_access" => "Keep access while you are not signed in",
        _ => return None,
    })
}

#[derive(Template)]
#[template(path = "ui/consent.html")]
struct ConsentPage<'a> {
    tenant_name: &'a str,
    client_name: &'a str,
    email: &'a str,
    items: Vec<String>,
    action: String,
    csrf_token: &'a str,
    request: String,
}

/// Sign-in, consent, then a code: the steps of an accepted request.
async fn proceed(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    ar: AuthRequest,
) -> Result<HttpResponse, Rejection> {
    let current = ui::current_session(req, state, tenant).await?;
    // Signed in afresh for this request, but as another user than it names: refuse rather
    // than ask again (the same person would sign in as the same user again).
    if let Some((s, u)) = &current
        && ar.signed_in_after_mark(s)
        && ar.names_other_user(u)
    {
        return Err(ar.other_user_refused());
    }
    let signed_in = match current {
        Some((s, u)) if !ar.needs_fresh_login(state.now(), &s, &u) => Some((s, u)),
        _ => None,
    };
    let Some((session, user)) = signed_in else {
        if ar.has_prompt("none") {
            return Err(ar.reject("login_required", "the user is not signed in"));
        }
        return Ok(to_login(state, tenant, &ar));
    };
    // The tenant's MFA policy, or a step-up the request asks for.
    let here = format!(
        "{}?{}",
        tenant_path(&tenant.slug, routes::AUTHORIZE),
        ar.query(None)
    );
    if let Some(res) = ui::mfa::gate(state, tenant, &session, &user, &here, ar.require_mfa).await? {
        if ar.has_prompt("none") {
            return Err(ar.reject(
                "interaction_required",
                "a second factor is needed and prompt=none forbids asking",
            ));
        }
        return Ok(res);
    }
    let consented = grants::consented_scopes(&state.db, user.id, &ar.client.client_id).await?;
    let covered = ar.consent_scopes.iter().all(|s| consented.contains(s));
    if !ar.client.skip_consent && (ar.has_prompt("consent") || !covered) {
        if ar.has_prompt("none") {
            return Err(ar.reject("consent_required", "the user has not given consent"));
        }
        return consent_page(state, req, tenant, &ar, &user).map_err(Rejection::Page);
    }
    issue(state, tenant, &ar, &session, &user).await
}

fn to_login(state: &AppState, tenant: &tenant::Model, ar: &AuthRequest) -> HttpResponse {
    let return_to = format!(
        "{}?{}",
        tenant_path(&tenant.slug, routes::AUTHORIZE),
        ar.query(Some(new_mark(state, tenant, &ar.client.client_id)))
    );
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("return_to", &return_to);
    if let Some(h) = &ar.login_hint {
        q.append_pair("login_hint", h);
    }
    if ar.has_prompt("login")
        || ar.has_prompt("select_account")
        || ar.max_age.is_some()
        || ar.hint_sub.is_some()
        || ar
            .scopes
            .iter()
            .any(|s| crate::admin::access::is_admin_scope(s))
    {
        q.append_pair("prompt", "login");
    }
    ui::see_other(&format!(
        "{}?{}",
        tenant_path(&tenant.slug, routes::LOGIN),
        q.finish()
    ))
    .finish()
}

fn consent_page(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    ar: &AuthRequest,
    user: &user::Model,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let items = ar
        .consent_scopes
        .iter()
        .map(|s| {
            describe(s)
                .map(str::to_string)
                .unwrap_or_else(|| format!("Use the scope “{s}”"))
        })
        .collect();
    let body = ConsentPage {
        tenant_name: &tenant.name,
        client_name: &ar.client.name,
        email: user.identifier(),
        items,
        action: tenant_path(&tenant.slug, routes::CONSENT),
        csrf_token: &csrf.token,
        request: ar.query(None),
    }
    .render()?;
    let mut res = ui::page(StatusCode::OK, Some(csrf), body);
    ui::allow_form_redirects(&mut res);
    Ok(res)
}

async fn issue(
    state: &AppState,
    tenant: &tenant::Model,
    ar: &AuthRequest,
    session: &session::Model,
    user: &user::Model,
) -> Result<HttpResponse, Rejection> {
    let now = state.now();
    let code = grants::issue_code(
        &state.db,
        now,
        &state.keys.tokens,
        chrono::Duration::seconds(state.config.authorization_code_ttl_secs as i64),
        NewCode {
            tenant_id: tenant.id,
            client_id: ar.client.client_id.clone(),
            user_id: user.id,
            session_id: session.id,
            redirect_uri: if ar.redirect_uri_given {
                ar.redirect_uri.clone()
            } else {
                String::new()
            },
            // The admin API's scopes only for administrators, whatever the client may ask for.
            scope: ar
                .scopes
                .iter()
                .map(String::as_str)
                .filter(|s| crate::admin::access::may_hold(user, s))
                .collect::<Vec<_>>()
                .join(" "),
            nonce: ar.nonce.clone(),
            code_challenge: ar.code_challenge.clone(),
            claims: ar.claims.clone(),
            auth_time: session.created_at,
            amr: session.amr.clone(),
            offline: ar.scopes.iter().any(|s| s == "offline_access"),
        },
    )
    .await?;
    let iss = state.config.issuer(&tenant.slug);
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = ar.state.as_deref() {
        params.push(("state", s));
    }
    params.push(("iss", iss.as_str()));
    Ok(deliver(&ar.redirect_uri, ar.mode, &params))
}

async fn handle(state: &AppState, req: &HttpRequest, slug: &str, form: Form) -> HttpResponse {
    let tenant = match ui::load_tenant(state, slug).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let result = match parse(state, &tenant, &form).await {
        Ok(ar) => proceed(state, req, &tenant, ar).await,
        Err(r) => Err(r),
    };
    match result {
        Ok(res) => res,
        Err(r) => reject_response(&tenant, state, r),
    }
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    match Form::parse(req.query_string().as_bytes()) {
        Ok(form) => handle(&state, &req, &path, form).await,
        Err(e) => UiError::from(e).error_response(),
    }
}

pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    match Form::parse(&body) {
        Ok(form) => handle(&state, &req, &path, form).await,
        Err(e) => UiError::from(e).error_response(),
    }
}

/// `POST {issuer}/oauth2/consent`: the user's answer on the consent page.
pub async fn consent(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tenant = match ui::load_tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let result = answer(&state, &req, &tenant, &body).await;
    match result {
        Ok(res) => res,
        Err(r) => reject_response(&tenant, &state, r),
    }
}

async fn answer(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    body: &[u8],
) -> Result<HttpResponse, Rejection> {
    let form = ui::read_form(req, state, body)?;
    let inner = Form::parse(form.text("request").as_bytes()).map_err(UiError::from)?;
    let ar = parse(state, tenant, &inner).await?;
    let Some((session, user)) = ui::current_session(req, state, tenant).await? else {
        return Ok(to_login(state, tenant, &ar));
    };
    if ar.names_other_user(&user) {
        return Err(ar.other_user_refused());
    }
    match form.text("decision") {
        "allow" => {
            grants::remember_consent(
                &state.db,
                state.now(),
                tenant.id,
                user.id,
                &ar.client.client_id,
                &ar.consent_scopes,
            )
            .await?;
            issue(state, tenant, &ar, &session, &user).await
        }
        "deny" => Err(ar.reject("access_denied", "the user denied the request")),
        _ => Err(page_error("Choose Allow or Deny.")),
    }
}

#[cfg(test)]
mod tests {
    use super::redirect_matches;

    #[test]
    fn redirect_uris_match_exactly_except_loopback_ports() {
        assert!(redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://a.example/cb/"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://a.example:8443/cb"
        ));
        assert!(!redirect_matches(
            "https://a.example/cb",
            "https://A.example/cb"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51004/cb"
        ));
        assert!(redirect_matches(
            "http://[::1]:80/cb",
            "http://[::1]:6000/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:51004/other"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.2:51004/cb"
        ));
        assert!(!redirect_matches(
            "http://localhost/cb",
            "http://localhost:51004/cb"
        ));
        assert!(!redirect_matches(
            "http://127.0.0.1/cb",
            "http://u@127.0.0.1:1/cb"
        ));
    }
}
