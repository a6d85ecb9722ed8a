//! Service providers registered with a tenant: from SP metadata or from explicit values.

use chrono::{DateTime, Utc};
use entity::saml_sp;
use samael::metadata::EntityDescriptor;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BINDING_POST, BINDING_REDIRECT, NameIdFormat};
use crate::audit::{self, RequestMeta, actions};
use crate::error::{DomainError, DomainResult};

/// An AssertionConsumerService endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Acs {
    pub url: String,
    pub binding: String,
    pub index: u32,
    #[serde(default)]
    pub is_default: bool,
}

/// Which value goes out under which attribute name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AttributeMap {
    /// `email`, `name`, `given_name`, `family_name` or `groups`.
    pub source: String,
    pub name: String,
}

pub const ENC_AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
pub const ENC_AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";

/// What an attribute's values come from: the account's address, name and userName, its
/// profile (`address` is the formatted postal address), its SCIM groups.
pub const SOURCES: [&str; 12] = [
    "email",
    "name",
    "given_name",
    "family_name",
    "groups",
    "user_name",
    "nickname",
    "phone_number",
    "locale",
    "zoneinfo",
    "picture",
    "address",
];

/// The default attribute names: the URI (`urn:oid`) names of eduPerson / inetOrgPerson, as
/// saml2int asks.
pub fn default_attributes() -> Vec<AttributeMap> {
    [
        ("email", "urn:oid:0.9.2342.19200300.100.1.3"),
        ("name", "urn:oid:2.16.840.1.113730.3.1.241"),
        ("given_name", "urn:oid:2.5.4.42"),
        ("family_name", "urn:oid:2.5.4.4"),
        ("groups", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"),
        ("user_name", "urn:oid:0.9.2342.19200300.100.1.1"),
        ("phone_number", "urn:oid:2.5.4.20"),
    ]
    .into_iter()
    .map(|(source, name)| AttributeMap {
        source: source.into(),
        name: name.into(),
    })
    .collect()
}

/// The friendly name of a default attribute name, for readers of the assertion.
pub fn friendly_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "urn:oid:0.9.2342.19200300.100.1.3" => "mail",
        "urn:oid:2.16.840.1.113730.3.1.241" => "displayName",
        "urn:oid:2.5.4.42" => "givenName",
        "urn:oid:2.5.4.4" => "sn",
        "urn:oid:0.9.2342.19200300.100.1.1" => "uid",
        "urn:oid:2.5.4.20" => "telephoneNumber",
        "urn:oid:1.3.6.1.4.1.5923.1.5.1.1" => "isMemberOf",
        _ => return None,
    })
}

/// What an operator registers.
#[derive(Debug, Clone, Default)]
pub struct NewSp {
    pub entity_id: String,
    pub acs: Vec<Acs>,
    pub slo_url: Option<String>,
    pub slo_binding: Option<String>,
    pub signing_certs: Vec<String>,
    pub encryption_cert: Option<String>,
    /// `None`: AES-256-GCM.
    pub encryption_method: Option<String>,
    pub name_id_format: Option<NameIdFormat>,
    pub sign_assertion: Option<bool>,
    pub sign_response: Option<bool>,
    pub encrypt_assertion: Option<bool>,
    pub want_authn_requests_signed: bool,
    /// Accept this SP's requests signed with RSA-SHA1 (legacy SPs; audited when used).
    pub allow_sha1: bool,
    /// `source=name` overrides; an empty name drops the attribute.
    pub attribute_overrides: Vec<(String, String)>,
}

fn invalid(field: &'static str, msg: impl Into<String>) -> DomainError {
    DomainError::invalid(field, msg)
}

fn pem_of_b64(b64: &str) -> DomainResult<String> {
    use base64::Engine;
    let compact: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| invalid("metadata", "a certificate is not valid base64"))?;
    let cert = openssl::x509::X509::from_der(&der)
        .map_err(|_| invalid("metadata", "a certificate is not a valid X.509 certificate"))?;
    let pem = cert
        .to_pem()
        .map_err(|_| invalid("metadata", "a certificate cannot be read"))?;
    String::from_utf8(pem).map_err(DomainError::internal)
}

/// Check a PEM certificate and return it normalised.
pub fn check_pem(pem: &str) -> DomainResult<String> {
    let cert = openssl::x509::X509::from_pem(pem.as_bytes())
        .map_err(|_| invalid("cert", "not a PEM X.509 certificate"))?;
    let pem = cert
        .to_pem()
        .map_err(|_| invalid("cert", "not a PEM X.509 certificate"))?;
    String::from_utf8(pem).map_err(DomainError::internal)
}

/// Read an SP's EntityDescriptor (SAML metadata §2.4.4).
pub fn from_metadata(xml: &str) -> DomainResult<NewSp> {
    // The same strict, DTD-free parse as protocol messages before serde sees it.
    super::message::parse(xml).map_err(|e| invalid("metadata", e.0))?;
    let ed: EntityDescriptor = xml
        .parse()
        .map_err(|_| invalid("metadata", "not a SAML 2.0 EntityDescriptor"))?;
    let entity_id = ed
        .entity_id
        .clone()
        .ok_or_else(|| invalid("metadata", "the EntityDescriptor has no entityID"))?;
    let sp = ed
        .sp_sso_descriptors
        .as_ref()
        .and_then(|d| d.first())
        .ok_or_else(|| invalid("metadata", "the metadata has no SPSSODescriptor"))?;
    let acs = sp
        .assertion_consumer_services
        .iter()
        .map(|e| Acs {
            url: e.location.clone(),
            binding: e.binding.clone(),
            index: e.index as u32,
            is_default: e.is_default.unwrap_or(false),
        })
        .collect();
    // Redirect first: the front-channel logout frames use it.
    let slo = sp.single_logout_services.as_ref().and_then(|s| {
        s.iter()
            .find(|e| e.binding == BINDING_REDIRECT)
            .or_else(|| s.iter().find(|e| e.binding == BINDING_POST))
    });
    let mut signing = Vec::new();
    let mut encryption = None;
    let mut methods: Vec<String> = Vec::new();
    for kd in sp.key_descriptors.iter().flatten() {
        if kd.key_use.as_deref() != Some("signing") {
            methods.extend(
                kd.encryption_methods
                    .iter()
                    .flatten()
                    .map(|m| m.algorithm.clone()),
            );
        }
        let certs = kd
            .key_info
            .x509_data
            .as_ref()
            .map(|d| d.certificates.clone())
            .unwrap_or_default();
        for c in certs {
            let pem = pem_of_b64(&c)?;
            match kd.key_use.as_deref() {
                Some("signing") => signing.push(pem),
                Some("encryption") => encryption = encryption.or(Some(pem)),
                _ => {
                    encryption = encryption.or(Some(pem.clone()));
                    signing.push(pem);
                }
            }
        }
    }
    let name_id_format = sp
        .name_id_formats
        .iter()
        .flatten()
        .find_map(|f| NameIdFormat::parse(f.trim()));
    Ok(NewSp {
        entity_id,
        acs,
        slo_url: slo.map(|e| e.location.clone()),
        slo_binding: slo.map(|e| e.binding.clone()),
        signing_certs: signing,
        encryption_cert: encryption,
        // What the SP lists (SAML metadata §2.4.1.1): GCM when it can, else CBC.
        encryption_method: (!methods.is_empty()
            && !methods.iter().any(|m| m == ENC_AES256_GCM)
            && methods.iter().any(|m| m == ENC_AES256_CBC))
        .then(|| ENC_AES256_CBC.to_string()),
        name_id_format,
        sign_assertion: sp.want_assertions_signed.filter(|w| *w),
        want_authn_requests_signed: sp.authn_requests_signed.unwrap_or(false),
        ..NewSp::default()
    })
}

fn check_url(field: &'static str, url: &str) -> DomainResult<()> {
    let parsed = url::Url::parse(url).map_err(|_| invalid(field, "not an absolute URL"))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.fragment().is_some() {
        return Err(invalid(field, "use an http(s) URL without a fragment"));
    }
    Ok(())
}

/// Register a service provider (and record who did).
pub async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    input: NewSp,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<saml_sp::Model> {
    if input.entity_id.trim().is_empty() || input.entity_id.len() > 1024 {
        return Err(invalid("entity_id", "use 1 to 1024 characters"));
    }
    if input.acs.is_empty() {
        return Err(invalid("acs_url", "the SP has no AssertionConsumerService"));
    }
    for a in &input.acs {
        check_url("acs_url", &a.url)?;
    }
    if !input.acs.iter().any(|a| a.binding == BINDING_POST) {
        return Err(invalid(
            "acs_url",
            "the SP has no AssertionConsumerService for the HTTP-POST binding",
        ));
    }
    if let Some(u) = &input.slo_url {
        check_url("slo_url", u)?;
    }
    let encrypt = input.encrypt_assertion.unwrap_or(false);
    if encrypt && input.encryption_cert.is_none() {
        return Err(invalid(
            "encrypt_assertion",
            "encryption needs the SP's certificate (--cert or metadata)",
        ));
    }
    if input.want_authn_requests_signed && input.signing_certs.is_empty() {
        return Err(invalid(
            "want_authn_requests_signed",
            "verifying signed requests needs the SP's certificate (--cert or metadata)",
        ));
    }
    let encryption_method = input
        .encryption_method
        .clone()
        .unwrap_or_else(|| ENC_AES256_GCM.to_string());
    if ![ENC_AES256_GCM, ENC_AES256_CBC].contains(&encryption_method.as_str()) {
        return Err(invalid("encryption_method", "use aes256-gcm or aes256-cbc"));
    }
    let mut attributes = default_attributes();
    for (source, name) in &input.attribute_overrides {
        if !SOURCES.contains(&source.as_str()) {
            return Err(invalid(
                "attribute",
                format!("unknown source {source}; use one of {}", SOURCES.join(", ")),
            ));
        }
        attributes.retain(|a| &a.source != source);
        if !name.is_empty() {
            attributes.push(AttributeMap {
                source: source.clone(),
                name: name.clone(),
            });
        }
    }
    let exists = saml_sp::Entity::find()
        .filter(saml_sp::Column::TenantId.eq(tenant_id))
        .filter(saml_sp::Column::EntityId.eq(&input.entity_id))
        .one(db)
        .await?
        .is_some();
    if exists {
        return Err(DomainError::Conflict(format!(
            "service provider {} already exists",
            input.entity_id
        )));
    }
    let model = saml_sp::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id),
        entity_id: Set(input.entity_id.clone()),
        acs: Set(serde_json::to_value(&input.acs).map_err(DomainError::internal)?),
        slo_url: Set(input.slo_url.clone()),
        slo_binding: Set(input
            .slo_url
            .as_ref()
            .map(|_| input.slo_binding.clone().unwrap_or(BINDING_REDIRECT.into()))),
        signing_certs: Set(
            serde_json::to_value(&input.signing_certs).map_err(DomainError::internal)?
        ),
        encryption_cert: Set(input.encryption_cert.clone()),
        encryption_method: Set(encryption_method),
        name_id_format: Set(input
            .name_id_format
            .unwrap_or(NameIdFormat::Unspecified)
            .urn()
            .to_string()),
        sign_assertion: Set(input.sign_assertion.unwrap_or(true)),
        sign_response: Set(input.sign_response.unwrap_or(false)),
        encrypt_assertion: Set(encrypt),
        want_authn_requests_signed: Set(input.want_authn_requests_signed),
        allow_sha1: Set(input.allow_sha1),
        attributes: Set(serde_json::to_value(&attributes).map_err(DomainError::internal)?),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| match e.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => DomainError::Conflict(format!(
            "service provider {} already exists",
            input.entity_id
        )),
        _ => e.into(),
    })?;
    audit::record(
        db,
        now,
        audit::Event::new(actions::SAML_SP_CREATE, actor.to_string(), meta)
            .tenant(tenant_id)
            .target(format!("saml_sp:{}", model.entity_id)),
    )
    .await?;
    Ok(model)
}

/// Settings of a registered SP that can change (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct SpUpdate {
    pub allow_sha1: Option<bool>,
}

/// Change a registered SP's settings (and record who did).
pub async fn update(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    entity_id: &str,
    change: SpUpdate,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<saml_sp::Model> {
    let Some(sp) = find(db, tenant_id, entity_id).await? else {
        return Err(DomainError::NotFound("service provider"));
    };
    let mut active: saml_sp::ActiveModel = sp.into();
    if let Some(allow) = change.allow_sha1 {
        active.allow_sha1 = Set(allow);
    }
    let model = active.update(db).await?;
    audit::record(
        db,
        now,
        audit::Event::new(actions::SAML_SP_UPDATE, actor.to_string(), meta)
            .tenant(tenant_id)
            .target(format!("saml_sp:{}", model.entity_id))
            .details(serde_json::json!({ "allow_sha1": model.allow_sha1 })),
    )
    .await?;
    Ok(model)
}

/// Record that a request of this SP signed with RSA-SHA1 was accepted (`allow_sha1`).
pub async fn record_sha1_accepted(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    sp: &saml_sp::Model,
    message: &str,
    meta: &RequestMeta,
) -> DomainResult<()> {
    audit::record(
        db,
        now,
        audit::Event::new(
            actions::SAML_SHA1_ACCEPTED,
            format!("saml_sp:{}", sp.entity_id),
            meta,
        )
        .tenant(sp.tenant_id)
        .target(format!("saml_sp:{}", sp.entity_id))
        .details(serde_json::json!({ "message": message, "sig_alg": "rsa-sha1" })),
    )
    .await
}

pub async fn list(db: &impl ConnectionTrait, tenant_id: Uuid) -> DomainResult<Vec<saml_sp::Model>> {
    Ok(saml_sp::Entity::find()
        .filter(saml_sp::Column::TenantId.eq(tenant_id))
        .order_by_asc(saml_sp::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn find(
    db: &impl ConnectionTrait,
    tenant_id: Uuid,
    entity_id: &str,
) -> DomainResult<Option<saml_sp::Model>> {
    Ok(saml_sp::Entity::find()
        .filter(saml_sp::Column::TenantId.eq(tenant_id))
        .filter(saml_sp::Column::EntityId.eq(entity_id))
        .one(db)
        .await?)
}

pub async fn delete(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    entity_id: &str,
    actor: &str,
    meta: &RequestMeta,
) -> DomainResult<()> {
    let res = saml_sp::Entity::delete_many()
        .filter(saml_sp::Column::TenantId.eq(tenant_id))
        .filter(saml_sp::Column::EntityId.eq(entity_id))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(DomainError::NotFound("service provider"));
    }
    audit::record(
        db,
        now,
        audit::Event::new(actions::SAML_SP_DELETE, actor.to_string(), meta)
            .tenant(tenant_id)
            .target(format!("saml_sp:{entity_id}")),
    )
    .await
}

/// The registered ACS endpoints of an SP.
pub fn acs_of(sp: &saml_sp::Model) -> Vec<Acs> {
    serde_json::from_value(sp.acs.clone()).unwrap_or_default()
}

pub fn signing_certs_of(sp: &saml_sp::Model) -> Vec<String> {
    serde_json::from_value(sp.signing_certs.clone()).unwrap_or_default()
}

pub fn attributes_of(sp: &saml_sp::Model) -> Vec<AttributeMap> {
    serde_json::from_value(sp.attributes.clone()).unwrap_or_default()
}

/// The ACS endpoint for the HTTP-POST binding that a response goes to when the request names
/// none: the default one, else the lowest index.
pub fn default_acs(sp: &saml_sp::Model) -> Option<Acs> {
    let mut post: Vec<Acs> = acs_of(sp)
        .into_iter()
        .filter(|a| a.binding == BINDING_POST)
        .collect();
    post.sort_by_key(|a| (!a.is_default, a.index));
    post.into_iter().next()
}

/// The JSON the CLI prints for an SP.
pub fn to_json(sp: &saml_sp::Model) -> serde_json::Value {
    serde_json::json!({
        "entity_id": sp.entity_id,
        "acs": sp.acs,
        "slo_url": sp.slo_url,
        "slo_binding": sp.slo_binding,
        "name_id_format": sp.name_id_format,
        "sign_assertion": sp.sign_assertion,
        "sign_response": sp.sign_response,
        "encrypt_assertion": sp.encrypt_assertion,
        "encryption_method": sp.encryption_method,
        "want_authn_requests_signed": sp.want_authn_requests_signed,
        "allow_sha1": sp.allow_sha1,
        "has_signing_cert": !signing_certs_of(sp).is_empty(),
        "has_encryption_cert": sp.encryption_cert.is_some(),
        "attributes": sp.attributes,
        "created_at": sp.created_at.to_rfc3339(),
    })
}
