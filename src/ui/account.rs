//! `/t/{tenant}/account`: the signed-in user's profile, password and sessions.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use entity::{session, tenant, user};
use uuid::Uuid;

use super::{
    CsrfToken, UiError, UiResult, capitalize, current_session, load_tenant, page, read_form,
    removal_cookie, see_other,
};
use crate::accounts::users::{self, PasswordChange};
use crate::accounts::{email, profile, sessions};
use crate::error::DomainError;
use crate::http::form::Form;
use crate::http::routes::{self, session_revoke_path, tenant_path};
use crate::ratelimit::Kind;
use crate::state::AppState;

struct PasskeyRow {
    id: Uuid,
    name: String,
    created: String,
    last_used: Option<String>,
    rename_action: String,
    remove_action: String,
}

struct SessionRow {
    id: Uuid,
    created: String,
    last_seen: String,
    ip: String,
    user_agent: String,
    current: bool,
    revoke_action: String,
}

#[derive(Template)]
#[template(path = "ui/account.html")]
struct AccountPage<'a> {
    tenant_name: &'a str,
    /// Empty for an account without an address.
    email: &'a str,
    user_name: &'a str,
    email_verified: bool,
    name: &'a str,
    /// (form field, label, value) of each profile field.
    profile: Vec<(&'static str, &'static str, String)>,
    must_change_password: bool,
    email_action: String,
    verify_action: String,
    csrf_token: &'a str,
    profile_action: String,
    password_action: String,
    logout_url: String,
    totp_enabled: bool,
    mfa_enrolled: bool,
    passkeys: Vec<PasskeyRow>,
    passkey_begin: String,
    passkey_finish: String,
    recovery_left: u64,
    totp_url: String,
    totp_remove_action: String,
    recovery_action: String,
    sessions: Vec<SessionRow>,
    errors: Vec<String>,
    notice: Option<String>,
}

const NOTICES: &[(&str, &str)] = &[
    ("profile", "Your profile was saved."),
    (
        "password",
        "Your password was changed. Your other sessions were signed out.",
    ),
    ("revoked", "The session was signed out."),
    ("totp_removed", "The authenticator app was removed."),
    ("passkey_added", "The passkey was added."),
    ("passkey_renamed", "The passkey was renamed."),
    ("passkey_removed", "The passkey was removed."),
    (
        "passkey_name",
        "Give the passkey a name of 1 to 100 characters.",
    ),
    (
        "email_change",
        "We sent a link to the new address. Your address changes once you open it.",
    ),
    (
        "verification",
        "We sent a verification link to your email address.",
    ),
];

struct SignedIn {
    tenant: tenant::Model,
    session: session::Model,
    user: user::Model,
}

/// The signed-in user, or a redirect to the sign-in page that comes back here.
async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    slug: &str,
) -> Result<Result<SignedIn, HttpResponse>, UiError> {
    let tenant = load_tenant(state, slug).await?;
    match current_session(req, state, &tenant).await? {
        Some((session, user)) => Ok(Ok(SignedIn {
            tenant,
            session,
            user,
        })),
        None => {
            let back = tenant_path(&tenant.slug, routes::ACCOUNT);
            let login = routes::tenant_path_returning(&tenant.slug, routes::LOGIN, &back);
            Ok(Err(see_other(&login)
                .cookie(removal_cookie(state.https(), &tenant.slug))
                .finish()))
        }
    }
}

/// With a tenant policy that requires a second factor, a session without one may only set
/// one up: the way there (or to the second step, if the user has a factor), else `None`.
async fn enrolment_only(state: &AppState, who: &SignedIn) -> Result<Option<HttpResponse>, UiError> {
    let account = tenant_path(&who.tenant.slug, routes::ACCOUNT);
    super::mfa::gate(state, &who.tenant, &who.session, &who.user, &account, false).await
}

async fn render(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    errors: Vec<String>,
    notice: Option<String>,
) -> UiResult {
    let slug = &who.tenant.slug;
    let live = sessions::list_live(&state.db, state.now(), state.timeouts(), who.user.id).await?;
    let rows = live
        .into_iter()
        .map(|s| SessionRow {
            id: s.id,
            created: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            last_seen: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            ip: s.ip.clone().unwrap_or_default(),
            user_agent: s.user_agent.clone().unwrap_or_default(),
            current: s.id == who.session.id,
            revoke_action: session_revoke_path(slug, &s.id),
        })
        .collect();
    let csrf = CsrfToken::issue(req, state)?;
    let totp_enabled = crate::mfa::totp_enrolled(&state.db, who.user.id).await?;
    let passkeys: Vec<PasskeyRow> = crate::mfa::passkeys::list(&state.db, who.user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            rename_action: tenant_path(
                slug,
                &routes::PASSKEY_RENAME.replace("{id}", &p.id.to_string()),
            ),
            remove_action: tenant_path(
                slug,
                &routes::PASSKEY_REMOVE.replace("{id}", &p.id.to_string()),
            ),
            id: p.id,
            name: p.name,
            created: p.created_at.format("%Y-%m-%d").to_string(),
            last_used: p
                .last_used_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
        })
        .collect();
    let body = AccountPage {
        tenant_name: &who.tenant.name,
        email: who.user.email.as_deref().unwrap_or_default(),
        user_name: &who.user.user_name,
        email_verified: who.user.email_verified,
        name: who.user.name.as_deref().unwrap_or(""),
        profile: profile::form_fields(&profile::of(&who.user)),
        must_change_password: who.user.must_change_password,
        email_action: tenant_path(slug, routes::ACCOUNT_EMAIL),
        verify_action: tenant_path(slug, routes::ACCOUNT_EMAIL_VERIFY),
        csrf_token: &csrf.token,
        profile_action: tenant_path(slug, routes::ACCOUNT_PROFILE),
        password_action: tenant_path(slug, routes::ACCOUNT_PASSWORD),
        logout_url: tenant_path(slug, routes::LOGOUT),
        totp_enabled,
        // Derived, not asked again: a factor is an app or a passkey.
        mfa_enrolled: totp_enabled || !passkeys.is_empty(),
        passkeys,
        passkey_begin: tenant_path(slug, routes::PASSKEY_REGISTER_BEGIN),
        passkey_finish: tenant_path(slug, routes::PASSKEY_REGISTER_FINISH),
        recovery_left: crate::mfa::recovery_remaining(&state.db, who.user.id).await?,
        totp_url: tenant_path(slug, routes::ACCOUNT_TOTP),
        totp_remove_action: tenant_path(slug, routes::ACCOUNT_TOTP_REMOVE),
        recovery_action: tenant_path(slug, routes::ACCOUNT_RECOVERY),
        sessions: rows,
        errors,
        notice,
    }
    .render()?;
    let mut res = page(status, Some(csrf), body);
    super::passkeys::allow_script(&mut res);
    Ok(res)
}

fn back_with_notice(slug: &str, notice: &str) -> HttpResponse {
    see_other(&format!(
        "{}?notice={notice}",
        tenant_path(slug, routes::ACCOUNT)
    ))
    .finish()
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let who = match signed_in(&req, &state, &path).await? {
        Ok(who) => who,
        Err(redirect) => return Ok(redirect),
    };
    let query = Form::parse(req.query_string().as_bytes())?;
    let notice = query.get("notice").and_then(|n| {
        NOTICES
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, text)| text.to_string())
    });
    render(&req, &state, &who, StatusCode::OK, vec![], notice).await
}

/// Re-show the page with the message of a rule the input broke, or fail.
async fn form_error(
    req: &HttpRequest,
    state: &AppState,
    who: &SignedIn,
    e: DomainError,
) -> UiResult {
    match e {
        DomainError::Invalid { message, .. } | DomainError::Conflict(message) => {
            render(
                req,
                state,
                who,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![capitalize(&message)],
                None,
            )
            .await
        }
        other => Err(other.into()),
    }
}

pub async fn profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let form = read_form(&req, &state, &body)?;
    let who = match signed_in(&req, &state, &path).await? {
        Ok(who) => who,
        Err(redirect) => return Ok(redirect),
    };
    if let Some(redirect) = enrolment_only(&state, &who).await? {
        return Ok(redirect);
    }
    let meta = super::meta(&req, &state);
    let edited = profile::with_form_fields(&profile::of(&who.user), |k| form.get(k));
    let name = form.get("name").or(who.user.name.as_deref());
    match profile::update(
        &state.db,
        state.now(),
        who.user.clone(),
        name,
        edited,
        &meta,
    )
    .await
    {
        Ok(_) => Ok(back_with_notice(&who.tenant.slug, "profile")),
        Err(DomainError::Invalid { field, message }) => {
            let message = format!("{}: {message}", profile::label(field));
            form_error(&req, &state, &who, DomainError::Invalid { field, message }).await
        }
        Err(e) => form_error(&req, &state, &who, e).await,
    }
}

pub async fn password(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let form = read_form(&req, &state, &body)?;
    let who = match signed_in(&req, &state, &path).await? {
        Ok(who) => who,
        Err(redirect) => return Ok(redirect),
    };
    if let Some(redirect) = enrolment_only(&state, &who).await? {
        return Ok(redirect);
    }
    let meta = super::meta(&req, &state);
    // The current password is the re-authentication; wrong ones count like wrong sign-ins.
    if let Err((status, message)) = super::reauth::check_password(
        &state,
        &who.tenant,
        &who.user,
        form.text("current_password"),
        super::reauth::Purpose::PasswordChange,
        &meta,
    )
    .await?
    {
        return render(&req, &state, &who, status, vec![message], None).await;
    }
    let change = PasswordChange {
        current: form.text("current_password"),
        new: form.text("new_password"),
        confirm: form.text("new_password_confirm"),
        keep_session: Some(who.session.id),
    };
    match users::change_password(
        &state.db,
        state.now(),
        &state.hasher,
        who.user.clone(),
        change,
        &meta,
    )
    .await
    {
        Ok(user) => {
            // The change stands even if the notice cannot be queued.
            let ctx = state.email_ctx(&who.tenant);
            match email::notify_password_changed(&state.db, &ctx, &who.tenant, &user).await {
                Ok(()) => state.mailer.wake(),
                Err(e) => tracing::warn!(error = %e, "cannot queue the password change notice"),
            }
            Ok(back_with_notice(&who.tenant.slug, "password"))
        }
        Err(e) => form_error(&req, &state, &who, e).await,
    }
}

pub async fn revoke_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> UiResult {
    let (slug, session_id) = path.into_inner();
    read_form(&req, &state, &body)?;
    let who = match signed_in(&req, &state, &slug).await? {
        Ok(who) => who,
        Err(redirect) => return Ok(redirect),
    };
    let not_found =
        || UiError::NotFound("That session does not exist or has already ended.".into());
    let id = Uuid::parse_str(&session_id).map_err(|_| not_found())?;
    let meta = super::meta(&req, &state);
    match sessions::revoke(
        &state.db,
        state.now(),
        &who.user,
        id,
        crate::audit::actions::SESSION_REVOKE,
        &meta,
    )
    .await
    {
        Ok(()) => {}
        Err(DomainError::NotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    }
    if id == who.session.id {
        return Ok(see_other(&tenant_path(&slug, routes::LOGIN))
            .cookie(removal_cookie(state.https(), &slug))
            .finish());
    }
    Ok(back_with_notice(&slug, "revoked"))
}

pub async fn change_email(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let form = read_form(&req, &state, &body)?;
    let who = match signed_in(&req, &state, &path).await? {
        Ok(who) => who,
        Err(redirect) => return Ok(redirect),
    };
    if let Some(redirect) = enrolment_only(&state, &who).await? {
        return Ok(redirect);
    }
    let account = tenant_path(&who.tenant.slug, routes::ACCOUNT);
    if let Some(redirect) = super::reauth::required(&state, &who.tenant, &who.session, &account) {
        return Ok(redirect);
    }
    state
        .limit(
            Some(&who.tenant),
            Kind::EmailVerification,
            &who.user.id.to_string(),
        )
        .await?;
    let meta = super::meta(&req, &state);
    match email::request_email_change(
        &state.db,
        &state.email_ctx(&who.tenant),
        &who.tenant,
        &who.user,
        form.text("email"),
        &meta,
    )
    .await
    {
        Ok(()) => {
            state.mailer.wake();
            Ok(back_with_notice(&who.tenant.slug, "email_change"))
        }
        Err(e) => form_error(&req, &state, &who, e).await,
    }
}

pub async fn resend_verification(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    read_form(&req, &state, &body)?;
    let who = match signed_in(&req, &state, &path).await? {
        Ok(who) => who,
        Err(redirect) => return Ok(redirect),
    };
    let Some(address) = who.user.email.clone() else {
        // Nothing to verify until the account has an address.
        return Ok(see_other(&tenant_path(&who.tenant.slug, routes::ACCOUNT)).finish());
    };
    if who.user.email_verified {
        return Ok(back_with_notice(&who.tenant.slug, "verification"));
    }
    state
        .limit(
            Some(&who.tenant),
            Kind::EmailVerification,
            &who.user.id.to_string(),
        )
        .await?;
    let meta = super::meta(&req, &state);
    email::send_verification(
        &state.db,
        &state.email_ctx(&who.tenant),
        &who.tenant,
        &who.user,
        &address,
        &meta,
    )
    .await?;
    state.mailer.wake();
    Ok(back_with_notice(&who.tenant.slug, "verification"))
}
