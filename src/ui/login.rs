//! `/t/{tenant}/login`

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use askama::Template;

use super::{CsrfToken, UiResult, load_tenant, page, read_form, return_to_or_account, see_other};
use crate::accounts::login::{self, Attempt, Outcome};
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path};
use crate::ratelimit::Kind;
use crate::state::AppState;

/// The one message for an unknown account and a wrong password.
pub const INVALID_CREDENTIALS: &str = "The email address or password is not right.";
/// The same, where the tenant lets users sign in with their userName too.
pub const INVALID_CREDENTIALS_USER_NAME: &str =
    "The email address, user name or password is not right.";

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf_token: &'a str,
    return_to: &'a str,
    email: &'a str,
    /// The field also takes a userName (the tenant's `sign_in_with_username`).
    with_user_name: bool,
    errors: Vec<String>,
    notice: Option<String>,
    signup_url: Option<String>,
    forgot_url: String,
    passkey_begin: String,
    passkey_finish: String,
}

struct View<'a> {
    status: StatusCode,
    email: &'a str,
    return_to: &'a str,
    errors: Vec<String>,
}

fn render(
    state: &AppState,
    req: &HttpRequest,
    tenant: &entity::tenant::Model,
    view: View<'_>,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let body = LoginPage {
        tenant_name: &tenant.name,
        action: tenant_path(&tenant.slug, routes::LOGIN),
        csrf_token: &csrf.token,
        return_to: view.return_to,
        email: view.email,
        with_user_name: tenant.sign_in_with_username,
        errors: view.errors,
        notice: None,
        signup_url: tenant
            .allow_signup
            .then(|| tenant_path(&tenant.slug, routes::SIGNUP)),
        forgot_url: tenant_path(&tenant.slug, routes::PASSWORD_FORGOT),
        passkey_begin: tenant_path(&tenant.slug, routes::PASSKEY_LOGIN_BEGIN),
        passkey_finish: tenant_path(&tenant.slug, routes::PASSKEY_LOGIN_FINISH),
    }
    .render()?;
    let mut res = page(view.status, Some(csrf), body);
    // Signing in may end in a redirect to a client (the authorization request goes on).
    if !view.return_to.is_empty() {
        super::allow_form_redirects(&mut res);
    }
    super::passkeys::allow_script(&mut res);
    Ok(res)
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let query = Form::parse(req.query_string().as_bytes())?;
    let return_to = query.text("return_to");
    // `prompt=login`: the authorization endpoint wants a fresh sign-in even with a session.
    let fresh = query.text("prompt") == "login";
    if !fresh
        && super::current_session(&req, &state, &tenant)
            .await?
            .is_some()
    {
        return Ok(see_other(&return_to_or_account(&tenant.slug, Some(return_to))).finish());
    }
    render(
        &state,
        &req,
        &tenant,
        View {
            status: StatusCode::OK,
            email: query.text("login_hint"),
            return_to,
            errors: vec![],
        },
    )
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let (email, password) = (form.text("email"), form.text("password"));
    let return_to = form.text("return_to");
    let meta = super::meta(&req, &state);
    let view = |status, error: String| View {
        status,
        email,
        return_to,
        errors: vec![error],
    };
    if email.trim().is_empty() || password.is_empty() {
        let v = view(
            StatusCode::UNPROCESSABLE_ENTITY,
            if tenant.sign_in_with_username {
                "Enter your email address or user name, and your password."
            } else {
                "Enter your email address and password."
            }
            .into(),
        );
        return render(&state, &req, &tenant, v);
    }
    super::limit_ip(&state, &tenant, Kind::Login, &meta).await?;
    let outcome = login::attempt(
        &state.db,
        state.now(),
        &state.cache,
        &state.hasher,
        &state.login_policy(),
        &tenant,
        Attempt { email, password },
        &meta,
    )
    .await?;
    let (status, message, retry_after) = match outcome {
        Outcome::Success(user) => {
            let target = if user.must_change_password {
                tenant_path(&tenant.slug, routes::ACCOUNT)
            } else {
                return_to_or_account(&tenant.slug, Some(return_to))
            };
            if crate::mfa::enrolled(&state.db, user.id).await? {
                // The password is one factor: the second comes before any session.
                return super::mfa::challenge(&state, &tenant, &user, &target);
            }
            // A tenant that requires a second factor walks the user through setting one up.
            let target = if crate::mfa::Policy::of(&tenant).requires(&user) {
                routes::tenant_path_returning(&tenant.slug, routes::ACCOUNT_TOTP, &target)
            } else {
                target
            };
            return super::sign_in(&state, &tenant, &user, &meta, &target, "pwd").await;
        }
        Outcome::Unverified(user) => {
            // The password was right: send a fresh link, unless one went out moments ago.
            let sent = state
                .limit(Some(&tenant), Kind::EmailVerification, &user.id.to_string())
                .await
                .is_ok();
            if sent {
                crate::accounts::email::send_verification(
                    &state.db,
                    &state.email_ctx(&tenant),
                    &tenant,
                    &user,
                    user.identifier(),
                    &meta,
                )
                .await?;
                state.mailer.wake();
            }
            return super::message_page(
                &tenant,
                StatusCode::FORBIDDEN,
                "Verify your email address",
                &format!(
                    "{} asks you to verify your email address before you sign in. We sent a \
                     link to {}: open it, then sign in again.",
                    tenant.name,
                    user.identifier()
                ),
                Some((tenant_path(&tenant.slug, routes::LOGIN), "Back to sign in")),
            );
        }
        Outcome::InvalidCredentials => (
            StatusCode::UNPROCESSABLE_ENTITY,
            if tenant.sign_in_with_username {
                INVALID_CREDENTIALS_USER_NAME
            } else {
                INVALID_CREDENTIALS
            }
            .to_string(),
            None,
        ),
        Outcome::Disabled => (
            StatusCode::FORBIDDEN,
            "This account is disabled. Contact your administrator.".to_string(),
            None,
        ),
        Outcome::Locked { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-in attempts for this account. Try again in {}.",
                super::wait_words(retry_after)
            ),
            Some(retry_after),
        ),
        Outcome::Throttled { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-in attempts from your network. Try again in {}.",
                super::wait_words(retry_after)
            ),
            Some(retry_after),
        ),
    };
    let mut res = render(&state, &req, &tenant, view(status, message))?;
    if let Some(secs) = retry_after
        && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(res)
}
