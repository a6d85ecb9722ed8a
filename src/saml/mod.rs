//! SAML 2.0 identity provider (SAML core, bindings, profiles; the saml2int interoperability
//! profile): per-tenant metadata and signing certificates, registered service providers,
//! SP- and IdP-initiated Web Browser SSO over the HTTP-Redirect and HTTP-POST bindings, and
//! Single Logout in both directions.
//!
//! XML signatures and their canonicalization are xmlsec's (through samael); encryption and
//! Redirect-binding signatures are OpenSSL's. Outgoing XML is rendered from askama templates
//! (escaped), incoming XML is parsed strictly by libxml2 with DTDs refused.

pub mod certs;
pub mod cli;
pub mod error;
pub mod message;
pub mod metadata;
pub mod request;
pub mod response;
pub mod schema;
pub mod slo;
pub mod sps;
pub mod sso;

use actix_web::web;

use crate::http::routes;

pub const NS_PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

pub const AC_PASSWORD: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password";
pub const AC_PASSWORD_PROTECTED_TRANSPORT: &str =
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
/// A second factor on top of the password (the REFEDS MFA profile, widely requested by SPs).
pub const AC_REFEDS_MFA: &str = "https://refeds.org/profile/mfa";
pub const AC_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";

/// Initialise libxml2 and xmlsec once, on the calling thread, before any worker thread parses
/// or verifies XML. Both initialise themselves lazily on first use otherwise, and libxml2's
/// lazy initialisation is not safe when two threads get there at once: about one fresh server
/// in 170 refused its first well-formed AuthnRequest as "not well-formed XML". Also writes the
/// schema files the validators compile from. Idempotent.
pub fn init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        // SAFETY: xmlInitParser takes no arguments and may be called more than once; here it
        // runs once, before the HTTP workers start.
        unsafe { libxml::bindings::xmlInitParser() };
        // samael initialises xmlsec (under its own lock) the first time it loads a key: load
        // a throwaway certificate. The document has no signature, so nothing is verified.
        use samael::crypto::{CertificateDer, CryptoProvider, XmlSec};
        match throwaway_cert_der() {
            Ok(der) => {
                let _ = XmlSec::verify_signed_xml("<init/>", &CertificateDer::from(der), None);
            }
            Err(e) => tracing::error!(error = %e, "cannot initialise xmlsec"),
        }
        schema::prepare();
    });
}

/// A self-signed P-256 certificate of no use but to load (see [`init`]).
fn throwaway_cert_der() -> Result<Vec<u8>, openssl::error::ErrorStack> {
    use openssl::{asn1, bn, ec, hash, nid, pkey, x509};
    let group = ec::EcGroup::from_curve_name(nid::Nid::X9_62_PRIME256V1)?;
    let key = pkey::PKey::from_ec_key(ec::EcKey::generate(&group)?)?;
    let mut name = x509::X509NameBuilder::new()?;
    name.append_entry_by_nid(nid::Nid::COMMONNAME, "plinto xmlsec init")?;
    let name = name.build();
    let mut b = x509::X509Builder::new()?;
    b.set_version(2)?;
    let serial = bn::BigNum::from_u32(1)?.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    let (from, until) = (
        asn1::Asn1Time::days_from_now(0)?,
        asn1::Asn1Time::days_from_now(1)?,
    );
    b.set_not_before(&from)?;
    b.set_not_after(&until)?;
    b.sign(&key, hash::MessageDigest::sha256())?;
    b.build().to_der()
}

/// How long an AuthnRequest may wait for the user to sign in.
pub const REQUEST_TTL_SECS: i64 = 30 * 60;
/// Allowed clock difference with an SP, in either direction (IssueInstant).
pub const CLOCK_SKEW_SECS: i64 = 180;
/// How old an AuthnRequest may be when it arrives (beyond the skew).
pub const MAX_REQUEST_AGE_SECS: i64 = 300;
/// How long an assertion may be used (SubjectConfirmationData and Conditions NotOnOrAfter).
pub const ASSERTION_TTL_SECS: i64 = 300;

/// The NameID formats the IdP issues (SAML core §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameIdFormat {
    EmailAddress,
    Persistent,
    Transient,
    Unspecified,
}

impl NameIdFormat {
    pub const ALL: [NameIdFormat; 4] = [
        NameIdFormat::EmailAddress,
        NameIdFormat::Persistent,
        NameIdFormat::Transient,
        NameIdFormat::Unspecified,
    ];

    pub fn urn(self) -> &'static str {
        match self {
            Self::EmailAddress => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            Self::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            Self::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
            Self::Unspecified => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        }
    }

    /// A full URN, or the short name (`emailAddress`, `persistent`, `transient`,
    /// `unspecified`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.urn() == s || f.urn().rsplit(':').next() == Some(s))
    }
}

/// The SAML routes, registered inside the tenant scope (`/t/{tenant}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::SAML_METADATA, web::get().to(metadata::get))
        .route(routes::SAML_SSO, web::get().to(sso::redirect))
        .route(routes::SAML_SSO, web::post().to(sso::post))
        .route(routes::SAML_SSO_CONTINUE, web::get().to(sso::resume))
        .route(routes::SAML_SSO_INIT, web::get().to(sso::init))
        .route(routes::SAML_SLO, web::get().to(slo::redirect))
        .route(routes::SAML_SLO, web::post().to(slo::post));
}

/// `{issuer}/saml/metadata`: the IdP's entityID.
pub fn entity_id(issuer: &str) -> String {
    format!("{issuer}{}", routes::SAML_METADATA)
}

/// A fresh message ID: xs:ID must not start with a digit.
pub fn new_id() -> Result<String, crate::error::DomainError> {
    Ok(format!(
        "_{}",
        hex::encode(crate::crypto::random_bytes(20)?)
    ))
}

/// xs:dateTime in UTC with milliseconds, as SAML wants it.
pub fn instant(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
