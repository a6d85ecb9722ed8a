//! Each tenant's SAML signing key and self-signed X.509 certificate.
//!
//! A tenant gets one when it is created (or, for tenants made before SAML existed, the first
//! time SAML needs it). `plinto saml-cert rotate` makes a new one the signing certificate and
//! retires the old one, which stays in the metadata for the overlap (the same retention as
//! the OIDC signing keys) so that SPs that refresh metadata on a schedule keep verifying.

use chrono::{DateTime, Duration, Utc};
use entity::saml_cert;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, Set, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use crate::crypto::{self, SubKey};
use crate::error::{DomainError, DomainResult};

/// How long a certificate is valid. SAML SPs pin the certificate from the metadata and do
/// not check its dates (saml2int); a long validity avoids needless breakage.
const VALIDITY_DAYS: i64 = 10 * 365;

fn ssl(e: openssl::error::ErrorStack) -> DomainError {
    DomainError::internal(format!("openssl: {e}"))
}

/// A signing key ready to use: the private key (PKCS#8 DER for xmlsec) and its certificate.
pub struct Signer {
    pub key: PKey<Private>,
    pub key_der: Vec<u8>,
    pub cert_der: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

/// A new RSA-2048 key and its self-signed certificate (PEM), the key as PKCS#8 DER.
fn generate(cn: &str, now: DateTime<Utc>) -> DomainResult<(String, Vec<u8>, DateTime<Utc>)> {
    let rsa = Rsa::generate(2048).map_err(ssl)?;
    let key = PKey::from_rsa(rsa).map_err(ssl)?;
    let mut name = X509NameBuilder::new().map_err(ssl)?;
    name.append_entry_by_text("CN", cn).map_err(ssl)?;
    let name = name.build();
    let serial = BigNum::from_slice(&crypto::random_bytes(16)?).map_err(ssl)?;
    let not_after = now + Duration::days(VALIDITY_DAYS);
    let mut b = X509::builder().map_err(ssl)?;
    b.set_version(2).map_err(ssl)?;
    let serial = Asn1Integer::from_bn(&serial).map_err(ssl)?;
    b.set_serial_number(&serial).map_err(ssl)?;
    b.set_subject_name(&name).map_err(ssl)?;
    b.set_issuer_name(&name).map_err(ssl)?;
    b.set_pubkey(&key).map_err(ssl)?;
    let from = Asn1Time::from_unix(now.timestamp() - 60).map_err(ssl)?;
    let until = Asn1Time::from_unix(not_after.timestamp()).map_err(ssl)?;
    b.set_not_before(&from).map_err(ssl)?;
    b.set_not_after(&until).map_err(ssl)?;
    b.sign(&key, MessageDigest::sha256()).map_err(ssl)?;
    let pem = String::from_utf8(b.build().to_pem().map_err(ssl)?).map_err(DomainError::internal)?;
    let der = key.private_key_to_pkcs8().map_err(ssl)?;
    Ok((pem, der, not_after))
}

/// Make a new signing certificate for the tenant (not yet retiring any other).
pub async fn create(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    enc: &SubKey,
    tenant_id: Uuid,
    tenant_slug: &str,
) -> DomainResult<saml_cert::Model> {
    let cn = format!("Plinto SAML IdP {tenant_slug}");
    // RSA key generation takes a while: not on the async executor.
    let (pem, der, not_after) = tokio::task::spawn_blocking(move || generate(&cn, now))
        .await
        .map_err(DomainError::internal)??;
    Ok(saml_cert::ActiveModel {
        id: Set(Uuid::now_v7()),
        tenant_id: Set(tenant_id),
        cert_pem: Set(pem),
        private_key_jwe: Set(crate::keys::encrypt(enc, crypto_b64(&der).as_bytes())?),
        created_at: Set(now),
        not_after: Set(not_after),
        retired_at: Set(None),
    }
    .insert(db)
    .await?)
}

fn crypto_b64(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// Retire the active certificate and make a new one, in one transaction.
/// Returns (new, retired).
pub async fn rotate<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    now: DateTime<Utc>,
    enc: &SubKey,
    tenant_id: Uuid,
    tenant_slug: &str,
) -> DomainResult<(saml_cert::Model, Vec<saml_cert::Model>)> {
    let txn = crate::db::begin(db).await?;
    let retired = saml_cert::Entity::find()
        .filter(saml_cert::Column::TenantId.eq(tenant_id))
        .filter(saml_cert::Column::RetiredAt.is_null())
        .all(&txn)
        .await?;
    saml_cert::Entity::update_many()
        .col_expr(saml_cert::Column::RetiredAt, Expr::value(now))
        .filter(saml_cert::Column::TenantId.eq(tenant_id))
        .filter(saml_cert::Column::RetiredAt.is_null())
        .exec(&txn)
        .await?;
    let new = create(&txn, now, enc, tenant_id, tenant_slug).await?;
    txn.commit().await?;
    Ok((new, retired))
}

/// The certificates in the metadata: the active one first, then those retired less than
/// `overlap` ago.
pub async fn published(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant_id: Uuid,
    overlap: Duration,
) -> DomainResult<Vec<saml_cert::Model>> {
    Ok(saml_cert::Entity::find()
        .filter(saml_cert::Column::TenantId.eq(tenant_id))
        .filter(
            Condition::any()
                .add(saml_cert::Column::RetiredAt.is_null())
                .add(saml_cert::Column::RetiredAt.gt(now - overlap)),
        )
        .order_by_desc(saml_cert::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The tenant's active certificate, made now if it has none (tenants older than SAML).
pub async fn active(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    enc: &SubKey,
    tenant_id: Uuid,
    tenant_slug: &str,
) -> DomainResult<saml_cert::Model> {
    let found = saml_cert::Entity::find()
        .filter(saml_cert::Column::TenantId.eq(tenant_id))
        .filter(saml_cert::Column::RetiredAt.is_null())
        .order_by_desc(saml_cert::Column::CreatedAt)
        .one(db)
        .await?;
    match found {
        Some(c) => Ok(c),
        None => create(db, now, enc, tenant_id, tenant_slug).await,
    }
}

/// Decrypt a certificate's key for signing.
pub fn signer(enc: &SubKey, cert: &saml_cert::Model) -> DomainResult<Signer> {
    use base64::Engine;
    let b64 = crate::keys::decrypt(enc, &cert.private_key_jwe)?;
    let key_der = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .map_err(DomainError::internal)?;
    let key = PKey::private_key_from_der(&key_der).map_err(ssl)?;
    Ok(Signer {
        key,
        key_der,
        cert_der: pem_to_der(&cert.cert_pem)?,
    })
}

/// The DER bytes of a PEM certificate.
pub fn pem_to_der(pem: &str) -> DomainResult<Vec<u8>> {
    X509::from_pem(pem.as_bytes())
        .and_then(|c| c.to_der())
        .map_err(ssl)
}

/// The base64 body of a certificate, as `ds:X509Certificate` carries it.
pub fn x509_b64(pem: &str) -> DomainResult<String> {
    Ok(crypto_b64(&pem_to_der(pem)?))
}

/// The signer of a tenant's messages: its active certificate's key.
pub async fn tenant_signer(
    state: &crate::state::AppState,
    tenant: &entity::tenant::Model,
) -> DomainResult<Signer> {
    let cert = active(
        &state.db,
        state.now(),
        &state.keys.signing,
        tenant.id,
        &tenant.slug,
    )
    .await?;
    signer(&state.keys.signing, &cert)
}
