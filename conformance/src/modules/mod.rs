//! The test modules, named as in the OpenID Foundation conformance suite. Form Post variants
//! carry a ` [form_post]` suffix.

pub mod basic;
pub mod config;
pub mod logout;
pub mod request_object;

use anyhow::{Result, bail};

use crate::ctx::Ctx;
use crate::flow::{Mode, Notes};

/// How a module ended when it did not fail.
#[derive(Debug)]
pub enum Verdict {
    Pass(String),
    NotApplicable(String),
}

pub fn pass(reason: impl Into<String>) -> Result<Verdict> {
    Ok(Verdict::Pass(reason.into()))
}

pub fn not_applicable(reason: impl Into<String>) -> Result<Verdict> {
    Ok(Verdict::NotApplicable(reason.into()))
}

pub const DISCOVERY: &str = "oidcc-discovery-endpoint-verification";

/// Every module, in the order they run.
pub const MODULES: &[&str] = &[
    // Config OP
    DISCOVERY,
    // Basic OP
    "oidcc-server",
    "oidcc-response-type-missing",
    "oidcc-idtoken-signature",
    "oidcc-userinfo-get",
    "oidcc-userinfo-post-header",
    "oidcc-userinfo-post-body",
    "oidcc-ensure-request-without-nonce-succeeds-for-code-flow",
    "oidcc-scope-profile",
    "oidcc-scope-email",
    "oidcc-scope-address",
    "oidcc-scope-phone",
    "oidcc-scope-all",
    "oidcc-ensure-other-scope-order-succeeds",
    "oidcc-display-page",
    "oidcc-display-popup",
    "oidcc-prompt-login",
    "oidcc-prompt-none-not-logged-in",
    "oidcc-prompt-none-logged-in",
    "oidcc-max-age-1",
    "oidcc-max-age-10000",
    "oidcc-ensure-request-with-unknown-parameter-succeeds",
    "oidcc-id-token-hint",
    "oidcc-login-hint",
    "oidcc-ui-locales",
    "oidcc-claims-locales",
    "oidcc-ensure-request-with-acr-values-succeeds",
    "oidcc-codereuse",
    "oidcc-codereuse-30seconds",
    "oidcc-ensure-registered-redirect-uri",
    "oidcc-ensure-post-request-succeeds",
    "oidcc-server-client-secret-post",
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
    "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
    "oidcc-request-uri-signed-rs256",
    "oidcc-claims-essential",
    "oidcc-refresh-token",
    "oidcc-ensure-request-with-valid-pkce-succeeds",
    // Form Post OP
    "oidcc-server [form_post]",
    "oidcc-ensure-request-without-nonce-succeeds-for-code-flow [form_post]",
    "oidcc-prompt-none-not-logged-in [form_post]",
    "oidcc-prompt-none-logged-in [form_post]",
    "oidcc-max-age-1 [form_post]",
    "oidcc-codereuse [form_post]",
    // RP-Initiated Logout OP
    "oidcc-rp-initiated-logout",
    "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri",
    "oidcc-rp-initiated-logout-modified-id-token-hint",
    "oidcc-rp-initiated-logout-no-id-token-hint",
    "oidcc-rp-initiated-logout-no-params",
    "oidcc-rp-initiated-logout-only-state",
];

/// Run one module (other than discovery, which needs no set-up).
pub async fn run(name: &str, ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let (base, mode) = match name.strip_suffix(" [form_post]") {
        Some(base) => (base, Mode::FormPost),
        None => (name, Mode::Query),
    };
    match base {
        "oidcc-server" => basic::server(ctx, notes, mode).await,
        "oidcc-response-type-missing" => basic::response_type_missing(ctx, notes).await,
        "oidcc-idtoken-signature" => basic::idtoken_signature(ctx, notes).await,
        "oidcc-userinfo-get" => basic::userinfo_get(ctx, notes).await,
        "oidcc-userinfo-post-header" => {
            basic::userinfo_post(ctx, notes, crate::flow::UserinfoCall::PostHeader).await
        }
        "oidcc-userinfo-post-body" => {
            basic::userinfo_post(ctx, notes, crate::flow::UserinfoCall::PostBody).await
        }
        "oidcc-ensure-request-without-nonce-succeeds-for-code-flow" => {
            basic::without_nonce(ctx, notes, mode).await
        }
        "oidcc-scope-profile" => basic::scopes(ctx, notes, &["profile"]).await,
        "oidcc-scope-email" => basic::scopes(ctx, notes, &["email"]).await,
        "oidcc-scope-address" => basic::scopes(ctx, notes, &["address"]).await,
        "oidcc-scope-phone" => basic::scopes(ctx, notes, &["phone"]).await,
        "oidcc-scope-all" => {
            basic::scopes(ctx, notes, &["profile", "email", "address", "phone"]).await
        }
        "oidcc-ensure-other-scope-order-succeeds" => basic::other_scope_order(ctx, notes).await,
        "oidcc-display-page" => basic::with_param(ctx, notes, "display", "page").await,
        "oidcc-display-popup" => basic::with_param(ctx, notes, "display", "popup").await,
        "oidcc-prompt-login" => basic::prompt_login(ctx, notes).await,
        "oidcc-prompt-none-not-logged-in" => {
            basic::prompt_none_not_logged_in(ctx, notes, mode).await
        }
        "oidcc-prompt-none-logged-in" => basic::prompt_none_logged_in(ctx, notes, mode).await,
        "oidcc-max-age-1" => basic::max_age_1(ctx, notes, mode).await,
        "oidcc-max-age-10000" => basic::max_age_10000(ctx, notes).await,
        "oidcc-ensure-request-with-unknown-parameter-succeeds" => {
            basic::with_param(ctx, notes, "extra", "foobar").await
        }
        "oidcc-id-token-hint" => basic::id_token_hint(ctx, notes).await,
        "oidcc-login-hint" => basic::login_hint(ctx, notes).await,
        "oidcc-ui-locales" => basic::with_param(ctx, notes, "ui_locales", "se").await,
        "oidcc-claims-locales" => basic::with_param(ctx, notes, "claims_locales", "se").await,
        "oidcc-ensure-request-with-acr-values-succeeds" => {
            basic::with_param(ctx, notes, "acr_values", "1 2").await
        }
        "oidcc-codereuse" => basic::code_reuse(ctx, notes, 0, mode).await,
        "oidcc-codereuse-30seconds" => {
            basic::code_reuse(ctx, notes, ctx.args.code_reuse_wait_secs, mode).await
        }
        "oidcc-ensure-registered-redirect-uri" => basic::registered_redirect_uri(ctx, notes).await,
        "oidcc-ensure-post-request-succeeds" => basic::post_request(ctx, notes).await,
        "oidcc-server-client-secret-post" => basic::client_secret_post(ctx, notes).await,
        "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported" => {
            request_object::unsigned_by_value(ctx, notes).await
        }
        "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported" => {
            request_object::unsigned_by_reference(ctx, notes).await
        }
        "oidcc-request-uri-signed-rs256" => request_object::signed_by_reference(ctx, notes).await,
        "oidcc-claims-essential" => basic::claims_essential(ctx, notes).await,
        "oidcc-refresh-token" => basic::refresh_token(ctx, notes).await,
        "oidcc-ensure-request-with-valid-pkce-succeeds" => basic::valid_pkce(ctx, notes).await,
        "oidcc-rp-initiated-logout" => logout::rp_initiated_logout(ctx, notes).await,
        "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri" => {
            logout::bad_post_logout_redirect_uri(ctx, notes).await
        }
        "oidcc-rp-initiated-logout-modified-id-token-hint" => {
            logout::modified_id_token_hint(ctx, notes).await
        }
        "oidcc-rp-initiated-logout-no-id-token-hint" => logout::no_id_token_hint(ctx, notes).await,
        "oidcc-rp-initiated-logout-no-params" => logout::no_params(ctx, notes).await,
        "oidcc-rp-initiated-logout-only-state" => logout::only_state(ctx, notes).await,
        other => bail!("unknown module {other}"),
    }
}
