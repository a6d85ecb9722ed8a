//! `/t/{tenant}/logout`: a confirmation form (GET), sign-out (POST).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use askama::Template;

use super::{CsrfToken, UiResult, current_session, load_tenant, page, read_form};
use crate::http::routes::{self, tenant_path};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "ui/logout.html")]
struct LogoutPage<'a> {
    tenant_name: &'a str,
    signed_in: bool,
    action: String,
    login_url: String,
    csrf_token: &'a str,
}

fn render(
    state: &AppState,
    req: &HttpRequest,
    tenant: &entity::tenant::Model,
    signed_in: bool,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let body = LogoutPage {
        tenant_name: &tenant.name,
        signed_in,
        action: tenant_path(&tenant.slug, routes::LOGOUT),
        login_url: tenant_path(&tenant.slug, routes::LOGIN),
        csrf_token: &csrf.token,
    }
    .render()?;
    Ok(page(StatusCode::OK, Some(csrf), body))
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let signed_in = current_session(&req, &state, &tenant).await?.is_some();
    render(&state, &req, &tenant, signed_in)
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    read_form(&req, &state, &body)?;
    super::end_current_session(&state, &req, &tenant).await?;
    let mut res = render(&state, &req, &tenant, false)?;
    res.add_cookie(&super::removal_cookie(state.https(), &tenant.slug))
        .map_err(|_| super::UiError::Internal)?;
    Ok(res)
}
