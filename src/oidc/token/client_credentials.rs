//! `grant_type=client_credentials` (RFC 6749 §4.4): a confidential client acting for itself,
//! within the scopes it registered (user scopes such as `openid` excepted).

use entity::{client, tenant};

use super::{TokenResponse, USER_SCOPES};
use crate::clients;
use crate::http::form::Form;
use crate::oidc::error::OAuthError;
use crate::oidc::tokens::{self, AccessToken};
use crate::state::AppState;

pub async fn exchange(
    state: &AppState,
    tenant: &tenant::Model,
    client: &client::Model,
    form: &Form,
) -> Result<TokenResponse, OAuthError> {
    let allowed: Vec<String> = clients::list(&client.scopes)
        .into_iter()
        .filter(|s| !USER_SCOPES.contains(&s.as_str()))
        .collect();
    let scope = match form.opt("scope") {
        None => allowed.join(" "),
        Some(asked) => {
            let mut out: Vec<&str> = Vec::new();
            for s in asked.split(' ').filter(|s| !s.is_empty()) {
                if !allowed.iter().any(|a| a == s) {
                    return Err(OAuthError::invalid_scope(format!(
                        "the scope {s} is not available to this client"
                    )));
                }
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            out.join(" ")
        }
    };
    let (access_token, expires_in) = tokens::access_token(
        state,
        tenant,
        client,
        AccessToken {
            sub: &client.client_id,
            scope: &scope,
            grant_id: None,
            auth_time: None,
            session_id: None,
        },
    )
    .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        scope,
        refresh_token: None,
        id_token: None,
    })
}
