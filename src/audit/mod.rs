//! The append-only audit trail: one row per security-relevant event. There is no update or
//! delete here, and the database refuses them too.

use chrono::{DateTime, Utc};
use entity::audit_event;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use crate::error::DomainResult;

/// Where a request came from, as the domain sees it (no HTTP types).
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl RequestMeta {
    /// For events that the operator CLI causes.
    pub fn cli() -> Self {
        Self::default()
    }
}

pub mod actions {
    pub const TENANT_CREATE: &str = "tenant.create";
    pub const TENANT_UPDATE: &str = "tenant.update";
    pub const TENANT_DELETE: &str = "tenant.delete";
    pub const USER_UPDATE: &str = "user.update";
    pub const USER_ENABLE: &str = "user.enable";
    pub const USER_DELETE: &str = "user.delete";
    pub const CLIENT_SECRET_ROTATE: &str = "client.secret_rotate";
    pub const USER_CREATE: &str = "user.create";
    pub const USER_DISABLE: &str = "user.disable";
    pub const USER_SIGNUP: &str = "user.signup";
    pub const LOGIN_SUCCESS: &str = "login.success";
    pub const LOGIN_FAILURE: &str = "login.failure";
    pub const LOGIN_LOCKOUT: &str = "login.lockout";
    pub const LOGOUT: &str = "logout";
    pub const PASSWORD_CHANGE: &str = "password.change";
    /// The user proved who they are again in a session (sudo mode).
    pub const REAUTH: &str = "account.reauth";
    pub const PROFILE_UPDATE: &str = "profile.update";
    pub const SESSION_REVOKE: &str = "session.revoke";
    pub const KEYS_ROTATE: &str = "keys.rotate";
    pub const EMAIL_VERIFICATION_SENT: &str = "email.verification_sent";
    pub const EMAIL_VERIFIED: &str = "email.verified";
    pub const EMAIL_CHANGE: &str = "email.change";
    pub const PASSWORD_RESET_REQUEST: &str = "password.reset_request";
    pub const PASSWORD_RESET: &str = "password.reset";
    pub const MAIL_SENT: &str = "mail.sent";
    pub const MAIL_ATTEMPT_FAILED: &str = "mail.attempt_failed";
    pub const MAIL_FAILED: &str = "mail.failed";
    pub const SCIM_TOKEN_CREATE: &str = "scim_token.create";
    pub const SCIM_TOKEN_REVOKE: &str = "scim_token.revoke";
    pub const SCIM_USER_CREATE: &str = "scim.user.create";
    pub const SCIM_USER_REPLACE: &str = "scim.user.replace";
    pub const SCIM_USER_PATCH: &str = "scim.user.patch";
    pub const SCIM_USER_DELETE: &str = "scim.user.delete";
    pub const SCIM_GROUP_CREATE: &str = "scim.group.create";
    pub const SCIM_GROUP_REPLACE: &str = "scim.group.replace";
    pub const SCIM_GROUP_PATCH: &str = "scim.group.patch";
    pub const SCIM_GROUP_DELETE: &str = "scim.group.delete";
    pub const MFA_SUCCESS: &str = "mfa.success";
    pub const MFA_FAILURE: &str = "mfa.failure";
    pub const MFA_RECOVERY_CODE_USED: &str = "mfa.recovery_code_used";
    pub const MFA_TOTP_ENROLL: &str = "mfa.totp_enroll";
    pub const MFA_TOTP_REMOVE: &str = "mfa.totp_remove";
    pub const MFA_RECOVERY_REGENERATE: &str = "mfa.recovery_regenerate";
    pub const MFA_RESET: &str = "mfa.reset";
    pub const PASSKEY_REGISTER: &str = "passkey.register";
    pub const PASSKEY_RENAME: &str = "passkey.rename";
    pub const PASSKEY_REMOVE: &str = "passkey.remove";
    pub const PASSKEY_LOGIN: &str = "passkey.login";
    pub const PASSKEY_FAILURE: &str = "passkey.failure";
    pub const SAML_SP_CREATE: &str = "saml.sp.create";
    pub const SAML_SP_DELETE: &str = "saml.sp.delete";
    pub const SAML_CERT_ROTATE: &str = "saml.cert.rotate";
    pub const SAML_LOGIN: &str = "saml.login";
    pub const SAML_LOGIN_FAILURE: &str = "saml.login_failure";
    pub const SAML_LOGOUT: &str = "saml.logout";
    pub const SAML_SP_UPDATE: &str = "saml.sp.update";
    /// A legacy SP's request signed with RSA-SHA1 was accepted (`--allow-sha1`).
    pub const SAML_SHA1_ACCEPTED: &str = "saml.sha1_accepted";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One event to record.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    pub tenant_id: Option<Uuid>,
    /// `user:<id>`, `cli`, `system` or `anonymous`.
    pub actor: String,
    pub action: &'static str,
    pub target: Option<String>,
    pub outcome: Outcome,
    pub meta: &'a RequestMeta,
    pub details: Option<serde_json::Value>,
}

impl<'a> Event<'a> {
    pub fn new(action: &'static str, actor: String, meta: &'a RequestMeta) -> Self {
        Self {
            tenant_id: None,
            actor,
            action,
            target: None,
            outcome: Outcome::Success,
            meta,
            details: None,
        }
    }

    pub fn tenant(mut self, id: Uuid) -> Self {
        self.tenant_id = Some(id);
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(truncate(target.into(), 400));
        self
    }

    pub fn failed(mut self) -> Self {
        self.outcome = Outcome::Failure;
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

pub fn user_actor(id: Uuid) -> String {
    format!("user:{id}")
}

/// At most `max` bytes, control characters replaced (PostgreSQL refuses NUL in text, and
/// logs should not carry terminal escapes from user input).
fn truncate(s: String, max: usize) -> String {
    let mut s: String = if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
            .collect()
    } else {
        s
    };
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// Append one event.
pub async fn record(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    e: Event<'_>,
) -> DomainResult<()> {
    audit_event::ActiveModel {
        id: NotSet,
        tenant_id: Set(e.tenant_id),
        actor: Set(truncate(e.actor, 128)),
        action: Set(e.action.to_string()),
        target: Set(e.target),
        outcome: Set(e.outcome.as_str().to_string()),
        ip: Set(e.meta.ip.clone().map(|s| truncate(s, 64))),
        user_agent: Set(e.meta.user_agent.clone().map(|s| truncate(s, 512))),
        request_id: Set(e.meta.request_id.clone().map(|s| truncate(s, 64))),
        details: Set(e.details.map(|d| d.to_string())),
        occurred_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Which events to read: newest first, a page before `before` (event ids grow with each insert,
/// so a page boundary never moves when new events arrive).
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// `None`: every tenant's events and those of no tenant.
    pub tenant_id: Option<Uuid>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub until: Option<DateTime<Utc>>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub before: Option<i64>,
    pub limit: u64,
}

/// One page of events, newest first, and whether more follow.
pub async fn query(
    db: &impl ConnectionTrait,
    q: &Query,
) -> DomainResult<(Vec<audit_event::Model>, bool)> {
    let keys = [q.actor.as_deref(), q.action.as_deref()];
    if keys.into_iter().flatten().any(|k| !crate::db::storable(k)) {
        return Ok((Vec::new(), false));
    }
    let mut find = audit_event::Entity::find();
    if let Some(t) = q.tenant_id {
        find = find.filter(audit_event::Column::TenantId.eq(t));
    }
    if let Some(from) = q.from {
        find = find.filter(audit_event::Column::OccurredAt.gte(from));
    }
    if let Some(until) = q.until {
        find = find.filter(audit_event::Column::OccurredAt.lt(until));
    }
    if let Some(actor) = &q.actor {
        find = find.filter(audit_event::Column::Actor.eq(actor.as_str()));
    }
    if let Some(action) = &q.action {
        find = find.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(before) = q.before {
        find = find.filter(audit_event::Column::Id.lt(before));
    }
    let mut rows = find
        .order_by_desc(audit_event::Column::Id)
        .limit(q.limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > q.limit;
    rows.truncate(q.limit as usize);
    Ok((rows, more))
}
