//! `/t/{tenant}/account/reauth`: "sudo mode". Changing the address, a second factor, a
//! passkey or the recovery codes needs the user to have proven who they are in this session
//! within [`sessions::REAUTH_WINDOW`]: by signing in, or here with the password, a code of the
//! authenticator app or a passkey (the step-up ceremony of `/login/mfa/passkey`). The page
//! then returns to where the user was (`return_to`, a path of the tenant).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use entity::{session, tenant, user};
use serde_json::json;

use super::mfa::CodeProof;
use super::{CsrfToken, UiError, UiResult, current_session, load_tenant, page, read_form};
use crate::accounts::login::{self, Guess, Outcome};
use crate::accounts::password::Verified;
use crate::accounts::sessions;
use crate::audit::{self, actions};
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path, tenant_path_returning};
use crate::mfa;
use crate::ratelimit::Kind;
use crate::state::AppState;

/// The reauthentication page, returning to `return_to`.
pub fn path(slug: &str, return_to: &str) -> String {
    tenant_path_returning(slug, routes::ACCOUNT_REAUTH, return_to)
}

/// `None` when the session may make a sensitive change now; else the way to the page.
pub fn required(
    state: &AppState,
    tenant: &tenant::Model,
    session: &session::Model,
    return_to: &str,
) -> Option<HttpResponse> {
    if sessions::recently_authenticated(session, state.now()) {
        return None;
    }
    Some(super::see_other(&path(&tenant.slug, return_to)).finish())
}

/// The same for the JSON passkey endpoints: a 403 whose `redirect` the script follows.
pub fn required_json(
    state: &AppState,
    tenant: &tenant::Model,
    session: &session::Model,
    return_to: &str,
) -> Option<HttpResponse> {
    if sessions::recently_authenticated(session, state.now()) {
        return None;
    }
    Some(
        HttpResponse::Forbidden()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({
                "error": "Confirm it is you first.",
                "redirect": path(&tenant.slug, return_to),
            })),
    )
}

#[derive(Template)]
#[template(path = "ui/reauth.html")]
struct ReauthPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf_token: &'a str,
    return_to: &'a str,
    email: &'a str,
    window: String,
    has_password: bool,
    has_totp: bool,
    has_passkey: bool,
    passkey_begin: String,
    passkey_finish: String,
    cancel_url: String,
    errors: Vec<String>,
    notice: Option<String>,
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    tenant: &tenant::Model,
    user: &user::Model,
    return_to: &str,
    status: StatusCode,
    errors: Vec<String>,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let body = ReauthPage {
        tenant_name: &tenant.name,
        action: tenant_path(&tenant.slug, routes::ACCOUNT_REAUTH),
        csrf_token: &csrf.token,
        return_to,
        email: user.identifier(),
        window: super::wait_words(sessions::REAUTH_WINDOW.num_seconds().max(0) as u64),
        has_password: user.password_hash.is_some(),
        has_totp: mfa::totp_enrolled(&state.db, user.id).await?,
        has_passkey: !mfa::passkeys::list(&state.db, user.id).await?.is_empty(),
        passkey_begin: tenant_path(&tenant.slug, routes::PASSKEY_MFA_BEGIN),
        passkey_finish: tenant_path(&tenant.slug, routes::PASSKEY_MFA_FINISH),
        cancel_url: tenant_path(&tenant.slug, routes::ACCOUNT),
        errors,
        notice: None,
    }
    .render()?;
    let mut res = page(status, Some(csrf), body);
    super::passkeys::allow_script(&mut res);
    Ok(res)
}

/// `GET /t/{tenant}/account/reauth?return_to=`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let query = Form::parse(req.query_string().as_bytes())?;
    let return_to = super::return_to_or_account(&tenant.slug, query.opt("return_to"));
    let Some((_, user)) = current_session(&req, &state, &tenant).await? else {
        let here = self::path(&tenant.slug, &return_to);
        return Ok(
            super::see_other(&tenant_path_returning(&tenant.slug, routes::LOGIN, &here)).finish(),
        );
    };
    render(
        &req,
        &state,
        &tenant,
        &user,
        &return_to,
        StatusCode::OK,
        vec![],
    )
    .await
}

/// `POST /t/{tenant}/account/reauth`: the password, or a code of the authenticator app.
/// Wrong passwords count and are delayed exactly like wrong sign-ins.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let return_to = super::return_to_or_account(&tenant.slug, form.opt("return_to"));
    let Some((session, user)) = current_session(&req, &state, &tenant).await? else {
        return Ok(super::see_other(&tenant_path_returning(
            &tenant.slug,
            routes::LOGIN,
            &self::path(&tenant.slug, &return_to),
        ))
        .finish());
    };
    let meta = super::meta(&req, &state);
    let now = state.now();
    let (password, code) = (form.text("password"), form.text("code").trim());
    let again = |status, message: String| {
        let (req, state, tenant, user, return_to) = (&req, &state, &tenant, &user, &return_to);
        async move { render(req, state, tenant, user, return_to, status, vec![message]).await }
    };
    if !password.is_empty() {
        match check_password(&state, &tenant, &user, password, Purpose::Reauth, &meta).await? {
            Ok(()) => sessions::reauthenticated(&state.db, now, session.id).await?,
            Err((status, message)) => return again(status, message).await,
        }
    } else if !code.is_empty() {
        let proof = super::mfa::check_code(&state, &tenant, &user, &meta, code, "").await?;
        if matches!(proof, CodeProof::Wrong) {
            return again(
                StatusCode::UNPROCESSABLE_ENTITY,
                "That code is not right, or it was already used.".into(),
            )
            .await;
        }
        // A second factor proven in this session: a step-up as well.
        sessions::upgrade(
            &state.db,
            now,
            session.id,
            &mfa::with_factor(&session.amr, "otp"),
        )
        .await?;
    } else {
        return again(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your password or a code.".into(),
        )
        .await;
    }
    audit::record(
        &state.db,
        now,
        audit::Event::new(actions::REAUTH, audit::user_actor(user.id), &meta)
            .tenant(tenant.id)
            .target(audit::user_actor(user.id))
            .details(json!({ "session": session.id })),
    )
    .await?;
    Ok(super::see_other(&return_to).finish())
}

/// What the password is checked for: the message of a wrong one and its audit action.
pub enum Purpose {
    Reauth,
    PasswordChange,
}

impl Purpose {
    fn wrong(&self) -> &'static str {
        match self {
            Purpose::Reauth => "That password is not right.",
            Purpose::PasswordChange => "Your current password is not right.",
        }
    }

    fn action(&self) -> &'static str {
        match self {
            Purpose::Reauth => actions::REAUTH,
            Purpose::PasswordChange => actions::PASSWORD_CHANGE,
        }
    }
}

/// Check the user's own password, counting a wrong one against the sign-in counters of the
/// account and address (so that a stolen session cannot guess the password faster than
/// sign-in can). `Err((status, message))`: what to show.
pub async fn check_password(
    state: &AppState,
    tenant: &tenant::Model,
    user: &user::Model,
    password: &str,
    purpose: Purpose,
    meta: &crate::audit::RequestMeta,
) -> Result<Result<(), (StatusCode, String)>, UiError> {
    let now = state.now();
    let policy = state.login_policy();
    let guess = Guess {
        tenant,
        identifier: user
            .email_normalized
            .as_deref()
            .unwrap_or(&user.user_name_normalized),
        ip: meta.ip.as_deref(),
    };
    super::limit_ip(state, tenant, Kind::Login, meta).await?;
    if let Some(wait) = login::throttled(&state.cache, &policy, &guess, now).await? {
        let secs = match wait {
            Outcome::Locked { retry_after } | Outcome::Throttled { retry_after } => retry_after,
            _ => 60,
        };
        return Ok(Err((
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong passwords. Try again in {}.",
                super::wait_words(secs)
            ),
        )));
    }
    let verified = state
        .hasher
        .verify(password, user.password_hash.as_deref())
        .await?;
    if matches!(verified, Verified::Match { .. }) {
        return Ok(Ok(()));
    }
    audit::record(
        &state.db,
        now,
        audit::Event::new(purpose.action(), audit::user_actor(user.id), meta)
            .tenant(tenant.id)
            .target(audit::user_actor(user.id))
            .failed(),
    )
    .await?;
    let delay = login::count_failure(
        &state.db,
        &state.cache,
        &policy,
        &guess,
        Some(user),
        now,
        meta,
    )
    .await?;
    Ok(Err(match delay {
        Some(secs) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong passwords. Try again in {}.",
                super::wait_words(secs)
            ),
        ),
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            purpose.wrong().to_string(),
        ),
    }))
}
