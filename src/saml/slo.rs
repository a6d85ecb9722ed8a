//! Single Logout (SAML profiles §4.4) in both directions.
//!
//! SP-initiated: a LogoutRequest over HTTP-Redirect or HTTP-POST ends the IdP sessions it
//! names (NameID, and SessionIndex when given) and is answered with a signed LogoutResponse
//! over the SP's registered SLO binding.
//!
//! IdP-initiated: when the user signs out at Plinto, every other SP that received an
//! assertion in that session and has an SLO URL gets a signed LogoutRequest (HTTP-Redirect)
//! through a hidden frame of the signed-out page (front-channel).

use actix_web::cookie::Cookie;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Duration;
use entity::{saml_participant, saml_sp, session, tenant, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::error::SamlError;
use super::message::{self, Binding, RedirectParams, SigCheck, child, children, text};
use super::response::{self, LogoutRequestXml, ResponseXml};
use super::{BINDING_POST, NS_ASSERTION, NS_PROTOCOL, sps};
use crate::audit::actions;
use crate::error::{DomainError, DomainResult};
use crate::http::form::Form;
use crate::http::routes;
use crate::state::AppState;
use crate::ui;

/// A parsed LogoutRequest.
struct LogoutRequest {
    header: message::Header,
    name_id: String,
    session_indexes: Vec<String>,
}

fn parse_logout_request(xml: &str) -> Result<LogoutRequest, message::Refused> {
    let doc = message::parse(xml)?;
    let (root, header) = message::header(&doc, "LogoutRequest")?;
    let Some(name_id) = child(&root, NS_ASSERTION, "NameID").map(|n| text(&n)) else {
        return Err(message::Refused("The LogoutRequest has no NameID.".into()));
    };
    let session_indexes = children(&root, NS_PROTOCOL, "SessionIndex")
        .iter()
        .map(text)
        .collect();
    Ok(LogoutRequest {
        header,
        name_id,
        session_indexes,
    })
}

/// `GET {issuer}/saml/slo`.
pub async fn redirect(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let q = req.query_string();
    let key = if q.split('&').any(|p| p.starts_with("SAMLResponse=")) {
        "SAMLResponse"
    } else {
        "SAMLRequest"
    };
    match message::redirect_params(q, key) {
        Ok(p) => handle(&state, &req, &path, Binding::Redirect, key, p).await,
        Err(e) => SamlError::from(e).into_page(),
    }
}

/// `POST {issuer}/saml/slo`.
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Ok(form) = Form::parse(&body) else {
        return SamlError::page("The SAML form could not be read.").into_page();
    };
    let key = if form.opt("SAMLResponse").is_some() {
        "SAMLResponse"
    } else {
        "SAMLRequest"
    };
    let p = RedirectParams {
        message: form.opt(key).map(str::to_string),
        relay_state: form.opt("RelayState").map(str::to_string),
        ..Default::default()
    };
    handle(&state, &req, &path, Binding::Post, key, p).await
}

async fn handle(
    state: &AppState,
    req: &HttpRequest,
    slug: &str,
    binding: Binding,
    key: &str,
    p: RedirectParams,
) -> HttpResponse {
    let tenant = match ui::load_tenant(state, slug).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let result = if key == "SAMLResponse" {
        // An SP's answer to the LogoutRequest of a front-channel frame: nothing more to do.
        logout_response(&p, binding).map(|()| signed_out_page(&tenant))
    } else {
        logout_request(state, req, &tenant, binding, p).await
    };
    match result {
        Ok(res) => res,
        Err(e) => e.into_page(),
    }
}

fn signed_out_page(tenant: &tenant::Model) -> HttpResponse {
    ui::message_page(
        tenant,
        actix_web::http::StatusCode::OK,
        "You are signed out",
        "You have been signed out.",
        None,
    )
    .unwrap_or_else(|e| e.error_response())
}

fn logout_response(p: &RedirectParams, binding: Binding) -> Result<(), SamlError> {
    let Some(encoded) = p.message.as_deref() else {
        return Err(SamlError::page("The message is empty."));
    };
    let xml = message::decode(encoded, binding)?;
    let doc = message::parse(&xml)?;
    let root = doc.get_root_element();
    if !root.is_some_and(|r| message::is(&r, NS_PROTOCOL, "LogoutResponse")) {
        return Err(SamlError::page("Expected a SAML 2.0 LogoutResponse."));
    }
    Ok(())
}

async fn logout_request(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    binding: Binding,
    p: RedirectParams,
) -> Result<HttpResponse, SamlError> {
    let Some(encoded) = p.message.as_deref() else {
        return Err(SamlError::page("The request has no SAMLRequest."));
    };
    let xml = message::decode(encoded, binding)?;
    let lr = parse_logout_request(&xml)?;
    let Some(issuer) = lr.header.issuer.as_deref() else {
        return Err(SamlError::page(
            "The LogoutRequest does not name its Issuer.",
        ));
    };
    let Some(sp) = sps::find(&state.db, tenant.id, issuer).await? else {
        return Err(SamlError::page(
            "The application that sent you here is not registered with this sign-in service.",
        ));
    };
    let certs = sps::signing_certs_of(&sp);
    let sig = message::check_signature(binding, &p, &xml, &lr.header, &certs, sp.allow_sha1);
    // A service provider with a certificate must sign its logout requests; one without must
    // at least name the (unguessable) SessionIndex it was given.
    if !certs.is_empty() || sp.want_authn_requests_signed {
        if sig == SigCheck::Sha1Refused {
            return Err(SamlError::page(message::sha1_refused("The logout request")));
        }
        if !sig.verified() {
            return Err(SamlError::page(
                "The logout request's signature could not be verified.",
            ));
        }
    }
    if sig == (SigCheck::Verified { sha1: true }) {
        sps::record_sha1_accepted(
            &state.db,
            state.now(),
            &sp,
            "LogoutRequest",
            &ui::meta(req, state),
        )
        .await?;
    }
    if certs.is_empty() && lr.session_indexes.is_empty() {
        return Err(SamlError::page(
            "An unsigned logout request must name the SessionIndex.",
        ));
    }
    let Some(slo_url) = sp.slo_url.clone() else {
        return Err(SamlError::page(
            "The application has no Single Logout address registered.",
        ));
    };
    let now = state.now();
    let skew = Duration::seconds(super::CLOCK_SKEW_SECS);
    let slo_here = format!("{}{}", state.config.issuer(&tenant.slug), routes::SAML_SLO);
    let (status, sub, message) = if lr
        .header
        .destination
        .as_ref()
        .is_some_and(|d| d != &slo_here)
    {
        (
            response::STATUS_REQUESTER,
            Some(response::STATUS_REQUEST_DENIED),
            Some("the Destination is not this IdP's SingleLogoutService"),
        )
    } else if lr.header.issue_instant > now + skew
        || lr.header.issue_instant < now - skew - Duration::seconds(super::MAX_REQUEST_AGE_SECS)
    {
        (
            response::STATUS_REQUESTER,
            Some(response::STATUS_REQUEST_DENIED),
            Some("the request has expired (IssueInstant)"),
        )
    } else {
        let current = ui::current_session(req, state, tenant).await?;
        let ended = end_sessions(state, req, &sp, &lr).await?;
        let others = other_participants(state, &ended, sp.id).await?;
        let browser_ended = current.is_some_and(|(s, _)| ended.contains(&s.id));
        let res = answer(
            state,
            tenant,
            &sp,
            &slo_url,
            &lr.header.id,
            p.relay_state.as_deref(),
            (
                response::STATUS_SUCCESS,
                (!others.is_empty()).then_some(STATUS_PARTIAL_LOGOUT),
                None,
            ),
        )
        .await?;
        return Ok(with_cookie_removed(res, state, tenant, browser_ended));
    };
    Ok(answer(
        state,
        tenant,
        &sp,
        &slo_url,
        &lr.header.id,
        p.relay_state.as_deref(),
        (status, sub, message),
    )
    .await?)
}

const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";

fn with_cookie_removed(
    mut res: HttpResponse,
    state: &AppState,
    tenant: &tenant::Model,
    remove: bool,
) -> HttpResponse {
    if remove {
        let c: Cookie<'static> = ui::removal_cookie(state.https(), &tenant.slug);
        if res.add_cookie(&c).is_err() {
            tracing::warn!("could not clear the session cookie");
        }
    }
    res
}

/// End the IdP sessions the request names; returns their ids.
async fn end_sessions(
    state: &AppState,
    req: &HttpRequest,
    sp: &saml_sp::Model,
    lr: &LogoutRequest,
) -> DomainResult<Vec<Uuid>> {
    let mut q = saml_participant::Entity::find()
        .filter(saml_participant::Column::SpId.eq(sp.id))
        .filter(saml_participant::Column::NameId.eq(&lr.name_id))
        .filter(saml_participant::Column::EndedAt.is_null());
    if !lr.session_indexes.is_empty() {
        q = q.filter(saml_participant::Column::SessionIndex.is_in(lr.session_indexes.clone()));
    }
    let rows = q.all(&state.db).await?;
    let now = state.now();
    let meta = ui::meta(req, state);
    let mut ended = Vec::new();
    for row in rows {
        if ended.contains(&row.session_id) {
            continue;
        }
        let found = session::Entity::find_by_id(row.session_id)
            .find_also_related(user::Entity)
            .one(&state.db)
            .await?;
        if let Some((s, Some(u))) = found
            && s.revoked_at.is_none()
        {
            match crate::accounts::sessions::revoke(
                &state.db,
                now,
                &u,
                s.id,
                actions::SAML_LOGOUT,
                &meta,
            )
            .await
            {
                Ok(()) | Err(DomainError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
            crate::grants::revoke_session_grants(&state.db, now, s.id).await?;
        }
        ended.push(row.session_id);
    }
    if !ended.is_empty() {
        saml_participant::Entity::update_many()
            .col_expr(saml_participant::Column::EndedAt, Expr::value(now))
            .filter(saml_participant::Column::SessionId.is_in(ended.clone()))
            .filter(saml_participant::Column::SpId.eq(sp.id))
            .exec(&state.db)
            .await?;
    }
    Ok(ended)
}

/// Other SPs with an SLO URL still in those sessions (not told: PartialLogout).
async fn other_participants(
    state: &AppState,
    sessions: &[Uuid],
    sp_id: Uuid,
) -> DomainResult<Vec<saml_participant::Model>> {
    if sessions.is_empty() {
        return Ok(vec![]);
    }
    Ok(saml_participant::Entity::find()
        .filter(saml_participant::Column::SessionId.is_in(sessions.to_vec()))
        .filter(saml_participant::Column::SpId.ne(sp_id))
        .filter(saml_participant::Column::EndedAt.is_null())
        .all(&state.db)
        .await?)
}

/// The signed LogoutResponse over the SP's SLO binding.
async fn answer(
    state: &AppState,
    tenant: &tenant::Model,
    sp: &saml_sp::Model,
    slo_url: &str,
    in_response_to: &str,
    relay_state: Option<&str>,
    (status, sub, message): (&'static str, Option<&'static str>, Option<&str>),
) -> DomainResult<HttpResponse> {
    let signer = super::certs::tenant_signer(state, tenant).await?;
    let id = super::new_id()?;
    let issuer = super::entity_id(&state.config.issuer(&tenant.slug));
    let post = sp.slo_binding.as_deref() == Some(BINDING_POST);
    let xml = response::render(&ResponseXml {
        kind: "LogoutResponse",
        id: &id,
        now: super::instant(state.now()),
        destination: slo_url,
        in_response_to: Some(in_response_to),
        issuer: &issuer,
        signature: response::template_if(post, &id, &signer),
        status,
        sub_status: sub,
        message,
        assertion: String::new(),
    })?;
    if post {
        let xml = response::sign(&xml, &signer)?;
        Ok(super::sso::post_to(
            slo_url,
            "SAMLResponse",
            &xml,
            relay_state,
        ))
    } else {
        let url = response::redirect_url(slo_url, "SAMLResponse", &xml, relay_state, &signer)?;
        Ok(HttpResponse::Found()
            .insert_header((actix_web::http::header::LOCATION, url))
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .finish())
    }
}

/// IdP-initiated logout of a session: signed LogoutRequest URLs (HTTP-Redirect) for every SP
/// with an SLO URL that received an assertion in it, and the participants marked ended.
pub async fn front_channel(
    state: &AppState,
    tenant: &tenant::Model,
    session_id: Uuid,
) -> DomainResult<Vec<String>> {
    let rows = saml_participant::Entity::find()
        .filter(saml_participant::Column::SessionId.eq(session_id))
        .filter(saml_participant::Column::EndedAt.is_null())
        .find_also_related(saml_sp::Entity)
        .all(&state.db)
        .await?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let now = state.now();
    let signer = super::certs::tenant_signer(state, tenant).await?;
    let issuer = super::entity_id(&state.config.issuer(&tenant.slug));
    let mut urls = Vec::new();
    for (p, sp) in rows {
        let Some(slo) = sp.and_then(|sp| sp.slo_url) else {
            continue;
        };
        let id = super::new_id()?;
        let xml = response::render(&LogoutRequestXml {
            id: &id,
            now: super::instant(now),
            destination: &slo,
            not_on_or_after: super::instant(now + Duration::seconds(super::ASSERTION_TTL_SECS)),
            issuer: &issuer,
            signature: String::new(),
            name_id: &p.name_id,
            name_id_format: &p.name_id_format,
            session_index: &p.session_index,
        })?;
        urls.push(response::redirect_url(
            &slo,
            "SAMLRequest",
            &xml,
            None,
            &signer,
        )?);
    }
    saml_participant::Entity::update_many()
        .col_expr(saml_participant::Column::EndedAt, Expr::value(now))
        .filter(saml_participant::Column::SessionId.eq(session_id))
        .exec(&state.db)
        .await?;
    Ok(urls)
}
