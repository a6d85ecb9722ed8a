//! Hosted end-user pages (askama, server-rendered, no JavaScript): sign-in, sign-up, sign-out
//! and the account page, per tenant below its issuer.

pub mod account;
pub mod email;
pub mod error;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod passkeys;
pub mod reauth;
pub mod signup;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use entity::{session, tenant, user};

use crate::accounts::sessions;
use crate::audit::RequestMeta;
use crate::http::csrf;
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path};
use crate::state::AppState;
pub use error::UiError;

pub type UiResult = Result<HttpResponse, UiError>;

/// The pages' routes, registered inside the tenant scope (`/t/{tenant}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::LOGIN, web::get().to(login::show))
        .route(routes::LOGIN, web::post().to(login::submit))
        .route(routes::LOGIN_MFA, web::get().to(mfa::show))
        .route(routes::LOGIN_MFA, web::post().to(mfa::submit))
        .route(routes::ACCOUNT_TOTP, web::get().to(mfa::totp_show))
        .route(routes::ACCOUNT_TOTP, web::post().to(mfa::totp_confirm))
        .route(
            routes::ACCOUNT_TOTP_REMOVE,
            web::post().to(mfa::totp_remove),
        )
        .route(
            routes::ACCOUNT_RECOVERY,
            web::post().to(mfa::recovery_regenerate),
        )
        .route(
            routes::PASSKEY_REGISTER_BEGIN,
            web::post().to(passkeys::register_begin),
        )
        .route(
            routes::PASSKEY_REGISTER_FINISH,
            web::post().to(passkeys::register_finish),
        )
        .route(routes::PASSKEY_RENAME, web::post().to(passkeys::rename))
        .route(routes::PASSKEY_REMOVE, web::post().to(passkeys::remove))
        .route(
            routes::PASSKEY_LOGIN_BEGIN,
            web::post().to(passkeys::login_begin),
        )
        .route(
            routes::PASSKEY_LOGIN_FINISH,
            web::post().to(passkeys::login_finish),
        )
        .route(
            routes::PASSKEY_MFA_BEGIN,
            web::post().to(passkeys::mfa_begin),
        )
        .route(
            routes::PASSKEY_MFA_FINISH,
            web::post().to(passkeys::mfa_finish),
        )
        .route(routes::SIGNUP, web::get().to(signup::show))
        .route(routes::SIGNUP, web::post().to(signup::submit))
        .route(routes::LOGOUT, web::get().to(logout::show))
        .route(routes::LOGOUT, web::post().to(logout::submit))
        .route(routes::ACCOUNT, web::get().to(account::show))
        .route(routes::ACCOUNT_PROFILE, web::post().to(account::profile))
        .route(routes::ACCOUNT_PASSWORD, web::post().to(account::password))
        .route(
            routes::ACCOUNT_SESSION_REVOKE,
            web::post().to(account::revoke_session),
        )
        .route(routes::ACCOUNT_EMAIL, web::post().to(account::change_email))
        .route(
            routes::ACCOUNT_EMAIL_VERIFY,
            web::post().to(account::resend_verification),
        )
        .route(routes::ACCOUNT_REAUTH, web::get().to(reauth::show))
        .route(routes::ACCOUNT_REAUTH, web::post().to(reauth::submit))
        .route(routes::EMAIL_UNDO, web::get().to(email::undo_show))
        .route(routes::EMAIL_UNDO, web::post().to(email::undo_submit))
        .route(routes::VERIFY_EMAIL, web::get().to(email::verify_show))
        .route(routes::VERIFY_EMAIL, web::post().to(email::verify_submit))
        .route(routes::PASSWORD_FORGOT, web::get().to(email::forgot_show))
        .route(
            routes::PASSWORD_FORGOT,
            web::post().to(email::forgot_submit),
        )
        .route(routes::PASSWORD_RESET, web::get().to(email::reset_show))
        .route(routes::PASSWORD_RESET, web::post().to(email::reset_submit));
}

pub async fn load_tenant(state: &AppState, slug: &str) -> Result<tenant::Model, UiError> {
    state
        .tenant(slug)
        .await?
        .ok_or_else(UiError::tenant_not_found)
}

/// Per tenant, so that one browser can be signed in to several tenants.
pub fn session_cookie_name(https: bool, slug: &str) -> String {
    if https {
        format!("__Host-plinto-session-{slug}")
    } else {
        format!("plinto-session-{slug}")
    }
}

pub fn session_cookie(https: bool, slug: &str, value: String) -> Cookie<'static> {
    Cookie::build(session_cookie_name(https, slug), value)
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Lax)
        .finish()
}

pub fn removal_cookie(https: bool, slug: &str) -> Cookie<'static> {
    let mut c = session_cookie(https, slug, String::new());
    c.make_removal();
    c
}

/// The signed-in session of this browser for the tenant, if any.
pub async fn current_session(
    req: &HttpRequest,
    state: &AppState,
    tenant: &tenant::Model,
) -> Result<Option<(session::Model, user::Model)>, UiError> {
    let Some(cookie) = req.cookie(&session_cookie_name(state.https(), &tenant.slug)) else {
        return Ok(None);
    };
    Ok(sessions::authenticate(
        &state.db,
        state.now(),
        &state.keys.session,
        state.timeouts(),
        tenant.id,
        cookie.value(),
    )
    .await?)
}

/// Sign the browser out of the tenant: end its session and the grants that live only as long
/// as the session (tokens given without `offline_access`). Returns whether it was signed in.
pub async fn end_current_session(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
) -> Result<bool, UiError> {
    let Some((session, user)) = current_session(req, state, tenant).await? else {
        return Ok(false);
    };
    let now = state.now();
    sessions::revoke(
        &state.db,
        now,
        &user,
        session.id,
        crate::audit::actions::LOGOUT,
        &meta(req, state),
    )
    .await?;
    crate::grants::revoke_session_grants(&state.db, now, session.id).await?;
    Ok(true)
}

/// Start a session for `user` and send the browser on to `target` with its cookie.
pub async fn sign_in(
    state: &AppState,
    tenant: &tenant::Model,
    user: &user::Model,
    meta: &RequestMeta,
    target: &str,
    amr: &str,
) -> UiResult {
    let (token, _) = sessions::create(
        &state.db,
        state.now(),
        &state.keys.session,
        state.timeouts(),
        user,
        meta,
        amr,
    )
    .await?;
    Ok(see_other(target)
        .cookie(session_cookie(state.https(), &tenant.slug, token.0))
        .finish())
}

/// Who is asking, as the domain sees it.
pub fn meta(req: &HttpRequest, state: &AppState) -> RequestMeta {
    crate::http::request_meta(req, state.config.trust_forwarded_headers)
}

/// What a CSRF token is bound to: the browser's session cookie for the tenant of the request
/// (empty when it has none).
fn csrf_session(req: &HttpRequest, state: &AppState) -> String {
    req.match_info()
        .get("tenant")
        .and_then(|slug| req.cookie(&session_cookie_name(state.https(), slug)))
        .map(|c| c.value().to_string())
        .unwrap_or_default()
}

/// Whether a submitted CSRF token fits this browser and its session.
pub fn csrf_ok(req: &HttpRequest, state: &AppState, submitted: Option<&str>) -> bool {
    csrf::verify(
        req,
        &state.keys.csrf,
        state.https(),
        &csrf_session(req, state),
        submitted,
    )
}

/// Parse a form body strictly and check its CSRF token.
pub fn read_form(req: &HttpRequest, state: &AppState, body: &[u8]) -> Result<Form, UiError> {
    let form = Form::parse(body)?;
    if !csrf_ok(req, state, form.get(csrf::FIELD)) {
        return Err(UiError::Csrf);
    }
    Ok(form)
}

/// A CSRF token for a page with forms, and the cookie that goes with it when new.
pub struct CsrfToken {
    pub token: String,
    cookie: Option<Cookie<'static>>,
}

impl CsrfToken {
    pub fn issue(req: &HttpRequest, state: &AppState) -> Result<Self, UiError> {
        let (token, cookie) = csrf::issue(
            req,
            &state.keys.csrf,
            state.https(),
            &csrf_session(req, state),
        )?;
        Ok(Self { token, cookie })
    }

    fn apply(self, res: &mut HttpResponseBuilder) {
        if let Some(c) = self.cookie {
            res.cookie(c);
        }
    }
}

/// An HTML page that must not be cached (it has forms or personal data).
pub fn page(status: StatusCode, csrf: Option<CsrfToken>, body: String) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(csrf) = csrf {
        csrf.apply(&mut res);
    }
    res.body(body)
}

/// Let the page's form lead, through redirects, to a client's registered URI (see
/// [`crate::http::middleware::CSP_FORM_REDIRECTS`]).
pub fn allow_form_redirects(res: &mut HttpResponse) {
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(crate::http::middleware::CSP_FORM_REDIRECTS),
    );
}

pub fn see_other(location: &str) -> HttpResponseBuilder {
    let mut res = HttpResponse::SeeOther();
    res.insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    res
}

/// Where to go after signing in: a path of this tenant given by the caller, else the account
/// page. Anything else (another host, another tenant, `//`) is ignored: no open redirects.
pub fn return_to_or_account(slug: &str, raw: Option<&str>) -> String {
    raw.and_then(|r| safe_return_to(slug, r))
        .unwrap_or_else(|| tenant_path(slug, routes::ACCOUNT))
}

pub fn safe_return_to(slug: &str, raw: &str) -> Option<String> {
    let prefix = format!("{}/", tenant_path(slug, ""));
    let path = raw.split(['?', '#']).next().unwrap_or("");
    // Dot segments, plain or percent-encoded, would let the browser climb out of the tenant.
    let dots = path.split('/').any(|seg| {
        matches!(
            seg.to_ascii_lowercase().replace("%2e", ".").as_str(),
            "." | ".."
        )
    });
    let ok = raw.starts_with(&prefix)
        && !dots
        && raw.len() <= 8192
        && !raw.contains("//")
        && !raw.contains('\\')
        && !raw.contains("/../")
        && !raw.chars().any(char::is_control);
    ok.then(|| raw.to_string())
}

/// How long to wait, in words: "a minute", "5 minutes", "2 hours".
pub fn wait_words(secs: u64) -> String {
    match secs.div_ceil(60) {
        0 | 1 => "a minute".to_string(),
        n if n < 120 => format!("{n} minutes"),
        n => format!("{} hours", n.div_ceil(60)),
    }
}

/// An information page: a title, a message and perhaps a link on.
pub fn message_page(
    tenant: &tenant::Model,
    status: StatusCode,
    title: &str,
    message: &str,
    link: Option<(String, &str)>,
) -> UiResult {
    use askama::Template;
    #[derive(Template)]
    #[template(path = "ui/message.html")]
    struct MessagePage<'a> {
        tenant_name: &'a str,
        title: &'a str,
        message: &'a str,
        link: Option<(String, &'a str)>,
    }
    let body = MessagePage {
        tenant_name: &tenant.name,
        title,
        message,
        link,
    }
    .render()?;
    Ok(page(status, None, body))
}

/// Count a request of this client against a limit of the tenant, per IP address.
pub async fn limit_ip(
    state: &AppState,
    tenant: &tenant::Model,
    kind: crate::ratelimit::Kind,
    meta: &RequestMeta,
) -> Result<(), UiError> {
    let ip = meta.ip.as_deref().unwrap_or("unknown");
    Ok(state.limit(Some(tenant), kind, ip).await?)
}

/// "enter a valid email" -> "Enter a valid email."
pub fn capitalize(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_in_the_tenant() {
        assert_eq!(
            safe_return_to("acme", "/t/acme/oauth2/authorize?x=1").as_deref(),
            Some("/t/acme/oauth2/authorize?x=1")
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/",
            "/t/other/account",
            "/t/acme//evil",
            "/t/acme/../other",
            "/t/acme/\\evil",
            "/t/acmex/account",
            "/t/acme/%2e%2e/other/account",
            "/t/acme/%2E./other",
            "/t/acme/..",
            "/t/acme/./x",
        ] {
            assert_eq!(safe_return_to("acme", bad), None, "{bad}");
        }
        assert_eq!(return_to_or_account("acme", None), "/t/acme/account");
    }
}
