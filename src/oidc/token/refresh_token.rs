//! `grant_type=refresh_token` (RFC 6749 §6) with rotation: each use returns a new refresh
//! token; presenting a rotated one again revokes the whole family (the grant).

use entity::{client, tenant};

use super::TokenResponse;
use crate::accounts::users;
use crate::grants::{self, Rotated};
use crate::http::form::Form;
use crate::oidc::error::OAuthError;
use crate::state::AppState;

pub async fn exchange(
    state: &AppState,
    tenant: &tenant::Model,
    client: &client::Model,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let Some(token) = form.opt("refresh_token") else {
        return Err(OAuthError::invalid_request("refresh_token is missing"));
    };
    let now = state.now();
    let grant = match grants::rotate_refresh_token(
        &state.db,
        now,
        &state.keys.tokens,
        tenant.id,
        &client.client_id,
        token,
    )
    .await?
    {
        Rotated::Fresh(g) => g,
        Rotated::Replayed => {
            tracing::warn!(client_id = %client.client_id, "refresh token reused; its family is revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; every token of its family is revoked",
            ));
        }
        Rotated::Invalid => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
    };
    // A narrower scope may be asked for this access token (RFC 6749 §6), never a wider one.
    let granted: Vec<&str> = grant.scope.split(' ').collect();
    let scope = match form.opt("scope") {
        None => grant.scope.clone(),
        Some(asked) => {
            let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
            if asked.is_empty() || asked.iter().any(|s| !granted.contains(s)) {
                return Err(OAuthError::invalid_scope(
                    "the scope may only narrow what was granted",
                ));
            }
            asked.join(" ")
        }
    };
    let Some(user_id) = grant.user_id else {
        return Err(OAuthError::invalid_grant("the grant has no user"));
    };
    let Some(user) = users::find(&state.db, tenant.id, user_id)
        .await?
        .filter(|u| !u.disabled)
    else {
        grants::revoke_grant(&state.db, now, grant.id).await?;
        return Err(OAuthError::invalid_grant("the user is no longer active"));
    };
    let g = super::UserGrant {
        user: &user,
        grant: &grant,
        scope: &scope,
        nonce: None,
        with_refresh: true,
    };
    super::for_user_grant(state, tenant, client, g).await
}
