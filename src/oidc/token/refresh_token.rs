//! `grant_type=refresh_token` (RFC 6749 §6) with rotation: each use returns a new refresh
//! token; presenting a rotated one again revokes the whole family (the grant).
//!
//! A request that is refused for what it asks (its `scope`) is refused before the token is
//! used up, so the client's corrected retry works. Without `offline_access` the grant lives
//! by its browser session: once the session has ended (logout, idle timeout, absolute
//! lifetime) the refresh token is `invalid_grant`; a refresh counts as activity of the session.

use entity::{client, grant, tenant};

use super::TokenResponse;
use crate::accounts::users;
use crate::grants::{self, Rotated};
use crate::http::form::Form;
use crate::oidc::error::OAuthError;
use crate::state::AppState;

/// The scope of this access token: the grant's, or a narrower one asked for (RFC 6749 §6),
/// never a wider one.
fn narrowed(grant: &grant::Model, asked: Option<&str>) -> Result<String, OAuthError> {
    let Some(asked) = asked else {
        return Ok(grant.scope.clone());
    };
    let granted: Vec<&str> = grant.scope.split(' ').collect();
    let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
    if asked.is_empty() || asked.iter().any(|s| !granted.contains(s)) {
        return Err(OAuthError::invalid_scope(
            "the scope may only narrow what was granted",
        ));
    }
    Ok(asked.join(" "))
}

fn session_ended() -> OAuthError {
    OAuthError::invalid_grant("the browser session this refresh token belongs to has ended")
}

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
    let idle = state.timeouts().idle;
    // Check what the request asks for before the token is used up (a usable token of this
    // client only; anything else goes to the rotation below, which tells replays apart).
    if let Some((_, g)) =
        grants::refresh_token_grant(&state.db, now, &state.keys.tokens, tenant.id, token).await?
        && g.client_id == client.client_id
    {
        narrowed(&g, form.opt("scope"))?;
        if !grants::session_live(&state.db, now, idle, &g, false).await? {
            grants::revoke_grant(&state.db, now, g.id).await?;
            return Err(session_ended());
        }
    }
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
    let scope = narrowed(&grant, form.opt("scope"))?;
    // This refresh is activity of the session (and the session may have ended meanwhile).
    if !grants::session_live(&state.db, now, idle, &grant, true).await? {
        grants::revoke_grant(&state.db, now, grant.id).await?;
        return Err(session_ended());
    }
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
