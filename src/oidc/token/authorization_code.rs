//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6): single use; a replay
//! revokes every token the first use produced.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entity::{client, tenant};
use sha2::{Digest, Sha256};

use super::TokenResponse;
use crate::accounts::users;
use crate::crypto;
use crate::grants::{self, Redeemed};
use crate::http::form::Form;
use crate::oidc::error::OAuthError;
use crate::state::AppState;

fn pkce_ok(challenge: &str, verifier: &str) -> bool {
    let charset = verifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !(43..=128).contains(&verifier.len()) || !charset {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    crypto::ct_eq(computed.as_bytes(), challenge.as_bytes())
}

pub async fn exchange(
    state: &AppState,
    tenant: &tenant::Model,
    client: &client::Model,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let Some(code) = form.opt("code") else {
        return Err(OAuthError::invalid_request("code is missing"));
    };
    let now = state.now();
    let code = match grants::redeem_code(
        &state.db,
        now,
        &state.keys.tokens,
        tenant.id,
        &client.client_id,
        code,
    )
    .await?
    {
        Redeemed::Fresh(c) => c,
        Redeemed::Replayed => {
            tracing::warn!(client_id = %client.client_id, "authorization code replayed; its grant is revoked");
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; the tokens issued for it are revoked",
            ));
        }
        Redeemed::Invalid => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is invalid or expired",
            ));
        }
    };
    // Required, and equal, when the authorization request carried one (RFC 6749 §4.1.3).
    match form.opt("redirect_uri") {
        None if !code.redirect_uri.is_empty() => {
            return Err(OAuthError::invalid_request("redirect_uri is missing"));
        }
        None => {}
        Some(uri) if !code.redirect_uri.is_empty() && uri != code.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request",
            ));
        }
        Some(_) => {}
    }
    match (&code.code_challenge, form.opt("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce_ok(challenge, verifier) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant("code_verifier does not match"));
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant("code_verifier is missing"));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier was sent but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    let user = users::find(&state.db, tenant.id, code.user_id)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_grant("the user is no longer active"))?;
    let Some(grant) = grants::grant_from_code(&state.db, now, &code).await? else {
        return Err(OAuthError::invalid_grant(
            "the authorization code was used twice; the tokens issued for it are revoked",
        ));
    };
    let with_refresh = crate::clients::list(&client.grant_types)
        .iter()
        .any(|g| g == "refresh_token");
    let g = super::UserGrant {
        user: &user,
        grant: &grant,
        scope: &grant.scope,
        nonce: code.nonce.as_deref(),
        with_refresh,
    };
    super::for_user_grant(state, tenant, client, g).await
}
