//! `/t/{tenant}/signup`, when the tenant allows self-service sign-up.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;

use super::{CsrfToken, UiError, UiResult, load_tenant, page, read_form, return_to_or_account};
use crate::accounts::email;
use crate::accounts::users::{self, NewUser};
use crate::audit::actions;
use crate::error::DomainError;
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path};
use crate::ratelimit::Kind;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "ui/signup.html")]
struct SignupPage<'a> {
    tenant_name: &'a str,
    action: String,
    login_url: String,
    csrf_token: &'a str,
    return_to: &'a str,
    email: &'a str,
    name: &'a str,
    errors: Vec<String>,
    notice: Option<String>,
}

fn render(
    state: &AppState,
    req: &HttpRequest,
    tenant: &entity::tenant::Model,
    status: StatusCode,
    form: &Form,
    errors: Vec<String>,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let body = SignupPage {
        tenant_name: &tenant.name,
        action: tenant_path(&tenant.slug, routes::SIGNUP),
        login_url: tenant_path(&tenant.slug, routes::LOGIN),
        csrf_token: &csrf.token,
        return_to: form.text("return_to"),
        email: form.text("email"),
        name: form.text("name"),
        errors,
        notice: None,
    }
    .render()?;
    Ok(page(status, Some(csrf), body))
}

async fn signup_tenant(state: &AppState, slug: &str) -> Result<entity::tenant::Model, UiError> {
    let tenant = load_tenant(state, slug).await?;
    if !tenant.allow_signup {
        return Err(UiError::NotFound(format!(
            "{} does not offer sign-up. Ask your administrator for an account.",
            tenant.name
        )));
    }
    Ok(tenant)
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = signup_tenant(&state, &path).await?;
    let query = Form::parse(req.query_string().as_bytes())?;
    render(&state, &req, &tenant, StatusCode::OK, &query, vec![])
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = signup_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let invalid = |message: String| {
        render(
            &state,
            &req,
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            &form,
            vec![message],
        )
    };
    if form.text("password") != form.text("password_confirm") {
        return invalid("The two passwords differ.".into());
    }
    let meta = super::meta(&req, &state);
    super::limit_ip(&state, &tenant, Kind::Signup, &meta).await?;
    let created = users::create(
        &state.db,
        state.now(),
        &state.hasher,
        tenant.id,
        NewUser {
            email: form.text("email").to_string(),
            password: Some(form.text("password").to_string()),
            name: form.get("name").map(str::to_string),
            email_verified: false,
            is_admin: false,
            must_change_password: false,
        },
        actions::USER_SIGNUP,
        None,
        &meta,
    )
    .await;
    let user = match created {
        Ok(user) => user,
        Err(DomainError::Invalid { message, .. }) => return invalid(super::capitalize(&message)),
        Err(DomainError::Conflict(_)) => return taken(&state, &tenant, &form, &meta).await,
        Err(e) => return Err(e.into()),
    };
    email::send_verification(
        &state.db,
        &state.email_ctx(&tenant),
        &tenant,
        &user,
        user.identifier(),
        &meta,
    )
    .await?;
    state.mailer.wake();
    if tenant.require_email_verification {
        return check_your_email(&tenant, user.identifier());
    }
    let target = return_to_or_account(&tenant.slug, form.get("return_to"));
    super::sign_in(&state, &tenant, &user, &meta, &target, "pwd").await
}

/// The answer to a sign-up that needs the link in the email: the same whether or not the
/// address already had an account.
fn check_your_email(tenant: &entity::tenant::Model, address: &str) -> UiResult {
    super::message_page(
        tenant,
        StatusCode::OK,
        "Check your email",
        &format!("We sent a link to {address}. Open it to verify your address, then sign in."),
        Some((tenant_path(&tenant.slug, routes::LOGIN), "Go to sign in")),
    )
}

/// Sign-up with an address that has an account: no account is made, the owner is told by
/// email, and the page says what it says for a new address that needs verifying (after a
/// password hash, as a new account costs one), so that the form does not tell who has an
/// account. (On a tenant without verification a new account is signed in at once, which
/// this answer cannot imitate: see the README.)
async fn taken(
    state: &AppState,
    tenant: &entity::tenant::Model,
    form: &Form,
    meta: &crate::audit::RequestMeta,
) -> UiResult {
    state.hasher.hash(form.text("password")).await?;
    let address = form.text("email").trim();
    let email = crate::accounts::validation::parse_email(address)?;
    let Some(owner) = users::find_by_email(&state.db, tenant.id, &email).await? else {
        return check_your_email(tenant, address);
    };
    crate::audit::record(
        &state.db,
        state.now(),
        crate::audit::Event::new(actions::USER_SIGNUP, "anonymous".into(), meta)
            .tenant(tenant.id)
            .target(crate::audit::user_actor(owner.id))
            .failed()
            .details(serde_json::json!({ "reason": "address_taken" })),
    )
    .await?;
    // At most a few such messages an hour per account, however many strangers try.
    let notify = state
        .limit(Some(tenant), Kind::EmailVerification, &owner.id.to_string())
        .await
        .is_ok();
    if notify {
        crate::accounts::notices::to_owner(
            &state.db,
            &state.email_ctx(tenant),
            tenant,
            &owner,
            crate::accounts::notices::OwnerNotice::SignupWithTakenAddress,
        )
        .await?;
        state.mailer.wake();
    }
    check_your_email(tenant, address)
}
