//! WebAuthn passkeys (webauthn-rs): registration of several named credentials, sign-in with a
//! passkey as the second factor, and passwordless sign-in with discoverable credentials.
//!
//! The relying party is the host of the public URL (one for every tenant: each tenant's
//! credentials are looked up within the tenant). webauthn-rs requires user verification for
//! passkeys and checks the signature counter; the ceremony state it needs between the two
//! halves is kept in `webauthn_ceremonies`, single use, for five minutes.

use chrono::{DateTime, Duration, Utc};
use entity::{user, webauthn_ceremony, webauthn_credential};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::crypto::SubKey;
use crate::error::{DomainError, DomainResult};

const CEREMONY_TTL_SECS: i64 = 300;

/// Why a ceremony failed; the text is safe to show.
#[derive(Debug)]
pub enum Failure {
    /// Unknown, used or expired ceremony.
    Expired,
    /// The credential is not registered (or not the user's).
    UnknownCredential,
    /// webauthn-rs refused the response (signature, origin, challenge, UV, counter...).
    Rejected,
    Domain(DomainError),
}

impl From<DomainError> for Failure {
    fn from(e: DomainError) -> Self {
        Failure::Domain(e)
    }
}

impl From<sea_orm::DbErr> for Failure {
    fn from(e: sea_orm::DbErr) -> Self {
        Failure::Domain(e.into())
    }
}

impl Failure {
    pub fn message(&self) -> &'static str {
        match self {
            Failure::Expired => "The passkey request expired. Try again.",
            Failure::UnknownCredential => "This passkey is not registered here.",
            Failure::Rejected => "The passkey could not be verified.",
            Failure::Domain(_) => "Passkeys are not available right now.",
        }
    }
}

/// The relying party of a public URL, or `None` when WebAuthn cannot work there (an IP
/// address instead of a domain).
pub fn relying_party(public_url: &str, name: &str) -> Option<Webauthn> {
    let origin = url::Url::parse(public_url).ok()?;
    let rp_id = origin.domain()?.to_string();
    WebauthnBuilder::new(&rp_id, &origin)
        .ok()?
        .rp_name(name)
        .build()
        .ok()
}

fn json<T: serde::Serialize>(v: &T) -> DomainResult<serde_json::Value> {
    serde_json::to_value(v).map_err(DomainError::internal)
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn save_ceremony(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    kind: &str,
    state: serde_json::Value,
    browser_hash: Option<String>,
) -> DomainResult<Uuid> {
    let id = Uuid::new_v4();
    webauthn_ceremony::ActiveModel {
        id: Set(id),
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        kind: Set(kind.into()),
        state: Set(state),
        created_at: Set(now),
        expires_at: Set(now + Duration::seconds(CEREMONY_TTL_SECS)),
        browser_hash: Set(browser_hash),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// Take a ceremony's state (deleting it: single use).
async fn take_ceremony(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    id: Uuid,
    kind: &str,
) -> Result<webauthn_ceremony::Model, Failure> {
    let found = webauthn_ceremony::Entity::find_by_id(id)
        .filter(webauthn_ceremony::Column::TenantId.eq(tenant_id))
        .filter(webauthn_ceremony::Column::Kind.eq(kind))
        .one(db)
        .await?
        .ok_or(Failure::Expired)?;
    let deleted = webauthn_ceremony::Entity::delete_many()
        .filter(webauthn_ceremony::Column::Id.eq(id))
        .exec(db)
        .await?
        .rows_affected;
    if deleted != 1 || found.expires_at <= now {
        return Err(Failure::Expired);
    }
    Ok(found)
}

fn passkey_of(row: &webauthn_credential::Model) -> Option<Passkey> {
    serde_json::from_value(row.passkey.clone()).ok()
}

/// The user's credentials, oldest first.
pub async fn list(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> DomainResult<Vec<webauthn_credential::Model>> {
    Ok(webauthn_credential::Entity::find()
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .order_by_asc(webauthn_credential::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Start registering a new passkey for the user (its existing ones are excluded).
pub async fn register_begin(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    wa: &Webauthn,
    user: &user::Model,
) -> DomainResult<(Uuid, CreationChallengeResponse)> {
    let exclude = list(db, user.id)
        .await?
        .iter()
        .filter_map(passkey_of)
        .map(|p| p.cred_id().clone())
        .collect::<Vec<_>>();
    let display = user
        .name
        .clone()
        .unwrap_or_else(|| user.identifier().to_string());
    let (mut ccr, state) = wa
        .start_passkey_registration(user.id, user.identifier(), &display, Some(exclude))
        .map_err(DomainError::internal)?;
    // Ask for a discoverable credential, so that the passkey can sign in without a user
    // name ("Sign in with a passkey"); authenticators that cannot still register.
    if let Some(sel) = ccr.public_key.authenticator_selection.as_mut() {
        sel.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Preferred);
    }
    let id = save_ceremony(
        db,
        now,
        user.tenant_id,
        Some(user.id),
        "register",
        json(&state)?,
        None,
    )
    .await?;
    Ok((id, ccr))
}

/// Finish a registration: check the response and store the credential under `name`.
pub async fn register_finish(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    wa: &Webauthn,
    user: &user::Model,
    ceremony: Uuid,
    name: &str,
    response: &RegisterPublicKeyCredential,
) -> Result<webauthn_credential::Model, Failure> {
    let c = take_ceremony(db, now, user.tenant_id, ceremony, "register").await?;
    if c.user_id != Some(user.id) {
        return Err(Failure::Expired);
    }
    let state: PasskeyRegistration =
        serde_json::from_value(c.state).map_err(|_| Failure::Expired)?;
    let passkey = wa
        .finish_passkey_registration(response, &state)
        .map_err(|_| Failure::Rejected)?;
    let name = name.trim();
    let name = if name.is_empty() {
        "Passkey".to_string()
    } else {
        name.chars().take(100).collect()
    };
    let row = webauthn_credential::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(user.tenant_id),
        user_id: Set(user.id),
        name: Set(name),
        cred_id: Set(b64url(passkey.cred_id().as_ref())),
        passkey: Set(json(&passkey)?),
        created_at: Set(now),
        last_used_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Failure::Rejected,
        _ => e.into(),
    })?;
    Ok(row)
}

/// Start a second-factor ceremony for a user who has passkeys.
pub async fn second_factor_begin(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    wa: &Webauthn,
    user: &user::Model,
) -> Result<(Uuid, RequestChallengeResponse), Failure> {
    let keys: Vec<Passkey> = list(db, user.id)
        .await?
        .iter()
        .filter_map(passkey_of)
        .collect();
    if keys.is_empty() {
        return Err(Failure::UnknownCredential);
    }
    let (rcr, state) = wa
        .start_passkey_authentication(&keys)
        .map_err(|_| Failure::Rejected)?;
    let id = save_ceremony(
        db,
        now,
        user.tenant_id,
        Some(user.id),
        "second_factor",
        json(&state)?,
        None,
    )
    .await?;
    Ok((id, rcr))
}

/// A passwordless ceremony begun: its id and options, and the secret for a cookie of the
/// browser that began it (only that browser can finish it).
pub struct Begun {
    pub id: Uuid,
    pub options: RequestChallengeResponse,
    pub browser_secret: String,
}

/// Start a passwordless (usernameless) ceremony: any discoverable credential of the tenant.
/// Only a keyed hash of the browser secret is kept.
pub async fn passwordless_begin(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    wa: &Webauthn,
    key: &SubKey,
    tenant_id: Uuid,
) -> DomainResult<Begun> {
    let (rcr, state) = wa
        .start_discoverable_authentication()
        .map_err(DomainError::internal)?;
    let secret = crate::crypto::random_token(32)?;
    let id = save_ceremony(
        db,
        now,
        tenant_id,
        None,
        "passwordless",
        json(&state)?,
        Some(key.hash_hex(secret.as_bytes())),
    )
    .await?;
    Ok(Begun {
        id,
        options: rcr,
        browser_secret: secret,
    })
}

/// What a successful assertion proved: the user, and the RFC 8176 method (`hwk` for a
/// device-bound key, `swk` for a synced passkey).
pub struct Proven {
    pub user_id: Uuid,
    pub method: &'static str,
}

async fn record_use(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    row: webauthn_credential::Model,
    mut passkey: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<Proven, Failure> {
    passkey.update_credential(result);
    let user_id = row.user_id;
    let mut active: webauthn_credential::ActiveModel = row.into();
    active.passkey = Set(json(&passkey)?);
    active.last_used_at = Set(Some(now));
    active.update(db).await?;
    Ok(Proven {
        user_id,
        method: if result.backup_eligible() {
            "swk"
        } else {
            "hwk"
        },
    })
}

async fn credential(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    cred_id: &[u8],
) -> Result<(webauthn_credential::Model, Passkey), Failure> {
    let row = webauthn_credential::Entity::find()
        .filter(webauthn_credential::Column::TenantId.eq(tenant_id))
        .filter(webauthn_credential::Column::CredId.eq(b64url(cred_id)))
        .one(db)
        .await?
        .ok_or(Failure::UnknownCredential)?;
    let passkey = passkey_of(&row).ok_or(Failure::UnknownCredential)?;
    Ok((row, passkey))
}

/// Finish a second-factor ceremony of `user`.
pub async fn second_factor_finish(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    wa: &Webauthn,
    user: &user::Model,
    ceremony: Uuid,
    response: &PublicKeyCredential,
) -> Result<Proven, Failure> {
    let c = take_ceremony(db, now, user.tenant_id, ceremony, "second_factor").await?;
    if c.user_id != Some(user.id) {
        return Err(Failure::Expired);
    }
    let state: PasskeyAuthentication =
        serde_json::from_value(c.state).map_err(|_| Failure::Expired)?;
    let (row, passkey) = credential(db, user.tenant_id, response.get_credential_id()).await?;
    if row.user_id != user.id {
        return Err(Failure::UnknownCredential);
    }
    let result = wa
        .finish_passkey_authentication(response, &state)
        .map_err(|_| Failure::Rejected)?;
    record_use(db, now, row, passkey, &result).await
}

/// Finish a passwordless ceremony: the credential names its user (the user handle), and must
/// be registered to that user in this tenant.
#[allow(clippy::too_many_arguments)]
pub async fn passwordless_finish(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    wa: &Webauthn,
    key: &SubKey,
    tenant_id: Uuid,
    ceremony: Uuid,
    browser_secret: Option<&str>,
    response: &PublicKeyCredential,
) -> Result<Proven, Failure> {
    let c = take_ceremony(db, now, tenant_id, ceremony, "passwordless").await?;
    // Begun in another browser (or the cookie is gone): the ceremony is used up either way.
    let same_browser = match (&c.browser_hash, browser_secret) {
        (Some(stored), Some(secret)) => crate::crypto::ct_eq(
            stored.as_bytes(),
            key.hash_hex(secret.as_bytes()).as_bytes(),
        ),
        _ => false,
    };
    if !same_browser {
        return Err(Failure::Expired);
    }
    let state: DiscoverableAuthentication =
        serde_json::from_value(c.state).map_err(|_| Failure::Expired)?;
    let (user_handle, cred_id) = wa
        .identify_discoverable_authentication(response)
        .map_err(|_| Failure::UnknownCredential)?;
    let (row, passkey) = credential(db, tenant_id, cred_id).await?;
    if row.user_id != user_handle {
        return Err(Failure::UnknownCredential);
    }
    let key = DiscoverableKey::from(&passkey);
    let result = wa
        .finish_discoverable_authentication_v2(response, state, &key)
        .map_err(|_| Failure::Rejected)?;
    record_use(db, now, row, passkey, &result).await
}

/// Rename one of the user's credentials.
pub async fn rename(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    id: Uuid,
    name: &str,
) -> DomainResult<()> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "use 1 to 100 printable characters",
        ));
    }
    let res = webauthn_credential::Entity::update_many()
        .col_expr(
            webauthn_credential::Column::Name,
            sea_orm::sea_query::Expr::value(name),
        )
        .filter(webauthn_credential::Column::Id.eq(id))
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(DomainError::NotFound("passkey"));
    }
    Ok(())
}

/// Remove one of the user's credentials.
pub async fn remove(db: &impl ConnectionTrait, user_id: Uuid, id: Uuid) -> DomainResult<()> {
    let res = webauthn_credential::Entity::delete_many()
        .filter(webauthn_credential::Column::Id.eq(id))
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(DomainError::NotFound("passkey"));
    }
    Ok(())
}

/// Remove all of the user's credentials (administrator's reset).
pub async fn remove_all(db: &impl ConnectionTrait, user_id: Uuid) -> DomainResult<()> {
    webauthn_credential::Entity::delete_many()
        .filter(webauthn_credential::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
