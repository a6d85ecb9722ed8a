//! Two-step verification pages: the second step of sign-in (`/login/mfa`, also step-up of a
//! signed-in session), setting up an authenticator app, recovery codes, and the gate that
//! walks users through enrollment when the tenant's policy asks for a second factor.
//!
//! Between the password and the second factor, the browser holds a short-lived pending
//! cookie (`user id . time . nonce . MAC`, ten minutes): no session exists until both are
//! proven, and the cookie starts one session only (its MAC goes into a replay cache).

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use entity::{session, tenant, user};
use uuid::Uuid;

use super::{
    CsrfToken, UiError, UiResult, current_session, load_tenant, page, read_form, see_other,
};
use crate::accounts::notices::{self, FactorChange, OwnerNotice};
use crate::accounts::sessions;
use crate::audit::{self, actions};
use crate::crypto;
use crate::http::form::Form;
use crate::http::routes::{self, tenant_path, tenant_path_returning};
use crate::mfa;
use crate::ratelimit::Kind;
use crate::state::AppState;

const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

fn pending_name(https: bool, slug: &str) -> String {
    if https {
        format!("__Host-plinto-mfa-{slug}")
    } else {
        format!("plinto-mfa-{slug}")
    }
}

fn pending_mac(
    state: &AppState,
    tenant: &tenant::Model,
    user: Uuid,
    ms: i64,
    nonce: &str,
) -> String {
    state
        .keys
        .csrf
        .mac_b64(format!("mfa-pending|{}|{user}|{ms}|{nonce}", tenant.id).as_bytes())
}

fn pending_cookie(state: &AppState, tenant: &tenant::Model, value: String) -> Cookie<'static> {
    Cookie::build(pending_name(state.https(), &tenant.slug), value)
        .path("/")
        .http_only(true)
        .secure(state.https())
        .same_site(SameSite::Lax)
        .finish()
}

fn pending_removal(state: &AppState, tenant: &tenant::Model) -> Cookie<'static> {
    let mut c = pending_cookie(state, tenant, String::new());
    c.make_removal();
    c
}

/// The user whose password was right, if the pending cookie is genuine and fresh; with the
/// cookie's MAC, which names it for [`used_key`].
fn read_pending(
    req: &HttpRequest,
    state: &AppState,
    tenant: &tenant::Model,
) -> Option<(Uuid, String)> {
    let c = req.cookie(&pending_name(state.https(), &tenant.slug))?;
    let mut parts = c.value().splitn(4, '.');
    let user: Uuid = parts.next()?.parse().ok()?;
    let ms: i64 = parts.next()?.parse().ok()?;
    let nonce = parts.next()?;
    let mac = parts.next()?;
    let now = state.now().timestamp_millis();
    let fresh = ms <= now + 1000 && now.saturating_sub(ms) <= PENDING_TTL_MS;
    let genuine = crypto::ct_eq(
        mac.as_bytes(),
        pending_mac(state, tenant, user, ms, nonce).as_bytes(),
    );
    (fresh && genuine).then(|| (user, mac.to_string()))
}

/// The replay-cache key of a pending cookie: set once its second step succeeded, so that a
/// copy of the cookie (another browser) cannot start a second session.
fn used_key(mac: &str) -> String {
    format!("mfa:pending:used:{mac}")
}

/// After a right password, for a user with a second factor: the pending cookie and the way
/// to the second step.
pub fn challenge(
    state: &AppState,
    tenant: &tenant::Model,
    user: &user::Model,
    return_to: &str,
) -> UiResult {
    let ms = state.now().timestamp_millis();
    // Each sign-in its own cookie, even two in the same millisecond.
    let nonce = crypto::random_token(16)?;
    let value = format!(
        "{}.{ms}.{nonce}.{}",
        user.id,
        pending_mac(state, tenant, user.id, ms, &nonce)
    );
    Ok(see_other(&tenant_path_returning(
        &tenant.slug,
        routes::LOGIN_MFA,
        return_to,
    ))
    .cookie(pending_cookie(state, tenant, value))
    .finish())
}

/// Where a signed-in user must go before `return_to` is served: the second step when the
/// tenant's policy (or the request, `force`) asks for a second factor the session lacks;
/// enrollment when the user has none yet.
pub async fn gate(
    state: &AppState,
    tenant: &tenant::Model,
    session: &session::Model,
    user: &user::Model,
    return_to: &str,
    force: bool,
) -> Result<Option<HttpResponse>, UiError> {
    let needed = force || mfa::Policy::of(tenant).requires(user);
    if !needed || mfa::is_mfa(&session.amr) {
        return Ok(None);
    }
    let route = if mfa::enrolled(&state.db, user.id).await? {
        routes::LOGIN_MFA
    } else {
        routes::ACCOUNT_TOTP
    };
    Ok(Some(
        see_other(&tenant_path_returning(&tenant.slug, route, return_to)).finish(),
    ))
}

/// Who the second step is for.
pub(super) enum Who {
    /// A right password, no session yet (and the pending cookie's MAC).
    Pending(user::Model, String),
    /// A signed-in session asked to prove more (step-up).
    StepUp(Box<session::Model>, user::Model),
    /// No password at all: a passkey alone (passwordless).
    Passwordless(user::Model),
}

impl Who {
    pub(super) fn user(&self) -> &user::Model {
        match self {
            Who::Pending(u, _) | Who::StepUp(_, u) | Who::Passwordless(u) => u,
        }
    }
}

pub(super) async fn who(
    req: &HttpRequest,
    state: &AppState,
    tenant: &tenant::Model,
) -> Result<Option<Who>, UiError> {
    if let Some((id, mac)) = read_pending(req, state, tenant)
        && state
            .cache
            .get(&used_key(&mac))
            .await
            .map_err(crate::error::DomainError::from)?
            .is_none()
    {
        let u = crate::accounts::users::find(&state.db, tenant.id, id).await?;
        if let Some(u) = u.filter(|u| !u.disabled) {
            return Ok(Some(Who::Pending(u, mac)));
        }
    }
    Ok(current_session(req, state, tenant)
        .await?
        .map(|(s, u)| Who::StepUp(Box::new(s), u)))
}

#[derive(Template)]
#[template(path = "ui/mfa_challenge.html")]
struct ChallengePage<'a> {
    tenant_name: &'a str,
    has_totp: bool,
    has_passkey: bool,
    passkey_begin: String,
    passkey_finish: String,
    action: String,
    csrf_token: &'a str,
    return_to: &'a str,
    errors: Vec<String>,
    notice: Option<String>,
}

async fn render_challenge(
    req: &HttpRequest,
    state: &AppState,
    tenant: &tenant::Model,
    user: &user::Model,
    return_to: &str,
    status: StatusCode,
    errors: Vec<String>,
) -> UiResult {
    let csrf = CsrfToken::issue(req, state)?;
    let body = ChallengePage {
        tenant_name: &tenant.name,
        has_totp: mfa::totp_enrolled(&state.db, user.id).await?,
        has_passkey: !mfa::passkeys::list(&state.db, user.id).await?.is_empty(),
        passkey_begin: tenant_path(&tenant.slug, routes::PASSKEY_MFA_BEGIN),
        passkey_finish: tenant_path(&tenant.slug, routes::PASSKEY_MFA_FINISH),
        action: tenant_path(&tenant.slug, routes::LOGIN_MFA),
        csrf_token: &csrf.token,
        return_to,
        errors,
        notice: None,
    }
    .render()?;
    let mut res = page(status, Some(csrf), body);
    super::allow_form_redirects(&mut res);
    super::passkeys::allow_script(&mut res);
    Ok(res)
}

fn to_login(tenant: &tenant::Model, return_to: &str) -> HttpResponse {
    see_other(&tenant_path_returning(
        &tenant.slug,
        routes::LOGIN,
        return_to,
    ))
    .finish()
}

/// `GET /t/{tenant}/login/mfa`.
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let query = Form::parse(req.query_string().as_bytes())?;
    let return_to = super::return_to_or_account(&tenant.slug, query.opt("return_to"));
    let Some(who) = who(&req, &state, &tenant).await? else {
        return Ok(to_login(&tenant, &return_to));
    };
    if !mfa::enrolled(&state.db, who.user().id).await? {
        // Nothing to prove with yet: set one up first.
        return Ok(see_other(&tenant_path_returning(
            &tenant.slug,
            routes::ACCOUNT_TOTP,
            &return_to,
        ))
        .finish());
    }
    let user = who.user().clone();
    render_challenge(
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

/// `POST /t/{tenant}/login/mfa`: a TOTP code or a recovery code.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let return_to = super::return_to_or_account(&tenant.slug, form.opt("return_to"));
    let Some(who) = who(&req, &state, &tenant).await? else {
        return Ok(to_login(&tenant, &return_to));
    };
    let user = who.user().clone();
    let meta = super::meta(&req, &state);
    let (code, recovery) = (form.text("code").trim(), form.text("recovery_code").trim());
    let remaining = match check_code(&state, &tenant, &user, &meta, code, recovery).await? {
        CodeProof::Totp => None,
        CodeProof::Recovery { left } => Some(left),
        CodeProof::Wrong => {
            let message = if recovery.is_empty() {
                "That code is not right, or it was already used. Enter the current code from \
                 your authenticator app."
            } else {
                "That recovery code is not right, or it was already used."
            };
            return render_challenge(
                &req,
                &state,
                &tenant,
                &user,
                &return_to,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![message.into()],
            )
            .await;
        }
    };
    let now = state.now();
    let event = |action| {
        audit::Event::new(action, audit::user_actor(user.id), &meta)
            .tenant(tenant.id)
            .target(format!("user:{}", user.id))
    };
    audit::record(&state.db, now, event(actions::MFA_SUCCESS)).await?;
    if let Some(left) = remaining {
        audit::record(
            &state.db,
            now,
            event(actions::MFA_RECOVERY_CODE_USED)
                .details(serde_json::json!({ "remaining": left })),
        )
        .await?;
    }
    let session_cookie = proven(&state, &req, &tenant, &who, "otp").await?;
    let mut res = match remaining {
        // Tell the user what is left of their recovery codes before going on.
        Some(left) => super::message_page(
            &tenant,
            StatusCode::OK,
            "Signed in with a recovery code",
            &format!(
                "You signed in with a recovery code. You have {left} recovery code{} left. \
                 Make new ones on your account page if you are running out.",
                if left == 1 { "" } else { "s" }
            ),
            Some((return_to.clone(), "Continue")),
        )?,
        None => see_other(&return_to).finish(),
    };
    set_cookies(&mut res, &state, &tenant, session_cookie)?;
    Ok(res)
}

/// What a code typed by `user` proved.
pub(super) enum CodeProof {
    /// Nothing: the code was wrong or already used (audited as `mfa.failure`).
    Wrong,
    /// A code of the authenticator app.
    Totp,
    /// A recovery code, now used; `left` are still unused.
    Recovery { left: u64 },
}

/// Check a code of the authenticator app, or a recovery code when `recovery` is not empty,
/// for `user`, under the user's mfa rate limit. A wrong code is recorded as `mfa.failure`.
pub(super) async fn check_code(
    state: &AppState,
    tenant: &tenant::Model,
    user: &user::Model,
    meta: &audit::RequestMeta,
    code: &str,
    recovery: &str,
) -> Result<CodeProof, UiError> {
    state
        .limit(Some(tenant), Kind::Mfa, &user.id.to_string())
        .await?;
    let now = state.now();
    let proof = if !recovery.is_empty() {
        match mfa::recovery_use(&state.db, now, &state.keys.mfa_recovery, user.id, recovery).await?
        {
            Some(left) => CodeProof::Recovery { left },
            None => CodeProof::Wrong,
        }
    } else if mfa::totp_check(
        &state.db,
        now,
        &state.keys.mfa_secrets,
        user.id,
        code,
        false,
    )
    .await?
    {
        CodeProof::Totp
    } else {
        CodeProof::Wrong
    };
    if matches!(proof, CodeProof::Wrong) {
        audit::record(
            &state.db,
            now,
            audit::Event::new(actions::MFA_FAILURE, audit::user_actor(user.id), meta)
                .tenant(tenant.id)
                .target(audit::user_actor(user.id))
                .failed(),
        )
        .await?;
    }
    Ok(proof)
}

/// A second factor (`factor`, an RFC 8176 method) was proven: step the session up, or start
/// the session the password was waiting for. Returns the new session's cookie, if any.
pub(super) async fn proven(
    state: &AppState,
    req: &HttpRequest,
    tenant: &tenant::Model,
    who: &Who,
    factor: &str,
) -> Result<Option<Cookie<'static>>, UiError> {
    let now = state.now();
    match who {
        Who::StepUp(s, _) => {
            sessions::upgrade(&state.db, now, s.id, &mfa::with_factor(&s.amr, factor)).await?;
            Ok(None)
        }
        Who::Pending(user, _) | Who::Passwordless(user) => {
            if let Who::Pending(_, mac) = who {
                // Single use: the first to finish wins, a replayed copy of the cookie is refused.
                let ttl = std::time::Duration::from_millis(PENDING_TTL_MS.unsigned_abs() + 2000);
                let uses = state
                    .cache
                    .incr(&used_key(mac), ttl)
                    .await
                    .map_err(crate::error::DomainError::from)?;
                if uses > 1 {
                    return Err(UiError::BadRequest(
                        "This sign-in was already completed. Sign in again.".into(),
                    ));
                }
            }
            let before = if matches!(who, Who::Pending(..)) {
                "pwd"
            } else {
                ""
            };
            let amr = mfa::with_factor(before, factor);
            let (token, _) = sessions::create(
                &state.db,
                now,
                &state.keys.session,
                state.timeouts(),
                user,
                &super::meta(req, state),
                &amr,
            )
            .await?;
            Ok(Some(super::session_cookie(
                state.https(),
                &tenant.slug,
                token.0,
            )))
        }
    }
}

/// The pending cookie goes, the session cookie (if a session started) comes.
pub(super) fn set_cookies(
    res: &mut HttpResponse,
    state: &AppState,
    tenant: &tenant::Model,
    session_cookie: Option<Cookie<'static>>,
) -> Result<(), UiError> {
    res.add_cookie(&pending_removal(state, tenant))
        .map_err(|_| UiError::Internal)?;
    if let Some(c) = session_cookie {
        res.add_cookie(&c).map_err(|_| UiError::Internal)?;
    }
    Ok(())
}

#[derive(Template)]
#[template(path = "ui/mfa_totp.html")]
struct TotpPage<'a> {
    tenant_name: &'a str,
    required: bool,
    qr_svg: String,
    secret: String,
    uri: String,
    action: String,
    csrf_token: &'a str,
    return_to: &'a str,
    errors: Vec<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "ui/mfa_codes.html")]
struct CodesPage<'a> {
    tenant_name: &'a str,
    codes: Vec<String>,
    continue_url: &'a str,
    notice: Option<String>,
}

async fn signed_in_or_login(
    req: &HttpRequest,
    state: &AppState,
    tenant: &tenant::Model,
    return_to: &str,
) -> Result<Result<(session::Model, user::Model), HttpResponse>, UiError> {
    match current_session(req, state, tenant).await? {
        Some(found) => Ok(Ok(found)),
        None => Ok(Err(to_login(tenant, return_to))),
    }
}

async fn render_totp(
    req: &HttpRequest,
    state: &AppState,
    tenant: &tenant::Model,
    user: &user::Model,
    return_to: &str,
    status: StatusCode,
    errors: Vec<String>,
) -> UiResult {
    let secret = mfa::totp_begin(&state.db, state.now(), &state.keys.mfa_secrets, user).await?;
    let uri = mfa::totp::otpauth_uri(&secret, &tenant.name, user.identifier())?;
    let csrf = CsrfToken::issue(req, state)?;
    let body = TotpPage {
        tenant_name: &tenant.name,
        required: mfa::Policy::of(tenant).requires(user),
        qr_svg: mfa::totp::qr_svg(&uri)?,
        secret: mfa::totp::secret_base32(&secret),
        uri,
        action: tenant_path(&tenant.slug, routes::ACCOUNT_TOTP),
        csrf_token: &csrf.token,
        return_to,
        errors,
        notice: None,
    }
    .render()?;
    let mut res = page(status, Some(csrf), body);
    super::allow_form_redirects(&mut res);
    Ok(res)
}

/// `GET /t/{tenant}/account/mfa/totp`: the QR code and key of a new authenticator.
pub async fn totp_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let query = Form::parse(req.query_string().as_bytes())?;
    let return_to = super::return_to_or_account(&tenant.slug, query.opt("return_to"));
    let here = tenant_path_returning(&tenant.slug, routes::ACCOUNT_TOTP, &return_to);
    let (session, user) = match signed_in_or_login(&req, &state, &tenant, &here).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    // One authenticator app at a time (passkeys do not stop one being added).
    if mfa::totp_enrolled(&state.db, user.id).await? {
        return Ok(see_other(&tenant_path(&tenant.slug, routes::ACCOUNT)).finish());
    }
    if user.has_unverified_address() {
        return verify_first(&tenant);
    }
    if let Some(redirect) = super::reauth::required(&state, &tenant, &session, &here) {
        return Ok(redirect);
    }
    render_totp(
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

/// `POST /t/{tenant}/account/mfa/totp`: confirm the first code; recovery codes follow.
pub async fn totp_confirm(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    let form = read_form(&req, &state, &body)?;
    let return_to = super::return_to_or_account(&tenant.slug, form.opt("return_to"));
    let (session, user) = match signed_in_or_login(&req, &state, &tenant, &return_to).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    if user.has_unverified_address() {
        return verify_first(&tenant);
    }
    state
        .limit(Some(&tenant), Kind::Mfa, &user.id.to_string())
        .await
        .map_err(UiError::from)?;
    let now = state.now();
    let ok = mfa::totp_check(
        &state.db,
        now,
        &state.keys.mfa_secrets,
        user.id,
        form.text("code"),
        true,
    )
    .await?;
    if !ok {
        return render_totp(
            &req,
            &state,
            &tenant,
            &user,
            &return_to,
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["That code is not right. Enter the code the app shows now.".into()],
        )
        .await;
    }
    let meta = super::meta(&req, &state);
    audit::record(
        &state.db,
        now,
        audit::Event::new(actions::MFA_TOTP_ENROLL, audit::user_actor(user.id), &meta)
            .tenant(tenant.id)
            .target(format!("user:{}", user.id)),
    )
    .await?;
    // The code was a second factor proven in this session.
    sessions::upgrade(
        &state.db,
        now,
        session.id,
        &mfa::with_factor(&session.amr, "otp"),
    )
    .await?;
    let codes = mfa::recovery_generate(&state.db, now, &state.keys.mfa_recovery, &user).await?;
    notify_factor(&state, &tenant, &user, FactorChange::TotpAdded).await;
    codes_page(
        &tenant,
        codes,
        &return_to,
        Some("Two-step verification is on.".into()),
    )
}

/// Second factors and passkeys need a verified address: an unverified one may be someone
/// else's (the attacker who signed up with it first would keep the factor after the owner
/// takes the account back).
pub(super) const VERIFY_FIRST: &str = "Verify your email address first: two-step verification \
    and passkeys can be set up only once the address is verified. Use the link we sent you, or \
    send it again from your account page.";

fn verify_first(tenant: &tenant::Model) -> UiResult {
    super::message_page(
        tenant,
        StatusCode::FORBIDDEN,
        "Verify your email address first",
        VERIFY_FIRST,
        Some((
            tenant_path(&tenant.slug, routes::ACCOUNT),
            "Go to your account",
        )),
    )
}

/// Tell the owner that a sign-in method changed. The change stands even if the notice cannot
/// be queued.
pub(super) async fn notify_factor(
    state: &AppState,
    tenant: &tenant::Model,
    user: &user::Model,
    change: FactorChange,
) {
    let ctx = state.email_ctx(tenant);
    let notice = OwnerNotice::FactorChanged(change);
    match notices::to_owner(&state.db, &ctx, tenant, user, notice).await {
        Ok(()) => state.mailer.wake(),
        Err(e) => tracing::warn!(error = %e, "cannot queue a factor change notice"),
    }
}

fn codes_page(
    tenant: &tenant::Model,
    codes: Vec<String>,
    continue_url: &str,
    notice: Option<String>,
) -> UiResult {
    let body = CodesPage {
        tenant_name: &tenant.name,
        codes,
        continue_url,
        notice,
    }
    .render()?;
    Ok(page(StatusCode::OK, None, body))
}

/// `POST /t/{tenant}/account/mfa/totp/remove`.
pub async fn totp_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    read_form(&req, &state, &body)?;
    let account = tenant_path(&tenant.slug, routes::ACCOUNT);
    let (session, user) = match signed_in_or_login(&req, &state, &tenant, &account).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    if let Some(redirect) = super::reauth::required(&state, &tenant, &session, &account) {
        return Ok(redirect);
    }
    mfa::totp_disable(&state.db, user.id).await?;
    notify_factor(&state, &tenant, &user, FactorChange::TotpRemoved).await;
    audit::record(
        &state.db,
        state.now(),
        audit::Event::new(
            actions::MFA_TOTP_REMOVE,
            audit::user_actor(user.id),
            &super::meta(&req, &state),
        )
        .tenant(tenant.id)
        .target(format!("user:{}", user.id)),
    )
    .await?;
    Ok(see_other(&format!("{account}?notice=totp_removed")).finish())
}

/// `POST /t/{tenant}/account/mfa/recovery`: ten new codes, shown once.
pub async fn recovery_regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> UiResult {
    let tenant = load_tenant(&state, &path).await?;
    read_form(&req, &state, &body)?;
    let account = tenant_path(&tenant.slug, routes::ACCOUNT);
    let (session, user) = match signed_in_or_login(&req, &state, &tenant, &account).await? {
        Ok(found) => found,
        Err(redirect) => return Ok(redirect),
    };
    if !mfa::enrolled(&state.db, user.id).await? {
        return Ok(see_other(&account).finish());
    }
    if let Some(redirect) = super::reauth::required(&state, &tenant, &session, &account) {
        return Ok(redirect);
    }
    let now = state.now();
    let codes = mfa::recovery_generate(&state.db, now, &state.keys.mfa_recovery, &user).await?;
    notify_factor(&state, &tenant, &user, FactorChange::RecoveryCodesRenewed).await;
    audit::record(
        &state.db,
        now,
        audit::Event::new(
            actions::MFA_RECOVERY_REGENERATE,
            audit::user_actor(user.id),
            &super::meta(&req, &state),
        )
        .tenant(tenant.id)
        .target(format!("user:{}", user.id)),
    )
    .await?;
    codes_page(
        &tenant,
        codes,
        &account,
        Some("Your old recovery codes no longer work.".into()),
    )
}
