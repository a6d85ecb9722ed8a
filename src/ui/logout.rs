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
    /// Signed SAML LogoutRequests to the service providers of the ended session
    /// (front-channel, in hidden frames).
    saml_frames: Vec<String>,
    action: String,
    login_url: String,
    csrf_token: &'a str,
}

fn render(
    state: &AppState,
    req: &HttpRequest,
    tenant: &entity::tenant::Model,
    signed_in: bool,
    saml_frames: Vec<String>,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let origins: Vec<String> = saml_frames
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .collect();
    let body = LogoutPage {
        tenant_name: &tenant.name,
        signed_in,
        saml_frames,
        action: tenant_path(&tenant.slug, routes::LOGOUT),
        login_url: tenant_path(&tenant.slug, routes::LOGIN),
        csrf_token: &csrf.token,
    }
    .render()?;
    let mut res = page(StatusCode::OK, Some(csrf), body);
    if !origins.is_empty() {
        let csp = format!(
            "{}; frame-src {}",
            crate::http::middleware::CSP,
            origins.join(" ")
        );
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&csp) {
            res.headers_mut()
                .insert(actix_web::http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    Ok(res)
}

pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let signed_in = current_session(&req, &state, &tenant).await?.is_some();
    render(&state, &req, &tenant, signed_in, vec![])
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    read_form(&req, &state, &body)?;
    let current = current_session(&req, &state, &tenant).await?;
    super::end_current_session(&state, &req, &tenant).await?;
    let saml_frames = match current {
        Some((session, _)) => crate::saml::slo::front_channel(&state, &tenant, session.id).await?,
        None => vec![],
    };
    let mut res = render(&state, &req, &tenant, false, saml_frames)?;
    res.add_cookie(&super::removal_cookie(state.https(), &tenant.slug))
        .map_err(|_| super::UiError::Internal)?;
    Ok(res)
}
