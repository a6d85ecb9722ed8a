//! Web Browser SSO (SAML profiles §4.1): SP-initiated over HTTP-Redirect and HTTP-POST,
//! IdP-initiated, and the answer as an auto-submitting form to the SP's registered ACS URL.
//!
//! An accepted AuthnRequest is stored (its ID can never be used again by that SP) and the
//! browser goes on to `/saml/sso/continue?id=…`, through the sign-in page when needed. That
//! hop is also what lets the session cookie (SameSite=Lax) arrive after a cross-site POST.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::Duration;
use entity::{saml_participant, saml_request, saml_sp, session, tenant, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::error::SamlError;
use super::message::{self, Binding, SigCheck};
use super::request::{self, RequestedContext};
use super::response::{self, Attr};
use super::sps::{self, Acs};
use super::{BINDING_POST, NameIdFormat, certs};
use crate::audit::{self, actions};
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path};
use crate::state::AppState;
use crate::ui;

/// Where an answer goes once the SP and its ACS URL are verified.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    pub acs_url: String,
    pub in_response_to: Option<String>,
    pub relay_state: Option<String>,
}

/// What a stored AuthnRequest still needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    reply: Reply,
    force_authn: bool,
    is_passive: bool,
    name_id_format: Option<String>,
    requested_context: Option<RequestedContext>,
    /// The request's `<Subject>`: the response must be about that user.
    #[serde(default)]
    subject: Option<request::Subject>,
}

/// The AuthnContextClassRef of a password sign-in (PasswordProtectedTransport only over
/// HTTPS).
fn achieved_context(state: &AppState, session: Option<&session::Model>) -> &'static str {
    if session.is_some_and(|s| crate::mfa::is_mfa(&s.amr)) {
        super::AC_REFEDS_MFA
    } else if state.https() {
        super::AC_PASSWORD_PROTECTED_TRANSPORT
    } else {
        super::AC_PASSWORD
    }
}

fn sso_url(state: &AppState, tenant: &tenant::Model) -> String {
    format!("{}{}", state.config.issuer(&tenant.slug), routes::SAML_SSO)
}

/// `GET {issuer}/saml/sso`: HTTP-Redirect binding.
pub async fn redirect(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let tenant = match ui::load_tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let result = match message::redirect_params(req.query_string(), "SAMLRequest") {
        Ok(p) => accept(&state, &req, &tenant, Binding::Redirect, p).await,
        Err(e) => Err((None, e.into())),
    };
    finish(&state, &req, &tenant, result).await
}

/// `POST {issuer}/saml/sso`: HTTP-POST binding.
pub async fn post(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let tenant = match ui::load_tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let result = match Form::parse(&body) {
        Ok(form) => {
            let p = message::RedirectParams {
                message: form.opt("SAMLRequest").map(str::to_string),
                relay_state: form.opt("RelayState").map(str::to_string),
                ..Default::default()
            };
            accept(&state, &req, &tenant, Binding::Post, p).await
        }
        Err(_) => Err((None, SamlError::page("The SAML form could not be read."))),
    };
    finish(&state, &req, &tenant, result).await
}

type Outcome = Result<HttpResponse, (Option<(saml_sp::Model, Reply)>, SamlError)>;

/// Map an outcome to the wire: a page, or a signed status Response to the verified ACS.
async fn finish(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    result: Outcome,
) -> HttpResponse {
    match result {
        Ok(res) => res,
        Err((Some((sp, reply)), SamlError::Status { top, sub, message })) => {
            audit_failure(state, req, tenant, &sp, &message).await;
            match status_response(state, tenant, &sp, &reply, top, sub, &message).await {
                Ok(res) => res,
                Err(e) => SamlError::from(e).into_page(),
            }
        }
        Err((_, e)) => e.into_page(),
    }
}

impl SamlError {
    /// The HTML page of an error that cannot go to an SP.
    pub fn into_page(self) -> HttpResponse {
        match self {
            SamlError::Page(e) => e.error_response(),
            SamlError::Status { message, .. } => ui::UiError::BadRequest(message).error_response(),
        }
    }
}

async fn audit_failure(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    sp: &saml_sp::Model,
    why: &str,
) {
    let meta = ui::meta(req, state);
    let event = audit::Event::new(
        actions::SAML_LOGIN_FAILURE,
        format!("saml_sp:{}", sp.entity_id),
        &meta,
    )
    .tenant(tenant.id)
    .target(format!("saml_sp:{}", sp.entity_id))
    .details(serde_json::json!({ "reason": why }))
    .failed();
    if let Err(e) = audit::record(&state.db, state.now(), event).await {
        tracing::warn!(error = %e, "could not record a SAML failure");
    }
}

/// Find the ACS endpoint the request names (exactly as registered), or the default one.
fn resolve_acs(sp: &saml_sp::Model, r: &request::AuthnRequest) -> Result<Acs, SamlError> {
    let registered = sps::acs_of(sp);
    let post = |a: &&Acs| a.binding == BINDING_POST;
    let found = match (&r.acs_url, r.acs_index) {
        (Some(url), _) => registered
            .iter()
            .filter(post)
            .find(|a| &a.url == url)
            .cloned(),
        (None, Some(i)) => registered
            .iter()
            .filter(post)
            .find(|a| a.index == i)
            .cloned(),
        (None, None) => sps::default_acs(sp),
    };
    found.ok_or_else(|| {
        SamlError::page(
            "The application sent you here with an AssertionConsumerService address it has not \
             registered, so the sign-in cannot be sent to it.",
        )
    })
}

/// Check signatures as the SP's registration says (bindings §3.4.4.1 and §3.5.4).
/// Returns whether the request was verified with RSA-SHA1 (allowed for this SP; audited).
fn check_signature(
    sp: &saml_sp::Model,
    binding: Binding,
    p: &message::RedirectParams,
    xml: &str,
    header: &message::Header,
) -> Result<bool, SamlError> {
    let certs = sps::signing_certs_of(sp);
    let sig = message::check_signature(binding, p, xml, header, &certs, sp.allow_sha1);
    if sp.want_authn_requests_signed && !sig.present() {
        return Err(SamlError::page(
            "The application must sign its sign-in requests, and this one is not signed.",
        ));
    }
    if sig.present() && !certs.is_empty() {
        match sig {
            SigCheck::Sha1Refused => {
                return Err(SamlError::page(message::sha1_refused(
                    "The sign-in request",
                )));
            }
            SigCheck::Verified { sha1 } => return Ok(sha1),
            _ => {
                return Err(SamlError::page(
                    "The request's signature could not be verified.",
                ));
            }
        }
    }
    Ok(false)
}

/// Validate an AuthnRequest and store it; then go on to sign-in.
async fn accept(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    binding: Binding,
    p: message::RedirectParams,
) -> Outcome {
    let Some(encoded) = p.message.as_deref() else {
        return Err((None, SamlError::page("The request has no SAMLRequest.")));
    };
    if p.relay_state.as_ref().is_some_and(|r| r.len() > 1024) {
        return Err((None, SamlError::page("The RelayState is too long.")));
    }
    // Parse under a block: libxml documents stay on this thread and out of the awaits.
    let (xml, parsed) = {
        let xml = message::decode(encoded, binding).map_err(|e| (None, e.into()))?;
        let doc = message::parse(&xml).map_err(|e| (None, e.into()))?;
        let parsed = request::parse(&doc).map_err(|e| (None, e.into()))?;
        (xml, parsed)
    };
    let Some(issuer) = parsed.header.issuer.as_deref() else {
        return Err((
            None,
            SamlError::page("The request does not name its Issuer."),
        ));
    };
    let sp = match sps::find(&state.db, tenant.id, issuer).await {
        Ok(Some(sp)) => sp,
        Ok(None) => {
            return Err((
                None,
                SamlError::page(
                    "The application that sent you here is not registered with this sign-in \
                     service.",
                ),
            ));
        }
        Err(e) => return Err((None, e.into())),
    };
    let acs = resolve_acs(&sp, &parsed).map_err(|e| (None, e))?;
    let sha1 = check_signature(&sp, binding, &p, &xml, &parsed.header).map_err(|e| (None, e))?;
    if sha1 {
        sps::record_sha1_accepted(
            &state.db,
            state.now(),
            &sp,
            "AuthnRequest",
            &ui::meta(req, state),
        )
        .await
        .map_err(|e| (None, e.into()))?;
    }
    let mut parsed = parsed;
    parsed.header.signed_binding = match binding {
        Binding::Redirect => p.signature.is_some(),
        Binding::Post => parsed.header.signed,
    };
    let reply = Reply {
        acs_url: acs.url,
        in_response_to: Some(parsed.header.id.clone()),
        relay_state: p.relay_state.clone(),
    };
    let ctx = (sp.clone(), reply.clone());
    let fail = |e: SamlError| (Some(ctx.clone()), e);
    match validate(state, tenant, &parsed) {
        Ok(()) => {}
        Err(e) => return Err(fail(e)),
    }
    let now = state.now();
    let pending = Pending {
        reply,
        force_authn: parsed.force_authn,
        is_passive: parsed.is_passive,
        name_id_format: parsed.name_id_format.clone(),
        requested_context: parsed.requested_context.clone(),
        subject: parsed.subject.clone(),
    };
    let id = Uuid::new_v4();
    let stored = saml_request::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant.id),
        sp_id: Set(sp.id),
        request_id: Set(parsed.header.id.clone()),
        request: Set(serde_json::to_value(&pending)
            .map_err(|e| fail(SamlError::from(crate::error::DomainError::internal(e))))?),
        created_at: Set(now),
        expires_at: Set(now + Duration::seconds(super::REQUEST_TTL_SECS)),
        consumed_at: Set(None),
    }
    .insert(&state.db)
    .await;
    match stored {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            return Err(fail(SamlError::requester(
                response::STATUS_REQUEST_DENIED,
                "this request ID has been used before",
            )));
        }
        Err(e) => return Err(fail(crate::error::DomainError::from(e).into())),
    }
    Ok(ui::see_other(&continue_path(&tenant.slug, id)).finish())
}

fn continue_path(slug: &str, id: Uuid) -> String {
    format!("{}?id={id}", tenant_path(slug, routes::SAML_SSO_CONTINUE))
}

/// The checks after which a failure is the SP's to hear about.
fn validate(
    state: &AppState,
    tenant: &tenant::Model,
    r: &request::AuthnRequest,
) -> Result<(), SamlError> {
    use response::*;
    // Bindings §3.4.5.2 / §3.5.5.2: a signed message names where it was sent.
    if r.header.signed_binding && r.header.destination.is_none() {
        return Err(SamlError::requester(
            STATUS_REQUEST_DENIED,
            "a signed request must carry its Destination",
        ));
    }
    if let Some(d) = &r.header.destination
        && d != &sso_url(state, tenant)
    {
        return Err(SamlError::requester(
            STATUS_REQUEST_DENIED,
            "the Destination is not this IdP's SingleSignOnService",
        ));
    }
    let now = state.now();
    let skew = Duration::seconds(super::CLOCK_SKEW_SECS);
    if r.header.issue_instant > now + skew {
        return Err(SamlError::requester(
            STATUS_REQUEST_DENIED,
            "the IssueInstant is in the future",
        ));
    }
    if r.header.issue_instant < now - skew - Duration::seconds(super::MAX_REQUEST_AGE_SECS) {
        return Err(SamlError::requester(
            STATUS_REQUEST_DENIED,
            "the request has expired (IssueInstant too old)",
        ));
    }
    if let Some(b) = &r.protocol_binding
        && b != BINDING_POST
    {
        return Err(SamlError::requester(
            STATUS_UNSUPPORTED_BINDING,
            "responses are sent over HTTP-POST only",
        ));
    }
    if let Some(f) = &r.name_id_format
        && NameIdFormat::parse(f).is_none()
    {
        return Err(SamlError::requester(
            STATUS_INVALID_NAMEID_POLICY,
            "the requested NameID format is not supported",
        ));
    }
    // What the best sign-in Plinto can ask for reaches (a second factor).
    if request::context_for(r.requested_context.as_ref(), super::AC_REFEDS_MFA).is_none() {
        return Err(SamlError::responder(
            STATUS_NO_AUTHN_CONTEXT,
            "the requested authentication context cannot be met",
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct ResumeQuery {
    id: Uuid,
}

/// `GET {issuer}/saml/sso/continue?id=…`: the stored request, with the user now signed in
/// (or not, for IsPassive).
pub async fn resume(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Result<web::Query<ResumeQuery>, actix_web::Error>,
) -> HttpResponse {
    let tenant = match ui::load_tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let Ok(query) = query else {
        return SamlError::page("The sign-in request is missing.").into_page();
    };
    let result = resume_inner(&state, &req, &tenant, query.id).await;
    finish(&state, &req, &tenant, result).await
}

const GONE: &str = "This sign-in request has expired or has already been answered. Go back to \
                    the application and sign in again.";

async fn resume_inner(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    id: Uuid,
) -> Outcome {
    let now = state.now();
    let found = saml_request::Entity::find_by_id(id)
        .filter(saml_request::Column::TenantId.eq(tenant.id))
        .filter(saml_request::Column::ConsumedAt.is_null())
        .filter(saml_request::Column::ExpiresAt.gt(now))
        .one(&state.db)
        .await
        .map_err(|e| (None, crate::error::DomainError::from(e).into()))?;
    let Some(stored) = found else {
        return Err((None, SamlError::page(GONE)));
    };
    let sp = saml_sp::Entity::find_by_id(stored.sp_id)
        .one(&state.db)
        .await
        .map_err(|e| (None, crate::error::DomainError::from(e).into()))?
        .ok_or_else(|| (None, SamlError::page(GONE)))?;
    let pending: Pending = serde_json::from_value(stored.request.clone())
        .map_err(|_| (None, SamlError::page(GONE)))?;
    let ctx = (sp.clone(), pending.reply.clone());
    let fail = |e: SamlError| (Some(ctx.clone()), e);
    let current = ui::current_session(req, state, tenant)
        .await
        .map_err(|e| fail(e.into()))?;
    let fresh = |s: &session::Model| !pending.force_authn || s.created_at >= stored.created_at;
    // A session of another user than the request's Subject began before the request: ask
    // for a sign-in (then a mismatch is refused below).
    let names_user = |u: &user::Model| {
        pending
            .subject
            .as_ref()
            .is_none_or(|subject| is_subject(state, &sp, u, subject))
    };
    let signed_in = current
        .filter(|(s, _)| fresh(s))
        .filter(|(s, u)| names_user(u) || s.created_at >= stored.created_at || pending.is_passive);
    let Some((session, user)) = signed_in else {
        if pending.is_passive {
            consume(state, id).await.map_err(|e| (None, e))?;
            return Err(fail(SamlError::responder(
                response::STATUS_NO_PASSIVE,
                "the user is not signed in and IsPassive forbids asking",
            )));
        }
        let fresh_login = pending.force_authn || pending.subject.is_some();
        return Ok(to_login(
            tenant,
            &continue_path(&tenant.slug, id),
            fresh_login,
        ));
    };
    // SAML core §3.4.1.4: the response is about the Subject the request names, or an error.
    if !names_user(&user) {
        consume(state, id).await.map_err(|e| (None, e))?;
        return Err(fail(SamlError::requester(
            response::STATUS_REQUEST_DENIED,
            "the signed-in user is not the Subject of the request",
        )));
    }
    // The tenant's MFA policy, or a requested context that needs a second factor.
    let needs_more = request::context_for(
        pending.requested_context.as_ref(),
        achieved_context(state, Some(&session)),
    )
    .is_none();
    let here = continue_path(&tenant.slug, id);
    if let Some(res) = ui::mfa::gate(state, tenant, &session, &user, &here, needs_more)
        .await
        .map_err(|e| fail(e.into()))?
    {
        if pending.is_passive {
            consume(state, id).await.map_err(|e| (None, e))?;
            return Err(fail(SamlError::responder(
                response::STATUS_NO_PASSIVE,
                "a second factor is needed and IsPassive forbids asking",
            )));
        }
        return Ok(res);
    }
    consume(state, id).await.map_err(|e| (None, e))?;
    let format = pending
        .name_id_format
        .as_deref()
        .and_then(NameIdFormat::parse)
        .filter(|f| *f != NameIdFormat::Unspecified);
    let class_ref = request::context_for(
        pending.requested_context.as_ref(),
        achieved_context(state, Some(&session)),
    )
    .ok_or_else(|| {
        fail(SamlError::responder(
            response::STATUS_NO_AUTHN_CONTEXT,
            "the requested authentication context cannot be met",
        ))
    })?;
    issue(
        state,
        req,
        tenant,
        &sp,
        &pending.reply,
        &session,
        &user,
        format,
        &class_ref,
    )
    .await
    .map_err(fail)
}

/// Mark a stored request answered; a second answer is refused.
async fn consume(state: &AppState, id: Uuid) -> Result<(), SamlError> {
    let res = saml_request::Entity::update_many()
        .col_expr(saml_request::Column::ConsumedAt, Expr::value(state.now()))
        .filter(saml_request::Column::Id.eq(id))
        .filter(saml_request::Column::ConsumedAt.is_null())
        .exec(&state.db)
        .await
        .map_err(crate::error::DomainError::from)?;
    if res.rows_affected == 0 {
        return Err(SamlError::page(GONE));
    }
    Ok(())
}

fn to_login(tenant: &tenant::Model, return_to: &str, fresh: bool) -> HttpResponse {
    let login = routes::tenant_path_returning(&tenant.slug, routes::LOGIN, return_to);
    let prompt = if fresh { "&prompt=login" } else { "" };
    ui::see_other(&format!("{login}{prompt}")).finish()
}

#[derive(Deserialize)]
pub struct InitQuery {
    sp: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `GET {issuer}/saml/sso/init?sp=<entityID>[&RelayState=…]`: IdP-initiated SSO, an
/// unsolicited Response to the SP's default ACS.
pub async fn init(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Result<web::Query<InitQuery>, actix_web::Error>,
) -> HttpResponse {
    let tenant = match ui::load_tenant(&state, &path).await {
        Ok(t) => t,
        Err(e) => return e.error_response(),
    };
    let Ok(query) = query else {
        return SamlError::page("Name the service provider: ?sp=<entityID>.").into_page();
    };
    let result = init_inner(&state, &req, &tenant, query.into_inner()).await;
    finish(&state, &req, &tenant, result).await
}

async fn init_inner(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    q: InitQuery,
) -> Outcome {
    if q.relay_state.as_ref().is_some_and(|r| r.len() > 1024) {
        return Err((None, SamlError::page("The RelayState is too long.")));
    }
    let sp = sps::find(&state.db, tenant.id, &q.sp)
        .await
        .map_err(|e| (None, e.into()))?
        .ok_or_else(|| {
            (
                None,
                SamlError::page("There is no such service provider registered here."),
            )
        })?;
    let acs = sps::default_acs(&sp).ok_or_else(|| {
        (
            None,
            SamlError::page("The service provider has no ACS URL."),
        )
    })?;
    let reply = Reply {
        acs_url: acs.url,
        in_response_to: None,
        relay_state: q.relay_state.clone(),
    };
    let current = ui::current_session(req, state, tenant)
        .await
        .map_err(|e| (None, e.into()))?;
    let Some((session, user)) = current else {
        let here = format!(
            "{}?{}",
            tenant_path(&tenant.slug, routes::SAML_SSO_INIT),
            req.query_string()
        );
        return Ok(to_login(tenant, &here, false));
    };
    let ctx = (sp.clone(), reply.clone());
    let here = format!(
        "{}?{}",
        tenant_path(&tenant.slug, routes::SAML_SSO_INIT),
        req.query_string()
    );
    if let Some(res) = ui::mfa::gate(state, tenant, &session, &user, &here, false)
        .await
        .map_err(|e| (None, e.into()))?
    {
        return Ok(res);
    }
    issue(
        state,
        req,
        tenant,
        &sp,
        &reply,
        &session,
        &user,
        None,
        achieved_context(state, Some(&session)),
    )
    .await
    .map_err(|e| (Some(ctx), e))
}

/// Whether `user` is the request's Subject: its NameID is the one this SP gets for the user
/// in that format (or the SP's). A transient NameID never names anyone again.
fn is_subject(
    state: &AppState,
    sp: &saml_sp::Model,
    user: &user::Model,
    subject: &request::Subject,
) -> bool {
    let format = subject
        .format
        .as_deref()
        .or(Some(sp.name_id_format.as_str()))
        .and_then(NameIdFormat::parse)
        .unwrap_or(NameIdFormat::Unspecified);
    match format {
        NameIdFormat::Transient => false,
        NameIdFormat::EmailAddress | NameIdFormat::Unspecified => name_id(state, sp, user, format)
            .is_ok_and(|mine| subject.name_id.eq_ignore_ascii_case(&mine)),
        NameIdFormat::Persistent => name_id(state, sp, user, format)
            .is_ok_and(|mine| crate::crypto::ct_eq(mine.as_bytes(), subject.name_id.as_bytes())),
    }
}

/// The NameID for the user at this SP. An account without an address has no emailAddress
/// NameID (SAML Core §3.4.1.1: the IdP cannot meet the policy); unspecified is its userName.
fn name_id(
    state: &AppState,
    sp: &saml_sp::Model,
    user: &user::Model,
    format: NameIdFormat,
) -> Result<String, SamlError> {
    Ok(match format {
        NameIdFormat::EmailAddress => user.email.clone().ok_or_else(|| {
            SamlError::responder(
                response::STATUS_INVALID_NAMEID_POLICY,
                "the user has no email address for an emailAddress NameID",
            )
        })?,
        NameIdFormat::Unspecified => user.identifier().to_string(),
        // Pairwise: the same for this user at this SP, unlinkable across SPs.
        NameIdFormat::Persistent => state
            .keys
            .saml
            .mac_b64(format!("{}|{}|{}", user.tenant_id, sp.entity_id, user.id).as_bytes()),
        NameIdFormat::Transient => super::new_id()?,
    })
}

async fn attributes(
    state: &AppState,
    sp: &saml_sp::Model,
    user: &user::Model,
) -> crate::error::DomainResult<Vec<Attr>> {
    let profile = crate::accounts::profile::of(user);
    let mut out = Vec::new();
    for m in sps::attributes_of(sp) {
        let values: Vec<String> = match m.source.as_str() {
            "email" => user.email.clone().into_iter().collect(),
            "name" => user.name.clone().into_iter().collect(),
            "user_name" => vec![user.user_name.clone()],
            "given_name" => profile.given_name.clone().into_iter().collect(),
            "family_name" => profile.family_name.clone().into_iter().collect(),
            "nickname" => profile.nickname.clone().into_iter().collect(),
            "phone_number" => profile.phone_number.clone().into_iter().collect(),
            "locale" => profile.locale.clone().into_iter().collect(),
            "zoneinfo" => profile.zoneinfo.clone().into_iter().collect(),
            "picture" => profile.picture.clone().into_iter().collect(),
            "address" => profile
                .address
                .as_ref()
                .and_then(|a| a.formatted.clone())
                .into_iter()
                .collect(),
            "groups" => crate::scim::users::groups_of(&state.db, &[user.id])
                .await
                .map_err(|e| crate::error::DomainError::internal(format!("{e:?}")))?
                .remove(&user.id)
                .unwrap_or_default()
                .into_iter()
                .map(|(_, name)| name)
                .collect(),
            _ => vec![],
        };
        if !values.is_empty() {
            out.push(Attr {
                friendly: sps::friendly_name(&m.name),
                name: m.name,
                values,
            });
        }
    }
    Ok(out)
}

/// Answer the SP: a signed (and, if asked, encrypted) assertion in a Response, POSTed by the
/// browser to the ACS URL.
#[allow(clippy::too_many_arguments)]
async fn issue(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    sp: &saml_sp::Model,
    reply: &Reply,
    session: &session::Model,
    user: &user::Model,
    requested_format: Option<NameIdFormat>,
    class_ref: &str,
) -> Result<HttpResponse, SamlError> {
    let now = state.now();
    let issuer = super::entity_id(&state.config.issuer(&tenant.slug));
    let format = requested_format
        .or_else(|| NameIdFormat::parse(&sp.name_id_format))
        .unwrap_or(NameIdFormat::Unspecified);
    let name_id = name_id(state, sp, user, format)?;
    let session_index = super::new_id()?;
    saml_participant::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant.id),
        session_id: Set(session.id),
        sp_id: Set(sp.id),
        name_id: Set(name_id.clone()),
        name_id_format: Set(format.urn().to_string()),
        session_index: Set(session_index.clone()),
        created_at: Set(now),
        ended_at: Set(None),
    }
    .insert(&state.db)
    .await
    .map_err(crate::error::DomainError::from)?;
    let attributes = attributes(state, sp, user).await?;
    let signer = certs::tenant_signer(state, tenant).await?;
    let assertion_id = super::new_id()?;
    let (not_before, not_on_or_after) = response::window(now);
    // Never send an assertion nobody signed: without either flag, the Response is signed.
    let sign_response = sp.sign_response || !sp.sign_assertion;
    let assertion = response::render(&response::AssertionXml {
        id: &assertion_id,
        now: super::instant(now),
        issuer: &issuer,
        signature: response::template_if(sp.sign_assertion, &assertion_id, &signer),
        name_id: &name_id,
        name_id_format: format.urn(),
        sp_name_qualifier: (format == NameIdFormat::Persistent).then_some(sp.entity_id.as_str()),
        in_response_to: reply.in_response_to.as_deref(),
        recipient: &reply.acs_url,
        not_before,
        not_on_or_after: not_on_or_after.clone(),
        audience: &sp.entity_id,
        authn_instant: super::instant(session.created_at),
        session_index: &session_index,
        session_not_on_or_after: super::instant(session.expires_at),
        class_ref,
        attributes,
    })?;
    let assertion = if sp.sign_assertion {
        response::sign(&assertion, &signer)?
    } else {
        assertion
    };
    let assertion = match (&sp.encryption_cert, sp.encrypt_assertion) {
        (Some(cert), true) => response::encrypt_assertion(&assertion, cert, &sp.encryption_method)?,
        _ => assertion,
    };
    let response_id = super::new_id()?;
    let xml = response::render(&response::ResponseXml {
        kind: "Response",
        id: &response_id,
        now: super::instant(now),
        destination: &reply.acs_url,
        in_response_to: reply.in_response_to.as_deref(),
        issuer: &issuer,
        signature: response::template_if(sign_response, &response_id, &signer),
        status: response::STATUS_SUCCESS,
        sub_status: None,
        message: None,
        assertion,
    })?;
    let xml = if sign_response {
        response::sign(&xml, &signer)?
    } else {
        xml
    };
    audit::record(
        &state.db,
        now,
        audit::Event::new(
            actions::SAML_LOGIN,
            audit::user_actor(user.id),
            &ui::meta(req, state),
        )
        .tenant(tenant.id)
        .target(format!("saml_sp:{}", sp.entity_id))
        .details(serde_json::json!({
            "name_id_format": format.urn(),
            "session_index": session_index,
            "idp_initiated": reply.in_response_to.is_none(),
        })),
    )
    .await?;
    Ok(post_to(
        &reply.acs_url,
        "SAMLResponse",
        &xml,
        reply.relay_state.as_deref(),
    ))
}

/// The auto-submitting form that carries a message to an SP (HTTP-POST binding).
pub fn post_to(url: &str, field: &str, xml: &str, relay_state: Option<&str>) -> HttpResponse {
    let Ok(parsed) = url::Url::parse(url) else {
        return ui::UiError::BadRequest("The registered address is invalid.".into())
            .error_response();
    };
    let encoded = response::b64(xml);
    let mut fields = vec![(field, encoded.as_str())];
    if let Some(rs) = relay_state {
        fields.push(("RelayState", rs));
    }
    crate::oidc::authorize::form_post(&parsed, url, &fields)
}

/// A signed Response carrying only a failure status.
async fn status_response(
    state: &AppState,
    tenant: &tenant::Model,
    sp: &saml_sp::Model,
    reply: &Reply,
    top: &'static str,
    sub: Option<&'static str>,
    message: &str,
) -> crate::error::DomainResult<HttpResponse> {
    let signer = certs::tenant_signer(state, tenant).await?;
    let id = super::new_id()?;
    let issuer = super::entity_id(&state.config.issuer(&tenant.slug));
    let xml = response::render(&response::ResponseXml {
        kind: "Response",
        id: &id,
        now: super::instant(state.now()),
        destination: &reply.acs_url,
        in_response_to: reply.in_response_to.as_deref(),
        issuer: &issuer,
        signature: response::template_if(true, &id, &signer),
        status: top,
        sub_status: sub,
        message: Some(message),
        assertion: String::new(),
    })?;
    let xml = response::sign(&xml, &signer)?;
    tracing::info!(sp = %sp.entity_id, status = top, "SAML status response");
    Ok(post_to(
        &reply.acs_url,
        "SAMLResponse",
        &xml,
        reply.relay_state.as_deref(),
    ))
}
