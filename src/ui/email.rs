//! The pages behind the links in emails: verify an address (`/verify-email`), ask for a
//! password reset (`/password/forgot`) and choose the new password (`/password/reset`).
//!
//! A link opened with GET never uses its token: the page shows a button that POSTs it, so that
//! mail scanners that fetch links do not burn them.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;
use entity::{tenant, user};

use super::{
    CsrfToken, UiError, UiResult, load_tenant, message_page, page, read_form, removal_cookie,
};
use crate::accounts::email::{self, NewPassword};
use crate::error::{DomainError, DomainResult};
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path};
use crate::ratelimit::Kind;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "ui/verify_email.html")]
struct VerifyPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf_token: &'a str,
    token: &'a str,
    email: &'a str,
}

#[derive(Template)]
#[template(path = "ui/password_forgot.html")]
struct ForgotPage<'a> {
    tenant_name: &'a str,
    action: String,
    login_url: String,
    csrf_token: &'a str,
    email: &'a str,
    errors: Vec<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/password_reset.html")]
struct ResetPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf_token: &'a str,
    token: &'a str,
    email: &'a str,
    errors: Vec<String>,
    notice: Option<String>,
}

fn dead_link(tenant: &entity::tenant::Model, what: &str, again: (String, &str)) -> UiResult {
    message_page(
        tenant,
        StatusCode::GONE,
        "This link no longer works",
        &format!("This {what} link was already used, has expired or is not valid."),
        Some(again),
    )
}

fn login_link(slug: &str) -> (String, &'static str) {
    (tenant_path(slug, routes::LOGIN), "Go to sign in")
}

/// `GET` of a `purpose` link from an email (`what` names it on the dead-link page): the page
/// whose button POSTs the token to `route`, built by `render` from the tenant, the action, the
/// CSRF token, the token and the address. The token itself is not used here.
async fn link_show(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
    purpose: &str,
    what: &str,
    route: &str,
    render: impl FnOnce(&tenant::Model, String, &str, &str, &str) -> askama::Result<String>,
) -> UiResult {
    let tenant = load_tenant(state, slug).await?;
    let query = Form::parse(req.query_string().as_bytes())?;
    let token = query.text("token");
    let live = email::find_live(
        &state.db,
        state.now(),
        &state.keys.email_tokens,
        tenant.id,
        purpose,
        token,
    )
    .await?;
    let Some((t, _)) = live else {
        return dead_link(&tenant, what, login_link(&tenant.slug));
    };
    let csrf = CsrfToken::issue(req, state)?;
    let body = render(
        &tenant,
        tenant_path(&tenant.slug, route),
        &csrf.token,
        token,
        &t.email,
    )?;
    Ok(page(StatusCode::OK, Some(csrf), body))
}

/// The answer to the `POST` of such a link: `done` with the user when the token was used, the
/// dead-link page when it no longer works.
fn link_used(
    tenant: &tenant::Model,
    what: &str,
    result: DomainResult<Option<user::Model>>,
    done: impl FnOnce(user::Model) -> UiResult,
) -> UiResult {
    match result {
        Ok(Some(user)) => done(user),
        Ok(None) => dead_link(tenant, what, login_link(&tenant.slug)),
        Err(DomainError::Conflict(m)) => Err(UiError::BadRequest(super::capitalize(&m))),
        Err(e) => Err(e.into()),
    }
}

pub async fn verify_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    link_show(
        &req,
        &state,
        &path,
        email::VERIFY_EMAIL,
        "verification",
        routes::VERIFY_EMAIL,
        |t, action, csrf_token, token, email| {
            VerifyPage {
                tenant_name: &t.name,
                action,
                csrf_token,
                token,
                email,
            }
            .render()
        },
    )
    .await
}

pub async fn verify_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let meta = super::meta(&req, &state);
    let result = email::confirm_verification(
        &state.db,
        &state.email_ctx(&tenant),
        &tenant,
        form.text("token"),
        &meta,
    )
    .await;
    link_used(&tenant, "verification", result, |user| {
        state.mailer.wake();
        message_page(
            &tenant,
            StatusCode::OK,
            "Email address verified",
            &format!("{} is now your verified email address.", user.identifier()),
            Some((
                tenant_path(&tenant.slug, routes::ACCOUNT),
                "Go to your account",
            )),
        )
    })
}

#[derive(Template)]
#[template(path = "ui/email_undo.html")]
struct UndoPage<'a> {
    tenant_name: &'a str,
    action: String,
    csrf_token: &'a str,
    token: &'a str,
    email: &'a str,
}

/// `GET /t/{tenant}/email/undo?token=`: the link sent to the old address after a change.
pub async fn undo_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    link_show(
        &req,
        &state,
        &path,
        email::EMAIL_UNDO,
        "undo",
        routes::EMAIL_UNDO,
        |t, action, csrf_token, token, email| {
            UndoPage {
                tenant_name: &t.name,
                action,
                csrf_token,
                token,
                email,
            }
            .render()
        },
    )
    .await
}

/// `POST /t/{tenant}/email/undo`.
pub async fn undo_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let meta = super::meta(&req, &state);
    let result = email::undo_email_change(
        &state.db,
        state.now(),
        &state.keys.email_tokens,
        &tenant,
        form.text("token"),
        &meta,
    )
    .await;
    link_used(&tenant, "undo", result, |user| {
        let mut res = message_page(
            &tenant,
            StatusCode::OK,
            "Address change undone",
            &format!(
                "{} is the account's address again, and every session was signed out. \
                 Choose a new password now, in case someone else knows it.",
                user.identifier()
            ),
            Some(forgot_link(&tenant.slug)),
        )?;
        let cookie = removal_cookie(state.https(), &tenant.slug);
        res.add_cookie(&cookie).map_err(|_| UiError::Internal)?;
        Ok(res)
    })
}

fn render_forgot(
    state: &AppState,
    req: &HttpRequest,
    tenant: &entity::tenant::Model,
    status: StatusCode,
    email: &str,
    errors: Vec<String>,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let body = ForgotPage {
        tenant_name: &tenant.name,
        action: tenant_path(&tenant.slug, routes::PASSWORD_FORGOT),
        login_url: tenant_path(&tenant.slug, routes::LOGIN),
        csrf_token: &csrf.token,
        email,
        errors,
        notice: None,
    }
    .render()?;
    Ok(page(status, Some(csrf), body))
}

pub async fn forgot_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let query = Form::parse(req.query_string().as_bytes())?;
    render_forgot(
        &state,
        &req,
        &tenant,
        StatusCode::OK,
        query.text("email"),
        vec![],
    )
}

pub async fn forgot_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let address = form.text("email").trim();
    if crate::accounts::validation::parse_email(address).is_err() {
        return render_forgot(
            &state,
            &req,
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            address,
            vec!["Enter a valid email address, like name@example.com.".into()],
        );
    }
    let meta = super::meta(&req, &state);
    super::limit_ip(&state, &tenant, Kind::PasswordReset, &meta).await?;
    state
        .limit(
            Some(&tenant),
            Kind::PasswordResetEmail,
            &address.to_ascii_lowercase(),
        )
        .await?;
    let sent = email::request_reset(
        &state.db,
        &state.email_ctx(&tenant),
        &tenant,
        address,
        &meta,
    )
    .await?;
    if sent {
        state.mailer.wake();
    }
    // The same answer whether or not the address has an account.
    message_page(
        &tenant,
        StatusCode::OK,
        "Check your email",
        &format!(
            "If an account uses {address}, we sent it a link to choose a new password. The link \
             works for {}.",
            crate::mail::templates::duration_words(state.config.password_reset_ttl_secs)
        ),
        Some(login_link(&tenant.slug)),
    )
}

#[allow(clippy::too_many_arguments)]
fn render_reset(
    state: &AppState,
    req: &HttpRequest,
    tenant: &entity::tenant::Model,
    status: StatusCode,
    token: &str,
    email: &str,
    errors: Vec<String>,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let body = ResetPage {
        tenant_name: &tenant.name,
        action: tenant_path(&tenant.slug, routes::PASSWORD_RESET),
        csrf_token: &csrf.token,
        token,
        email,
        errors,
        notice: None,
    }
    .render()?;
    Ok(page(status, Some(csrf), body))
}

fn forgot_link(slug: &str) -> (String, &'static str) {
    (
        tenant_path(slug, routes::PASSWORD_FORGOT),
        "Ask for a new link",
    )
}

pub async fn reset_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let query = Form::parse(req.query_string().as_bytes())?;
    let token = query.text("token");
    let live = email::find_live(
        &state.db,
        state.now(),
        &state.keys.email_tokens,
        tenant.id,
        email::PASSWORD_RESET,
        token,
    )
    .await?;
    match live {
        Some((_, user)) => render_reset(
            &state,
            &req,
            &tenant,
            StatusCode::OK,
            token,
            user.identifier(),
            vec![],
        ),
        None => dead_link(&tenant, "password reset", forgot_link(&tenant.slug)),
    }
}

pub async fn reset_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let meta = super::meta(&req, &state);
    let token = form.text("token");
    let result = email::reset_password(
        &state.db,
        &state.email_ctx(&tenant),
        &state.hasher,
        &tenant,
        NewPassword {
            token,
            password: form.text("password"),
            confirm: form.text("password_confirm"),
        },
        &meta,
    )
    .await;
    match result {
        Ok(Some(done)) => {
            state.mailer.wake();
            crate::accounts::login::clear(&state.cache, &tenant, &done.user).await?;
            let mut message = "Your new password is set. Every session and app that was signed \
                               in with the old one was signed out."
                .to_string();
            if done.factors_removed {
                message.push_str(
                    " Your address had not been verified before, so the passkeys, authenticator \
                     app and recovery codes set up on the account were removed too: whoever set \
                     them up had not shown that they own this address. We sent you an email \
                     about it.",
                );
            }
            let mut res = message_page(
                &tenant,
                StatusCode::OK,
                "Password changed",
                &message,
                Some((tenant_path(&tenant.slug, routes::LOGIN), "Sign in")),
            )?;
            // This browser's own session ended too.
            let cookie = removal_cookie(state.https(), &tenant.slug);
            res.add_cookie(&cookie).map_err(|_| UiError::Internal)?;
            Ok(res)
        }
        Ok(None) => dead_link(&tenant, "password reset", forgot_link(&tenant.slug)),
        Err(DomainError::Invalid { message, .. }) => {
            let email = email::find_live(
                &state.db,
                state.now(),
                &state.keys.email_tokens,
                tenant.id,
                email::PASSWORD_RESET,
                token,
            )
            .await?
            .map(|(_, u)| u.identifier().to_string())
            .unwrap_or_default();
            render_reset(
                &state,
                &req,
                &tenant,
                StatusCode::UNPROCESSABLE_ENTITY,
                token,
                &email,
                vec![super::capitalize(&message)],
            )
        }
        Err(e) => Err(e.into()),
    }
}
