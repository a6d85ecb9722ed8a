//! `{issuer}/oauth2/logout`: OpenID Connect RP-Initiated Logout 1.0 (GET and POST).
//!
//! A valid `id_token_hint` issued in the current session (its `sid` is this session's, its
//! `sub` the signed-in user's) ends the session at once; otherwise (no hint, or an older ID
//! token of the same user from an earlier session) the user confirms on a page first. `post_logout_redirect_uri` must be registered (exactly) by the
//! client named by the hint's `aud` or by `client_id`; an unregistered one gets the error page
//! and no redirect. `state` goes back unchanged.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use askama::Template;
use entity::{client, tenant};
use serde_json::Value;
use url::Url;

use super::tokens;
use crate::clients;
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path};
use crate::state::AppState;
use crate::ui::{self, CsrfToken, UiError, UiResult};

#[derive(Template)]
#[template(path = "ui/end_session.html")]
struct EndSessionPage<'a> {
    tenant_name: &'a str,
    signed_in: bool,
    client_name: Option<&'a str>,
    action: String,
    login_url: String,
    csrf_token: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

/// The checked request.
struct Logout {
    client: Option<client::Model>,
    /// Registered for that client; safe to redirect to.
    redirect: Option<String>,
    state: Option<String>,
    /// The valid hint's `sub` and `sid`.
    hint_sub: Option<String>,
    hint_sid: Option<String>,
}

fn bad(m: &str) -> UiError {
    UiError::BadRequest(m.to_string())
}

async fn check(state: &AppState, tenant: &tenant::Model, form: &Form) -> Result<Logout, UiError> {
    if let Some(p) = form.repeated() {
        return Err(bad(&format!(
            "The sign-out request repeats the parameter {p}."
        )));
    }
    let mut hint_sub = None;
    let mut hint_sid = None;
    let mut hint_aud: Vec<String> = Vec::new();
    if let Some(hint) = form.opt("id_token_hint") {
        let Some(c) = tokens::check_id_token_hint(state, tenant, hint).await? else {
            return Err(bad(
                "The sign-out request carries an ID token that this service did not issue.",
            ));
        };
        hint_sub = c.get("sub").and_then(Value::as_str).map(str::to_string);
        hint_sid = c.get("sid").and_then(Value::as_str).map(str::to_string);
        hint_aud = match c.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => vec![],
        };
    }
    let client_id = match (form.opt("client_id"), hint_aud.first()) {
        (Some(id), _) if !hint_aud.is_empty() && !hint_aud.iter().any(|a| a == id) => {
            return Err(bad(
                "The sign-out request names a client that the ID token was not issued to.",
            ));
        }
        (Some(id), _) => Some(id.to_string()),
        (None, Some(aud)) => Some(aud.clone()),
        (None, None) => None,
    };
    let client = match &client_id {
        Some(id) => Some(
            state
                .client(tenant.id, id)
                .await?
                .ok_or_else(|| bad("The sign-out request names an unknown application."))?,
        ),
        None => None,
    };
    let redirect = match form.opt("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let registered = client.as_ref().is_some_and(|c| {
                clients::list(&c.post_logout_redirect_uris)
                    .iter()
                    .any(|r| r == uri)
            });
            if !registered {
                return Err(bad(
                    "The application asked to return to an address it has not registered.",
                ));
            }
            Some(uri.to_string())
        }
    };
    Ok(Logout {
        client,
        redirect,
        state: form.opt("state").map(str::to_string),
        hint_sub,
        hint_sid,
    })
}

fn done(state: &AppState, tenant: &tenant::Model, req: &HttpRequest, l: &Logout) -> UiResult {
    let mut res = match &l.redirect {
        Some(uri) => {
            let mut url = Url::parse(uri).map_err(|_| bad("The return address is invalid."))?;
            if let Some(s) = &l.state {
                url.query_pairs_mut().append_pair("state", s);
            }
            HttpResponse::Found()
                .insert_header((header::LOCATION, url.to_string()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        None => render(state, req, tenant, l, false)?,
    };
    res.add_cookie(&ui::removal_cookie(state.https(), &tenant.slug))
        .map_err(|_| UiError::Internal)?;
    Ok(res)
}

fn render(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    l: &Logout,
    signed_in: bool,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let mut fields = Vec::new();
    if let Some(c) = &l.client {
        fields.push(("client_id", c.client_id.as_str()));
    }
    if let Some(r) = &l.redirect {
        fields.push(("post_logout_redirect_uri", r.as_str()));
    }
    if let Some(s) = &l.state {
        fields.push(("state", s.as_str()));
    }
    let body = EndSessionPage {
        tenant_name: &tenant.name,
        signed_in,
        client_name: l.client.as_ref().map(|c| c.name.as_str()),
        action: tenant_path(&tenant.slug, routes::END_SESSION),
        login_url: tenant_path(&tenant.slug, routes::LOGIN),
        csrf_token: &csrf.token,
        fields,
    }
    .render()?;
    let mut res = ui::page(StatusCode::OK, Some(csrf), body);
    ui::allow_form_redirects(&mut res);
    Ok(res)
}

async fn handle(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
    form: Form,
    confirmed: bool,
) -> UiResult {
    let tenant = ui::load_tenant(state, slug).await?;
    let l = check(state, &tenant, &form).await?;
    let current = ui::current_session(req, state, &tenant).await?;
    let Some((session, user)) = &current else {
        return done(state, &tenant, req, &l);
    };
    let this_session = l.hint_sub.as_deref() == Some(user.sub.as_str())
        && l.hint_sid.as_deref() == Some(session.id.to_string().as_str());
    if confirmed || this_session {
        ui::end_current_session(state, req, &tenant).await?;
        return done(state, &tenant, req, &l);
    }
    render(state, req, &tenant, &l, true)
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let result = match Form::parse(req.query_string().as_bytes()) {
        Ok(form) => handle(&state, &req, &path, form, false).await,
        Err(e) => Err(e.into()),
    };
    result.unwrap_or_else(|e| e.error_response())
}

pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let result = async {
        let form = Form::parse(&body)?;
        // The confirmation form carries a CSRF token; a bare RP POST does not.
        let confirmed = if form.opt("confirm").is_some() {
            ui::read_form(&req, &state, &body)?;
            true
        } else {
            false
        };
        handle(&state, &req, &path, form, confirmed).await
    }
    .await;
    result.unwrap_or_else(|e| e.error_response())
}
