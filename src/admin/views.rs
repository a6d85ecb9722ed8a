//! What an operator sees of each resource: the JSON of the admin API and of the CLI.
//! Field names are stable snake_case; timestamps are RFC 3339.

use chrono::{DateTime, Utc};
use entity::{audit_event, client, signing_key, tenant, user};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::clients;
use crate::config::Config;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: Uuid,
    /// URL-safe identifier: lowercase letters, digits and hyphens.
    pub slug: String,
    pub name: String,
    /// `{public_url}/t/{slug}`.
    pub issuer: String,
    pub allow_signup: bool,
    pub require_email_verification: bool,
    /// The tenant's own rate limits over the configured ones, e.g. `login=5/min,token=off`.
    pub rate_limits: Option<String>,
    pub mfa_policy: MfaPolicy,
    /// The sign-in field also takes an account's SCIM userName.
    pub sign_in_with_username: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MfaPolicy {
    Optional,
    Required,
    Admins,
}

impl MfaPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Optional => "optional",
            MfaPolicy::Required => "required",
            MfaPolicy::Admins => "admins",
        }
    }

    fn of(s: &str) -> Self {
        match s {
            "required" => MfaPolicy::Required,
            "admins" => MfaPolicy::Admins,
            _ => MfaPolicy::Optional,
        }
    }
}

impl TenantView {
    pub fn of(config: &Config, t: &tenant::Model) -> Self {
        Self {
            id: t.id,
            slug: t.slug.clone(),
            name: t.name.clone(),
            issuer: config.issuer(&t.slug),
            allow_signup: t.allow_signup,
            require_email_verification: t.require_email_verification,
            rate_limits: t.rate_limits.clone(),
            mfa_policy: MfaPolicy::of(&t.mfa_policy),
            sign_in_with_username: t.sign_in_with_username,
            created_at: t.created_at,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    Active,
    Disabled,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    /// The `sub` claim of the user's tokens.
    pub sub: String,
    /// None for an account that has only a SCIM userName.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// The SCIM userName.
    pub user_name: String,
    pub status: UserStatus,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl UserView {
    pub fn of(u: &user::Model) -> Self {
        Self {
            id: u.id,
            sub: u.sub.clone(),
            email: u.email.clone(),
            email_verified: u.email_verified,
            name: u.name.clone(),
            user_name: u.user_name.clone(),
            status: if u.disabled {
                UserStatus::Disabled
            } else {
                UserStatus::Active
            },
            is_admin: u.is_admin,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    /// The registered method: client_secret_basic, client_secret_post, private_key_jwt or none.
    pub auth_method: String,
    /// The methods the token endpoint accepts from this client.
    pub auth_methods: Vec<String>,
    /// private_key_jwt only: the longest assertion lifetime accepted, in seconds.
    pub max_assertion_lifetime_secs: Option<i64>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub cors_origins: Vec<String>,
    pub jwks_uri: Option<String>,
    pub id_token_signed_response_alg: String,
    pub skip_consent: bool,
    pub created_at: DateTime<Utc>,
}

impl ClientView {
    pub fn of(c: &client::Model) -> Self {
        Self {
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            auth_method: c.auth_method.clone(),
            auth_methods: clients::auth_methods(c)
                .into_iter()
                .map(str::to_string)
                .collect(),
            max_assertion_lifetime_secs: (c.auth_method == "private_key_jwt")
                .then(|| clients::max_assertion_lifetime_secs(c)),
            redirect_uris: clients::list(&c.redirect_uris),
            post_logout_redirect_uris: clients::list(&c.post_logout_redirect_uris),
            grant_types: clients::list(&c.grant_types),
            scopes: clients::list(&c.scopes),
            cors_origins: clients::list(&c.cors_origins),
            jwks_uri: c.jwks_uri.clone(),
            id_token_signed_response_alg: c.id_token_signed_response_alg.clone(),
            skip_consent: c.skip_consent,
            created_at: c.created_at,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Grows with every event: newer events have larger ids.
    pub id: i64,
    pub tenant_id: Option<Uuid>,
    /// `user:<id>`, `client:<client_id>`, `cli`, `system` or `anonymous`.
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// What else the event records, as a JSON object.
    pub details: Option<serde_json::Value>,
    pub occurred_at: DateTime<Utc>,
}

impl AuditEventView {
    pub fn of(e: &audit_event::Model) -> Self {
        Self {
            id: e.id,
            tenant_id: e.tenant_id,
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            outcome: e.outcome.clone(),
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            request_id: e.request_id.clone(),
            details: e
                .details
                .as_deref()
                .and_then(|d| serde_json::from_str(d).ok()),
            occurred_at: e.occurred_at,
        }
    }
}

/// A signing key of a tenant (public facts only).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub kid: String,
    /// RS256, ES256 or EdDSA.
    pub alg: String,
    pub created_at: DateTime<Utc>,
    /// When it stopped being the active key of its algorithm.
    pub retired_at: Option<DateTime<Utc>>,
}

impl KeyView {
    pub fn of(k: &signing_key::Model) -> Self {
        Self {
            kid: k.kid.clone(),
            alg: k.alg.clone(),
            created_at: k.created_at,
            retired_at: k.retired_at,
        }
    }
}
