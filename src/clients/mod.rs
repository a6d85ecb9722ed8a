//! OAuth 2.0 / OpenID Connect clients of a tenant: registration rules, secrets and lookup.
//!
//! Secrets are 256 random bits, shown once, and stored as HMAC-SHA256 under a key derived from
//! the master key: a fast keyed hash, not a password hash, since a random secret needs no
//! stretching and the token endpoint must not be hash-bound. Comparison is constant-time.

use chrono::{DateTime, Utc};
use entity::client;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use url::Url;
use uuid::Uuid;

use crate::audit::{self, RequestMeta};
use crate::crypto::{self, SubKey};
use crate::error::{DomainError, DomainResult};
use crate::keys::Alg;

pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];
pub const DEFAULT_GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token"];
pub const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];
pub const DEFAULT_AUTH_METHOD: &str = "client_secret_basic";
/// The secret methods a client registered without an explicit method accepts (as Keycloak
/// does): openid-client sends `client_secret_post` by default, most others Basic.
pub const SECRET_METHODS: &[&str] = &["client_secret_basic", "client_secret_post"];
/// How far ahead a `private_key_jwt` assertion may expire unless the client sets less:
/// authlib, for one, signs assertions valid for an hour.
pub const DEFAULT_MAX_ASSERTION_LIFETIME_SECS: i32 = 3600;
/// What a client may ask for unless registered with fewer.
pub const DEFAULT_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

pub const ACTION_CREATE: &str = "client.create";
pub const ACTION_DELETE: &str = "client.delete";
pub const ACTION_UPDATE: &str = "client.update";

#[derive(Clone, Debug, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Empty: the defaults.
    pub grant_types: Vec<String>,
    pub auth_method: Option<String>,
    /// Empty: the defaults.
    pub scopes: Vec<String>,
    pub cors_origins: Vec<String>,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub id_token_signed_response_alg: Option<String>,
    pub skip_consent: bool,
    /// `private_key_jwt`: the longest assertion lifetime accepted (seconds, at most the
    /// default of one hour); `None`: the default.
    pub max_assertion_lifetime_secs: Option<i32>,
}

/// A new client and, for confidential clients with a shared secret, that secret (shown once).
pub struct Created {
    pub client: client::Model,
    pub secret: Option<String>,
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created")
            .field("client", &self.client)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::invalid(field, message)
}

/// The client authentication methods a client accepts: its registered one, or, when it was
/// registered without choosing (`auth_method_pinned` false) and has a secret, both secret
/// methods.
pub fn auth_methods(client: &client::Model) -> Vec<&str> {
    if !client.auth_method_pinned && SECRET_METHODS.contains(&client.auth_method.as_str()) {
        SECRET_METHODS.to_vec()
    } else {
        vec![client.auth_method.as_str()]
    }
}

/// How far ahead a `private_key_jwt` assertion of this client may expire, in seconds.
pub fn max_assertion_lifetime_secs(client: &client::Model) -> i64 {
    i64::from(
        client
            .max_assertion_lifetime_secs
            .unwrap_or(DEFAULT_MAX_ASSERTION_LIFETIME_SECS),
    )
}

fn is_loopback(url: &Url) -> bool {
    matches!(
        url.host_str(),
        Some("localhost") | Some("127.0.0.1") | Some("[::1]")
    )
}

/// A redirect URI per RFC 6749 §3.1.2 and RFC 8252: absolute, no fragment; https, or http on
/// a loopback host, or a private-use scheme of reverse-domain form (`com.example.app:/cb`).
pub fn check_redirect_uri(field: &'static str, raw: &str) -> DomainResult<()> {
    // Matching is exact: a `*` would be matched literally, never as a pattern.
    if raw.contains('*') {
        return Err(invalid(
            field,
            format!(
                "{raw:?}: wildcards are not supported; register each redirect URI exactly as the \
                 client sends it"
            ),
        ));
    }
    let url =
        Url::parse(raw).map_err(|_| invalid(field, format!("{raw:?} is not an absolute URI")))?;
    if url.fragment().is_some() || raw.contains('#') {
        return Err(invalid(field, format!("{raw:?} must not have a fragment")));
    }
    let ok = match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => is_loopback(&url),
        scheme => scheme.contains('.'),
    };
    if !ok {
        return Err(invalid(
            field,
            format!(
                "{raw:?} must use https, http on a loopback host, or a reverse-domain private scheme"
            ),
        ));
    }
    if raw.len() > 2000 {
        return Err(invalid(field, "a URI has at most 2000 characters"));
    }
    Ok(())
}

/// A scope token per RFC 6749 §3.3.
fn check_scope(s: &str) -> DomainResult<()> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "scope",
            format!("{s:?} is not a valid scope token"),
        ))
    }
}

/// A CORS origin: `scheme://host[:port]`, nothing more.
fn check_origin(s: &str) -> DomainResult<()> {
    let url =
        Url::parse(s).map_err(|_| invalid("cors_origin", format!("{s:?} is not an origin")))?;
    let ok = matches!(url.scheme(), "https" | "http")
        && url.host_str().is_some()
        && url.path() == "/"
        && !s.ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty();
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "cors_origin",
            format!("{s:?} is not an origin like https://app.example.com"),
        ))
    }
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// The list stored in a JSON column.
pub fn list(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

/// A registration that passed the rules, ready to store.
struct Checked {
    name: String,
    auth_method: String,
    auth_method_pinned: bool,
    grant_types: Vec<String>,
    redirect_uris: Vec<String>,
    post_logout: Vec<String>,
    scopes: Vec<String>,
    cors: Vec<String>,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    alg: String,
    skip_consent: bool,
    max_assertion_lifetime_secs: Option<i32>,
}

/// The registration rules, for a new client and for a change of one alike.
fn checked(input: NewClient) -> DomainResult<Checked> {
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(invalid("name", "use 1 to 200 printable characters"));
    }
    let auth_method_pinned = input.auth_method.is_some();
    let auth_method = input
        .auth_method
        .unwrap_or_else(|| DEFAULT_AUTH_METHOD.to_string());
    if !AUTH_METHODS.contains(&auth_method.as_str()) {
        return Err(invalid(
            "auth_method",
            format!("{auth_method:?} is not one of {}", AUTH_METHODS.join(", ")),
        ));
    }
    let grant_types = if input.grant_types.is_empty() {
        DEFAULT_GRANT_TYPES.iter().map(|s| s.to_string()).collect()
    } else {
        dedup(input.grant_types)
    };
    for g in &grant_types {
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err(invalid(
                "grant_type",
                format!("{g:?} is not one of {}", GRANT_TYPES.join(", ")),
            ));
        }
    }
    if auth_method == "none" && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(invalid(
            "grant_type",
            "a public client (auth method none) cannot use client_credentials",
        ));
    }
    let redirect_uris = dedup(input.redirect_uris);
    for uri in &redirect_uris {
        check_redirect_uri("redirect_uri", uri)?;
    }
    if grant_types.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
        return Err(invalid(
            "redirect_uri",
            "the authorization_code grant needs at least one redirect URI",
        ));
    }
    let post_logout = dedup(input.post_logout_redirect_uris);
    for uri in &post_logout {
        check_redirect_uri("post_logout_redirect_uri", uri)?;
    }
    let scopes = if input.scopes.is_empty() {
        DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
    } else {
        dedup(input.scopes)
    };
    for s in &scopes {
        check_scope(s)?;
    }
    let cors = dedup(input.cors_origins);
    for o in &cors {
        check_origin(o)?;
    }
    if let Some(uri) = &input.jwks_uri {
        let url = Url::parse(uri).map_err(|_| invalid("jwks_uri", "not an absolute URI"))?;
        if url.scheme() != "https" && !(url.scheme() == "http" && is_loopback(&url)) {
            return Err(invalid("jwks_uri", "must use https"));
        }
    }
    if let Some(jwks) = &input.jwks {
        let v: serde_json::Value =
            serde_json::from_str(jwks).map_err(|_| invalid("jwks", "not valid JSON"))?;
        if !v["keys"].is_array() {
            return Err(invalid("jwks", "a JWK Set needs a \"keys\" array"));
        }
    }
    if input.jwks.is_some() && input.jwks_uri.is_some() {
        return Err(invalid("jwks", "give jwks or jwks_uri, not both"));
    }
    if auth_method == "private_key_jwt" && input.jwks.is_none() && input.jwks_uri.is_none() {
        return Err(invalid(
            "jwks",
            "private_key_jwt needs the client's jwks or jwks_uri",
        ));
    }
    if let Some(max) = input.max_assertion_lifetime_secs {
        if auth_method != "private_key_jwt" {
            return Err(invalid(
                "max_assertion_lifetime",
                "only a private_key_jwt client has assertions",
            ));
        }
        if !(1..=DEFAULT_MAX_ASSERTION_LIFETIME_SECS).contains(&max) {
            return Err(invalid(
                "max_assertion_lifetime",
                format!("use 1 to {DEFAULT_MAX_ASSERTION_LIFETIME_SECS} seconds"),
            ));
        }
    }
    let alg = input
        .id_token_signed_response_alg
        .unwrap_or_else(|| Alg::Rs256.as_str().to_string());
    if Alg::parse(&alg).is_none() {
        return Err(invalid(
            "id_token_signed_response_alg",
            format!("{alg:?} is not one of RS256, ES256, EdDSA"),
        ));
    }

    Ok(Checked {
        name,
        auth_method,
        auth_method_pinned,
        grant_types,
        redirect_uris,
        post_logout,
        scopes,
        cors,
        jwks: input.jwks,
        jwks_uri: input.jwks_uri,
        alg,
        skip_consent: input.skip_consent,
        max_assertion_lifetime_secs: input.max_assertion_lifetime_secs,
    })
}

/// Validate, then store the client and its audit event. Returns the secret once.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    secret_key: &SubKey,
    tenant_id: Uuid,
    input: NewClient,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<Created> {
    let Checked {
        name,
        auth_method,
        auth_method_pinned,
        grant_types,
        redirect_uris,
        post_logout,
        scopes,
        cors,
        jwks,
        jwks_uri,
        alg,
        skip_consent,
        max_assertion_lifetime_secs,
    } = checked(input)?;
    let secret = matches!(
        auth_method.as_str(),
        "client_secret_basic" | "client_secret_post"
    )
    .then(|| crypto::random_token(32))
    .transpose()?;
    let txn = crate::db::begin(db).await?;
    let model = client::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id),
        client_id: Set(crypto::random_id(16)?),
        name: Set(name),
        secret_hash: Set(secret.as_ref().map(|s| secret_key.hash_hex(s.as_bytes()))),
        auth_method: Set(auth_method),
        auth_method_pinned: Set(auth_method_pinned),
        max_assertion_lifetime_secs: Set(max_assertion_lifetime_secs),
        redirect_uris: Set(json_list(&redirect_uris)),
        post_logout_redirect_uris: Set(json_list(&post_logout)),
        grant_types: Set(json_list(&grant_types)),
        scopes: Set(json_list(&scopes)),
        cors_origins: Set(json_list(&cors)),
        jwks: Set(jwks),
        jwks_uri: Set(jwks_uri),
        id_token_signed_response_alg: Set(alg),
        skip_consent: Set(skip_consent),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(ACTION_CREATE, actor.to_string(), meta)
            .tenant(tenant_id)
            .target(format!("client:{}", model.client_id)),
    )
    .await?;
    txn.commit().await?;
    Ok(Created {
        client: model,
        secret,
    })
}

/// What an operator may change of a client; `None` leaves a setting as it is. The auth
/// method and the secret are not changed here (see [`rotate_secret`]).
#[derive(Clone, Debug, Default)]
pub struct ClientChange {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub cors_origins: Option<Vec<String>>,
    /// `Some(None)` removes it.
    pub jwks: Option<Option<String>>,
    pub jwks_uri: Option<Option<String>>,
    pub id_token_signed_response_alg: Option<String>,
    pub skip_consent: Option<bool>,
    pub max_assertion_lifetime_secs: Option<Option<i32>>,
}

/// Change a client's registration under the same rules as [`create`]; the stored row is read
/// inside the write's transaction and checked against `expect`.
#[allow(clippy::too_many_arguments)]
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    client_id: &str,
    change: ClientChange,
    expect: crate::error::Expect<'_, client::Model>,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<client::Model> {
    use sea_orm::QuerySelect;
    if !crate::db::storable(client_id) {
        return Err(DomainError::NotFound("client"));
    }
    let txn = crate::db::begin(db).await?;
    let old = client::Entity::find()
        .filter(client::Column::TenantId.eq(tenant_id))
        .filter(client::Column::ClientId.eq(client_id))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("client"))?;
    crate::error::expect(expect, &old, "client")?;
    let c = checked(NewClient {
        name: change.name.unwrap_or_else(|| old.name.clone()),
        redirect_uris: change
            .redirect_uris
            .unwrap_or_else(|| list(&old.redirect_uris)),
        post_logout_redirect_uris: change
            .post_logout_redirect_uris
            .unwrap_or_else(|| list(&old.post_logout_redirect_uris)),
        grant_types: change.grant_types.unwrap_or_else(|| list(&old.grant_types)),
        auth_method: Some(old.auth_method.clone()),
        scopes: change.scopes.unwrap_or_else(|| list(&old.scopes)),
        cors_origins: change
            .cors_origins
            .unwrap_or_else(|| list(&old.cors_origins)),
        jwks: change.jwks.unwrap_or_else(|| old.jwks.clone()),
        jwks_uri: change.jwks_uri.unwrap_or_else(|| old.jwks_uri.clone()),
        id_token_signed_response_alg: Some(
            change
                .id_token_signed_response_alg
                .unwrap_or_else(|| old.id_token_signed_response_alg.clone()),
        ),
        skip_consent: change.skip_consent.unwrap_or(old.skip_consent),
        max_assertion_lifetime_secs: change
            .max_assertion_lifetime_secs
            .unwrap_or(old.max_assertion_lifetime_secs),
    })?;
    let pinned = old.auth_method_pinned;
    let mut active: client::ActiveModel = old.into();
    active.name = Set(c.name);
    active.auth_method_pinned = Set(pinned);
    active.max_assertion_lifetime_secs = Set(c.max_assertion_lifetime_secs);
    active.redirect_uris = Set(json_list(&c.redirect_uris));
    active.post_logout_redirect_uris = Set(json_list(&c.post_logout));
    active.grant_types = Set(json_list(&c.grant_types));
    active.scopes = Set(json_list(&c.scopes));
    active.cors_origins = Set(json_list(&c.cors));
    active.jwks = Set(c.jwks);
    active.jwks_uri = Set(c.jwks_uri);
    active.id_token_signed_response_alg = Set(c.alg);
    active.skip_consent = Set(c.skip_consent);
    let model = active.update(&txn).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(ACTION_UPDATE, actor.to_string(), meta)
            .tenant(tenant_id)
            .target(format!("client:{client_id}")),
    )
    .await?;
    txn.commit().await?;
    Ok(model)
}

pub async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    client_id: &str,
) -> DomainResult<Option<client::Model>> {
    if !crate::db::storable(client_id) {
        return Ok(None);
    }
    Ok(client::Entity::find()
        .filter(client::Column::TenantId.eq(tenant_id))
        .filter(client::Column::ClientId.eq(client_id))
        .one(db)
        .await?)
}

pub async fn list_for_tenant(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
) -> DomainResult<Vec<client::Model>> {
    Ok(client::Entity::find()
        .filter(client::Column::TenantId.eq(tenant_id))
        .order_by_asc(client::Column::CreatedAt)
        .all(db)
        .await?)
}

#[allow(clippy::too_many_arguments)]
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    client_id: &str,
    expect: crate::error::Expect<'_, client::Model>,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<()> {
    use sea_orm::QuerySelect;
    let txn = crate::db::begin(db).await?;
    if expect.is_some() {
        let old = client::Entity::find()
            .filter(client::Column::TenantId.eq(tenant_id))
            .filter(client::Column::ClientId.eq(client_id))
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound("client"))?;
        crate::error::expect(expect, &old, "client")?;
    }
    let result = client::Entity::delete_many()
        .filter(client::Column::TenantId.eq(tenant_id))
        .filter(client::Column::ClientId.eq(client_id))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(DomainError::NotFound("client"));
    }
    // Its users' grants end with it: their refresh tokens, and the access tokens issued under
    // them, are dead at once on every node (grants are read from the database, not cached).
    entity::grant::Entity::update_many()
        .col_expr(entity::grant::Column::RevokedAt, Expr::value(now))
        .filter(entity::grant::Column::TenantId.eq(tenant_id))
        .filter(entity::grant::Column::ClientId.eq(client_id))
        .filter(entity::grant::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(ACTION_DELETE, actor.to_string(), meta)
            .tenant(tenant_id)
            .target(format!("client:{client_id}")),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A new secret for a client that authenticates with one; the old one stops working at once on
/// this node and within the read-cache TTL on the others. Returns the client and the secret
/// (shown once).
#[allow(clippy::too_many_arguments)]
pub async fn rotate_secret<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    secret_key: &SubKey,
    tenant_id: Uuid,
    client_id: &str,
    expect: crate::error::Expect<'_, client::Model>,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<(client::Model, String)> {
    use sea_orm::QuerySelect;
    if !crate::db::storable(client_id) {
        return Err(DomainError::NotFound("client"));
    }
    let txn = crate::db::begin(db).await?;
    let old = client::Entity::find()
        .filter(client::Column::TenantId.eq(tenant_id))
        .filter(client::Column::ClientId.eq(client_id))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound("client"))?;
    crate::error::expect(expect, &old, "client")?;
    if old.secret_hash.is_none() {
        return Err(invalid(
            "client",
            "this client has no secret (auth method none or private_key_jwt)",
        ));
    }
    let secret = crypto::random_token(32)?;
    let mut active: client::ActiveModel = old.into();
    active.secret_hash = Set(Some(secret_key.hash_hex(secret.as_bytes())));
    let model = active.update(&txn).await?;
    audit::record(
        &txn,
        now,
        audit::Event::new(
            crate::audit::actions::CLIENT_SECRET_ROTATE,
            actor.to_string(),
            meta,
        )
        .tenant(tenant_id)
        .target(format!("client:{client_id}")),
    )
    .await?;
    txn.commit().await?;
    Ok((model, secret))
}

/// Whether `presented` is the client's secret (constant-time).
pub fn verify_secret(secret_key: &SubKey, client: &client::Model, presented: &str) -> bool {
    match &client.secret_hash {
        Some(stored) => crypto::ct_eq(
            secret_key.hash_hex(presented.as_bytes()).as_bytes(),
            stored.as_bytes(),
        ),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://app.example.com/cb",
            "https://app.example.com/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(check_redirect_uri("redirect_uri", ok).is_ok(), "{ok}");
        }
        for bad in [
            "/relative",
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "javascript:alert(1)",
            "myapp:/cb",
            "not a uri",
            "https://*.example.com/cb",
            "https://app.example.com/*",
        ] {
            assert!(check_redirect_uri("redirect_uri", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_and_origins() {
        assert!(check_scope("openid").is_ok());
        assert!(check_scope("read:all").is_ok());
        assert!(check_scope("has space").is_err());
        assert!(check_scope("quote\"").is_err());
        assert!(check_origin("https://app.example.com").is_ok());
        assert!(check_origin("http://localhost:3000").is_ok());
        assert!(check_origin("https://app.example.com/").is_err());
        assert!(check_origin("https://app.example.com/path").is_err());
    }
}
