//! The RP-Initiated Logout OP plan (`oidcc-rp-initiated-logout-certification-test-plan`).

use anyhow::{Context, Result, anyhow, bail, ensure};
use openidconnect::{ClientId, CsrfToken, LogoutRequest, PostLogoutRedirectUrl};
use url::Url;

use super::{Verdict, pass};
use crate::browser::{Browser, LogoutEnd, Nav, Trace};
use crate::ctx::Ctx;
use crate::flow::{
    AuthParams, Flow, Notes, as_response, check_error, check_success, code_flow, prepare, run,
    tamper_signature, to_alg_none,
};

/// A fresh browser signed in through a complete code flow (client 1).
async fn signed_in(ctx: &Ctx) -> Result<(Browser, Flow)> {
    let b = ctx.browser()?;
    let f = code_flow(ctx, &ctx.basic, &b, &AuthParams::default())
        .await
        .context("signing in before logging out")?;
    Ok((b, f))
}

fn end_session(ctx: &Ctx) -> Result<Url> {
    ctx.meta
        .additional_metadata()
        .end_session_endpoint
        .as_ref()
        .map(|u| u.url().clone())
        .ok_or_else(|| anyhow!("discovery has no end_session_endpoint"))
}

/// The end-session URL with exactly these parameters.
fn logout_url(ctx: &Ctx, params: &[(&str, &str)]) -> Result<Url> {
    let mut url = end_session(ctx)?;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params.iter().copied());
    }
    Ok(url)
}

/// prompt=none must now fail with login_required: the session is gone.
async fn expect_signed_out(ctx: &Ctx, b: &Browser, notes: &mut Notes) -> Result<()> {
    let req = prepare(
        ctx,
        &ctx.basic,
        &AuthParams::default()
            .extra("prompt", "none")
            .long_state()
            .no_interaction(),
    );
    let mut trace = Trace::default();
    let end = run(b, &req, &mut trace).await?;
    let resp = as_response(&end).context("prompt=none after logging out")?;
    check_error(ctx, &req, &resp, &["login_required"], notes)
        .context("prompt=none after logging out: the session must be gone")?;
    Ok(())
}

/// prompt=none must still succeed: the session is still there.
async fn expect_signed_in(ctx: &Ctx, b: &Browser) -> Result<()> {
    let req = prepare(
        ctx,
        &ctx.basic,
        &AuthParams::default()
            .extra("prompt", "none")
            .no_interaction(),
    );
    let mut trace = Trace::default();
    let end = run(b, &req, &mut trace).await?;
    let resp = as_response(&end)?;
    check_success(ctx, &req, &resp)?;
    Ok(())
}

fn random_state() -> String {
    CsrfToken::new_random_len(96).secret().clone()
}

/// A page that is not a redirect to either relying-party URI.
fn expect_no_redirect(end: &LogoutEnd, why: &str) -> Result<u16> {
    match end {
        LogoutEnd::Page(p) => Ok(p.status),
        other => bail!("{why}, but got {}", other.describe()),
    }
}

/// oidcc-rp-initiated-logout: id_token_hint + registered post_logout_redirect_uri + state →
/// redirect there with the same state; the session is gone afterwards.
pub async fn rp_initiated_logout(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let (b, f) = signed_in(ctx).await?;
    let state = random_state();
    let end_session_url = ctx
        .meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .ok_or_else(|| anyhow!("discovery has no end_session_endpoint"))?;
    let url = LogoutRequest::from(end_session_url)
        .set_id_token_hint(&f.id.token)
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(
            ctx.post_logout_redirect_uri.clone(),
        ))
        .set_state(CsrfToken::new(state.clone()))
        .http_get_url();
    let mut confirmations = 0;
    let end = b
        .logout(
            Nav::Get(url),
            &[
                ctx.post_logout_redirect_uri.clone(),
                ctx.redirect_uri.clone(),
            ],
            true,
            &mut confirmations,
        )
        .await?;
    let LogoutEnd::Redirect {
        location, query, ..
    } = &end
    else {
        bail!(
            "expected a redirect to the post_logout_redirect_uri, got {}",
            end.describe()
        );
    };
    ensure!(
        crate::browser::same_endpoint(location, &ctx.post_logout_redirect_uri),
        "redirected to {location}, not to the post_logout_redirect_uri"
    );
    let got = query.iter().find(|(k, _)| k == "state").map(|(_, v)| v);
    ensure!(
        got == Some(&state),
        "state not returned intact to the post_logout_redirect_uri (got {got:?})"
    );
    expect_signed_out(ctx, &b, notes).await?;
    pass(if confirmations > 0 {
        "confirmed, redirected with state; session ended"
    } else {
        "redirected with state; session ended"
    })
}

/// oidcc-rp-initiated-logout-bad-post-logout-redirect-uri: an unregistered URI is never
/// redirected to, not even after confirming.
pub async fn bad_post_logout_redirect_uri(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let (b, f) = signed_in(ctx).await?;
    let mut bad = ctx.post_logout_redirect_uri.clone();
    bad.set_path(&format!(
        "{}/not-registered",
        ctx.post_logout_redirect_uri.path().trim_end_matches('/')
    ));
    let state = random_state();
    let url = logout_url(
        ctx,
        &[
            ("id_token_hint", &f.id.raw),
            ("post_logout_redirect_uri", bad.as_str()),
            ("state", &state),
        ],
    )?;
    let mut confirmations = 0;
    let end = b
        .logout(
            Nav::Get(url),
            &[bad.clone(), ctx.post_logout_redirect_uri.clone()],
            true,
            &mut confirmations,
        )
        .await?;
    let status = expect_no_redirect(
        &end,
        "an unregistered post_logout_redirect_uri must not be redirected to",
    )?;
    pass(format!(
        "no redirect (HTTP {status} page{})",
        if confirmations > 0 {
            ", also after confirming"
        } else {
            ""
        }
    ))
}

/// oidcc-rp-initiated-logout-modified-id-token-hint: an id_token_hint changed to alg none, and
/// one with a damaged signature: no redirect back.
pub async fn modified_id_token_hint(ctx: &Ctx, _notes: &mut Notes) -> Result<Verdict> {
    let mut statuses = Vec::new();
    for (what, alter) in [
        (
            "changed to alg none",
            to_alg_none as fn(&str) -> Result<String>,
        ),
        ("with a damaged signature", tamper_signature),
    ] {
        let (b, f) = signed_in(ctx).await?;
        let hint = alter(&f.id.raw)?;
        let url = logout_url(
            ctx,
            &[
                ("id_token_hint", &hint),
                (
                    "post_logout_redirect_uri",
                    ctx.post_logout_redirect_uri.as_str(),
                ),
                ("state", &random_state()),
            ],
        )?;
        let mut confirmations = 0;
        let end = b
            .logout(
                Nav::Get(url),
                &[
                    ctx.post_logout_redirect_uri.clone(),
                    ctx.redirect_uri.clone(),
                ],
                false,
                &mut confirmations,
            )
            .await?;
        let status = expect_no_redirect(
            &end,
            &format!("an id_token_hint {what} must not lead back to the relying party"),
        )?;
        statuses.push(status.to_string());
    }
    pass(format!(
        "no redirect for alg-none and bad-signature hints (HTTP {})",
        statuses.join(", ")
    ))
}

/// oidcc-rp-initiated-logout-no-id-token-hint: post_logout_redirect_uri + state without
/// id_token_hint or client_id cannot be validated: no redirect there, even after confirming.
/// With client_id added the provider may redirect (to the registered URI, with state) or show
/// a confirmation; either way the session ends.
pub async fn no_id_token_hint(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    // as the suite sends it
    let (b, _) = signed_in(ctx).await?;
    let url = logout_url(
        ctx,
        &[
            (
                "post_logout_redirect_uri",
                ctx.post_logout_redirect_uri.as_str(),
            ),
            ("state", &random_state()),
        ],
    )?;
    let mut confirmations = 0;
    let end = b
        .logout(
            Nav::Get(url),
            &[
                ctx.post_logout_redirect_uri.clone(),
                ctx.redirect_uri.clone(),
            ],
            true,
            &mut confirmations,
        )
        .await?;
    let status = expect_no_redirect(
        &end,
        "without id_token_hint or client_id the post_logout_redirect_uri cannot be validated",
    )?;
    if confirmations > 0 {
        expect_signed_out(ctx, &b, notes).await?;
    }

    // with client_id
    let (b, _) = signed_in(ctx).await?;
    let state = random_state();
    let end_session_url = ctx
        .meta
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .ok_or_else(|| anyhow!("discovery has no end_session_endpoint"))?;
    let url = LogoutRequest::from(end_session_url)
        .set_client_id(ClientId::new(ctx.basic.id.clone()))
        .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(
            ctx.post_logout_redirect_uri.clone(),
        ))
        .set_state(CsrfToken::new(state.clone()))
        .http_get_url();
    let mut confirmations2 = 0;
    let end = b
        .logout(
            Nav::Get(url),
            &[
                ctx.post_logout_redirect_uri.clone(),
                ctx.redirect_uri.clone(),
            ],
            true,
            &mut confirmations2,
        )
        .await?;
    let second = match &end {
        LogoutEnd::Redirect {
            location, query, ..
        } => {
            ensure!(
                crate::browser::same_endpoint(location, &ctx.post_logout_redirect_uri),
                "with client_id: redirected to {location}"
            );
            let got = query.iter().find(|(k, _)| k == "state").map(|(_, v)| v);
            ensure!(
                got == Some(&state),
                "with client_id: state not returned intact (got {got:?})"
            );
            "redirected with state"
        }
        LogoutEnd::Page(p) if p.status == 200 && confirmations2 > 0 => "confirmed, signed-out page",
        other => bail!(
            "with client_id + post_logout_redirect_uri: expected a confirmation page or a \
             redirect to the registered URI, got {}",
            other.describe()
        ),
    };
    expect_signed_out(ctx, &b, notes)
        .await
        .context("with client_id")?;
    pass(format!(
        "no redirect without hint (HTTP {status}); with client_id: {second}; session ended"
    ))
}

/// oidcc-rp-initiated-logout-no-params: a confirmation page; confirming signs out without a
/// redirect to the relying party.
pub async fn no_params(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let (b, _) = signed_in(ctx).await?;
    let url = logout_url(ctx, &[])?;
    let first = b.fetch(&Nav::Get(url.clone())).await?;
    ensure!(
        first.status == 200 && first.is_html(),
        "the end-session endpoint without parameters answered {}",
        first.describe()
    );
    let mut confirmations = 0;
    let end = b
        .logout(
            Nav::Get(url),
            &[
                ctx.post_logout_redirect_uri.clone(),
                ctx.redirect_uri.clone(),
            ],
            true,
            &mut confirmations,
        )
        .await?;
    let status = expect_no_redirect(
        &end,
        "no post_logout_redirect_uri was given, so none may be used",
    )?;
    ensure!(status == 200, "after confirming: {}", end.describe());
    if confirmations == 0 {
        notes.warn("signed out without a confirmation form");
    }
    expect_signed_out(ctx, &b, notes).await?;
    pass("confirmation page, signed out, no redirect")
}

/// oidcc-rp-initiated-logout-only-state: state alone gives no redirect.
pub async fn only_state(ctx: &Ctx, notes: &mut Notes) -> Result<Verdict> {
    let (b, _) = signed_in(ctx).await?;
    let url = logout_url(ctx, &[("state", &random_state())])?;
    let mut confirmations = 0;
    let end = b
        .logout(
            Nav::Get(url),
            &[
                ctx.post_logout_redirect_uri.clone(),
                ctx.redirect_uri.clone(),
            ],
            true,
            &mut confirmations,
        )
        .await?;
    let status = expect_no_redirect(
        &end,
        "no post_logout_redirect_uri was given, so none may be used",
    )?;
    if confirmations > 0 {
        expect_signed_out(ctx, &b, notes).await?;
        pass(format!(
            "no redirect; confirmed and signed out (HTTP {status})"
        ))
    } else {
        // nothing submitted: the session should still be there if no logout happened
        if expect_signed_in(ctx, &b).await.is_ok() {
            notes.warn("no confirmation form; the session is still there");
        }
        pass(format!("no redirect (HTTP {status})"))
    }
}
