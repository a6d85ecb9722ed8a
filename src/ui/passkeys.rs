//! Passkey endpoints. The ceremonies are JSON (called by `/static/webauthn.js`, the only
//! script of the hosted pages); renaming and removing are plain forms on the account page.
//! Every JSON call carries the page's CSRF token; answers are `{"ceremony","options"}`,
//! `{"redirect"}` or `{"error"}` with a clear message, never a 500 page.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::mfa::{Who, proven, set_cookies, who};
use super::{UiError, UiResult, current_session, load_tenant, read_form, see_other};
use crate::accounts::notices::FactorChange;
use crate::audit::{self, actions};
use crate::http::routes::{self, tenant_path};
use crate::mfa::passkeys::{self, Failure};
use crate::ratelimit::Kind;
use crate::state::AppState;

fn answer(status: StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

/// The first half of a ceremony: its id and the options for `navigator.credentials`.
fn started(ceremony: Uuid, options: &impl serde::Serialize) -> HttpResponse {
    answer(
        StatusCode::OK,
        json!({ "ceremony": ceremony, "options": options }),
    )
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    answer(status, json!({ "error": message }))
}

fn ui_error(e: UiError) -> HttpResponse {
    let (status, message) = match &e {
        UiError::RateLimited(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts. Wait a minute and try again.",
        ),
        UiError::Csrf => (
            StatusCode::FORBIDDEN,
            "The page expired. Reload it and try again.",
        ),
        UiError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found."),
        UiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "The request is not valid."),
        UiError::Unavailable | UiError::Internal => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Passkeys are not available right now. Try again later.",
        ),
    };
    error(status, message)
}

fn failure(f: Failure) -> HttpResponse {
    if let Failure::Domain(e) = &f {
        tracing::warn!(error = %e, "passkey ceremony");
    }
    error(StatusCode::BAD_REQUEST, f.message())
}

/// Parse a JSON body and check its CSRF token.
fn body<T: for<'de> Deserialize<'de>>(
    req: &HttpRequest,
    state: &AppState,
    bytes: &[u8],
) -> Result<T, Box<HttpResponse>> {
    #[derive(Deserialize)]
    struct Csrf {
        csrf_token: Option<String>,
    }
    let token: Csrf = serde_json::from_slice(bytes).map_err(|_| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "The request is not valid JSON.",
        ))
    })?;
    if !super::csrf_ok(req, state, token.csrf_token.as_deref()) {
        return Err(Box::new(ui_error(UiError::Csrf)));
    }
    serde_json::from_slice(bytes).map_err(|_| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "The passkey response is not valid.",
        ))
    })
}

fn relying_party(
    state: &AppState,
    tenant: &entity::tenant::Model,
) -> Result<Webauthn, Box<HttpResponse>> {
    passkeys::relying_party(&state.config.public_url(), &tenant.name).ok_or_else(|| {
        Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Passkeys need this service to be reached by a domain name.",
        ))
    })
}

macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(res) => {
                let boxed: Box<HttpResponse> = Box::from(res);
                return *boxed;
            }
        }
    };
}

#[derive(Deserialize)]
pub struct Begin {}

/// The signed-in user of the account page who may add a passkey now: a 401 to sign in again,
/// a 403 for an unverified address, or a 403 that leads to re-authentication.
async fn may_add_passkey(
    req: &HttpRequest,
    state: &AppState,
    tenant: &entity::tenant::Model,
) -> Result<entity::user::Model, Box<HttpResponse>> {
    let (session, user) = match current_session(req, state, tenant).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(Box::new(error(StatusCode::UNAUTHORIZED, "Sign in again."))),
        Err(e) => return Err(Box::new(ui_error(e))),
    };
    if user.has_unverified_address() {
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            super::mfa::VERIFY_FIRST,
        )));
    }
    let account = tenant_path(&tenant.slug, routes::ACCOUNT);
    if let Some(res) = super::reauth::required_json(state, tenant, &session, &account) {
        return Err(Box::new(res));
    }
    Ok(user)
}

/// `POST /account/passkeys/register/begin`.
pub async fn register_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> HttpResponse {
    let tenant = tri!(load_tenant(&state, &path).await.map_err(ui_error));
    let _: Begin = tri!(body(&req, &state, &bytes));
    let user = tri!(may_add_passkey(&req, &state, &tenant).await);
    let wa = tri!(relying_party(&state, &tenant));
    match passkeys::register_begin(&state.db, state.now(), &wa, &user).await {
        Ok((id, options)) => started(id, &options),
        Err(e) => ui_error(e.into()),
    }
}

#[derive(Deserialize)]
pub struct RegisterFinish {
    ceremony: Uuid,
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

/// `POST /account/passkeys/register/finish`.
pub async fn register_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> HttpResponse {
    let tenant = tri!(load_tenant(&state, &path).await.map_err(ui_error));
    let input: RegisterFinish = tri!(body(&req, &state, &bytes));
    let user = tri!(may_add_passkey(&req, &state, &tenant).await);
    let wa = tri!(relying_party(&state, &tenant));
    let now = state.now();
    match passkeys::register_finish(
        &state.db,
        now,
        &wa,
        &user,
        input.ceremony,
        &input.name,
        &input.credential,
    )
    .await
    {
        Ok(row) => {
            let meta = super::meta(&req, &state);
            let event =
                audit::Event::new(actions::PASSKEY_REGISTER, audit::user_actor(user.id), &meta)
                    .tenant(tenant.id)
                    .target(format!("passkey:{}", row.id));
            if let Err(e) = audit::record(&state.db, now, event).await {
                return ui_error(e.into());
            }
            super::mfa::notify_factor(&state, &tenant, &user, FactorChange::PasskeyAdded).await;
            answer(
                StatusCode::OK,
                json!({ "redirect": format!("{}?notice=passkey_added", tenant_path(&tenant.slug, routes::ACCOUNT)) }),
            )
        }
        Err(f) => failure(f),
    }
}

#[derive(Deserialize)]
pub struct Finish {
    ceremony: Uuid,
    credential: PublicKeyCredential,
    #[serde(default)]
    return_to: String,
}

/// `POST /login/passkey/begin`: a usernameless (discoverable) request.
pub async fn login_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> HttpResponse {
    let tenant = tri!(load_tenant(&state, &path).await.map_err(ui_error));
    let _: Begin = tri!(body(&req, &state, &bytes));
    let wa = tri!(relying_party(&state, &tenant));
    match passkeys::passwordless_begin(&state.db, state.now(), &wa, &state.keys.session, tenant.id)
        .await
    {
        Ok(begun) => {
            let mut res = started(begun.id, &begun.options);
            let cookie = ceremony_cookie(&state, &tenant.slug, begun.browser_secret);
            tri!(
                res.add_cookie(&cookie)
                    .map_err(|_| ui_error(UiError::Internal))
            );
            res
        }
        Err(e) => ui_error(e.into()),
    }
}

/// The cookie that ties a passwordless ceremony to the browser that began it.
fn ceremony_cookie_name(https: bool, slug: &str) -> String {
    if https {
        format!("__Host-plinto-passkey-{slug}")
    } else {
        format!("plinto-passkey-{slug}")
    }
}

fn ceremony_cookie(state: &AppState, slug: &str, value: String) -> Cookie<'static> {
    Cookie::build(ceremony_cookie_name(state.https(), slug), value)
        .path("/")
        .http_only(true)
        .secure(state.https())
        .same_site(SameSite::Strict)
        .finish()
}

/// `POST /login/passkey/finish`: passwordless sign-in.
pub async fn login_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> HttpResponse {
    let tenant = tri!(load_tenant(&state, &path).await.map_err(ui_error));
    let input: Finish = tri!(body(&req, &state, &bytes));
    let meta = super::meta(&req, &state);
    tri!(
        super::limit_ip(&state, &tenant, Kind::Login, &meta)
            .await
            .map_err(ui_error)
    );
    let wa = tri!(relying_party(&state, &tenant));
    let now = state.now();
    let browser = req
        .cookie(&ceremony_cookie_name(state.https(), &tenant.slug))
        .map(|c| c.value().to_string());
    let result = passkeys::passwordless_finish(
        &state.db,
        now,
        &wa,
        &state.keys.session,
        tenant.id,
        input.ceremony,
        browser.as_deref(),
        &input.credential,
    )
    .await;
    let p = match result {
        Ok(p) => p,
        Err(f) => {
            let event = audit::Event::new(actions::PASSKEY_FAILURE, "anonymous".into(), &meta)
                .tenant(tenant.id)
                .failed();
            let _ = audit::record(&state.db, now, event).await;
            return failure(f);
        }
    };
    let user = match crate::accounts::users::find(&state.db, tenant.id, p.user_id).await {
        Ok(Some(u)) if !u.disabled => u,
        Ok(_) => return error(StatusCode::FORBIDDEN, "This account cannot sign in."),
        Err(e) => return ui_error(e.into()),
    };
    // A passkey with user verification is two factors in one (possession, and the PIN or
    // biometric that unlocked it).
    let who = Who::Passwordless(user.clone());
    let cookie = tri!(
        proven(&state, &req, &tenant, &who, p.method)
            .await
            .map_err(ui_error)
    );
    let event = audit::Event::new(actions::PASSKEY_LOGIN, audit::user_actor(user.id), &meta)
        .tenant(tenant.id)
        .target(format!("user:{}", user.id))
        .details(json!({ "passwordless": true }));
    if let Err(e) = audit::record(&state.db, now, event).await {
        return ui_error(e.into());
    }
    let to = super::return_to_or_account(&tenant.slug, Some(&input.return_to));
    let mut res = answer(StatusCode::OK, json!({ "redirect": to }));
    tri!(set_cookies(&mut res, &state, &tenant, cookie).map_err(ui_error));
    let mut used = ceremony_cookie(&state, &tenant.slug, String::new());
    used.make_removal();
    tri!(
        res.add_cookie(&used)
            .map_err(|_| ui_error(UiError::Internal))
    );
    res
}

/// `POST /login/mfa/passkey/begin`: the second factor of a pending sign-in, or step-up.
pub async fn mfa_begin(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> HttpResponse {
    let tenant = tri!(load_tenant(&state, &path).await.map_err(ui_error));
    let _: Begin = tri!(body(&req, &state, &bytes));
    let Some(who) = tri!(who(&req, &state, &tenant).await.map_err(ui_error)) else {
        return error(StatusCode::UNAUTHORIZED, "Sign in again.");
    };
    let wa = tri!(relying_party(&state, &tenant));
    match passkeys::second_factor_begin(&state.db, state.now(), &wa, who.user()).await {
        Ok((id, options)) => started(id, &options),
        Err(f) => failure(f),
    }
}

/// `POST /login/mfa/passkey/finish`.
pub async fn mfa_finish(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    bytes: web::Bytes,
) -> HttpResponse {
    let tenant = tri!(load_tenant(&state, &path).await.map_err(ui_error));
    let input: Finish = tri!(body(&req, &state, &bytes));
    let Some(who) = tri!(who(&req, &state, &tenant).await.map_err(ui_error)) else {
        return error(StatusCode::UNAUTHORIZED, "Sign in again.");
    };
    let user = who.user().clone();
    tri!(
        state
            .limit(Some(&tenant), Kind::Mfa, &user.id.to_string())
            .await
            .map_err(|e| ui_error(e.into()))
    );
    let wa = tri!(relying_party(&state, &tenant));
    let now = state.now();
    let meta = super::meta(&req, &state);
    let event = |action| {
        audit::Event::new(action, audit::user_actor(user.id), &meta)
            .tenant(tenant.id)
            .target(format!("user:{}", user.id))
    };
    let p = match passkeys::second_factor_finish(
        &state.db,
        now,
        &wa,
        &user,
        input.ceremony,
        &input.credential,
    )
    .await
    {
        Ok(p) => p,
        Err(f) => {
            let _ = audit::record(&state.db, now, event(actions::MFA_FAILURE).failed()).await;
            return failure(f);
        }
    };
    let cookie = tri!(
        proven(&state, &req, &tenant, &who, p.method)
            .await
            .map_err(ui_error)
    );
    if let Err(e) = audit::record(&state.db, now, event(actions::MFA_SUCCESS)).await {
        return ui_error(e.into());
    }
    let to = super::return_to_or_account(&tenant.slug, Some(&input.return_to));
    let mut res = answer(StatusCode::OK, json!({ "redirect": to }));
    tri!(set_cookies(&mut res, &state, &tenant, cookie).map_err(ui_error));
    res
}

async fn manage(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
    id: Uuid,
    form_body: &[u8],
    rename: bool,
) -> UiResult {
    let tenant = load_tenant(state, slug).await?;
    let form = read_form(req, state, form_body)?;
    let account = tenant_path(&tenant.slug, routes::ACCOUNT);
    let Some((session, user)) = current_session(req, state, &tenant).await? else {
        return Ok(see_other(&tenant_path(&tenant.slug, routes::LOGIN)).finish());
    };
    if !rename && let Some(redirect) = super::reauth::required(state, &tenant, &session, &account) {
        return Ok(redirect);
    }
    let (action, notice) = if rename {
        match passkeys::rename(&state.db, user.id, id, form.text("name")).await {
            Ok(()) => {}
            Err(crate::error::DomainError::Invalid { .. }) => {
                return Ok(see_other(&format!("{account}?notice=passkey_name")).finish());
            }
            Err(e) => return Err(e.into()),
        }
        (actions::PASSKEY_RENAME, "passkey_renamed")
    } else {
        passkeys::remove(&state.db, user.id, id).await?;
        super::mfa::notify_factor(state, &tenant, &user, FactorChange::PasskeyRemoved).await;
        (actions::PASSKEY_REMOVE, "passkey_removed")
    };
    audit::record(
        &state.db,
        state.now(),
        audit::Event::new(action, audit::user_actor(user.id), &super::meta(req, state))
            .tenant(tenant.id)
            .target(format!("passkey:{id}")),
    )
    .await?;
    Ok(see_other(&format!("{account}?notice={notice}")).finish())
}

/// `POST /account/passkeys/{id}/rename`.
pub async fn rename(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
    body: web::Bytes,
) -> UiResult {
    let (slug, id) = path.into_inner();
    manage(&req, &state, &slug, id, &body, true).await
}

/// `POST /account/passkeys/{id}/remove`.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, Uuid)>,
    body: web::Bytes,
) -> UiResult {
    let (slug, id) = path.into_inner();
    manage(&req, &state, &slug, id, &body, false).await
}

/// `GET /static/webauthn.js`.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/javascript; charset=utf-8"))
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../static/webauthn.js"))
}

/// Let a page run the WebAuthn script (and call its endpoints): the page's policy, plus
/// `script-src 'self'` and `connect-src 'self'`.
pub fn allow_script(res: &mut HttpResponse) {
    use actix_web::http::header;
    let base = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or(crate::http::middleware::CSP)
        .to_string();
    if let Ok(v) =
        header::HeaderValue::from_str(&format!("{base}; script-src 'self'; connect-src 'self'"))
    {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
}
