//! Outgoing messages: Response with its Assertion, LogoutRequest, LogoutResponse; enveloped
//! signatures (RSA-SHA256, exclusive canonicalization, SHA-256 digests, by xmlsec), the
//! Redirect-binding query signature, and assertion encryption (XML Encryption: AES-256-GCM
//! content, RSA-OAEP key transport, by OpenSSL).

use askama::Template;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::rsa::Padding;
use openssl::sign::Signer as OsslSigner;
use openssl::symm::{Cipher, encrypt, encrypt_aead};
use openssl::x509::X509;
use samael::crypto::{CryptoProvider, XmlSec};

use super::certs::Signer;
use crate::error::{DomainError, DomainResult};

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
pub const STATUS_NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
pub const STATUS_INVALID_NAMEID_POLICY: &str =
    "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
pub const STATUS_REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
pub const STATUS_NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
pub const STATUS_UNSUPPORTED_BINDING: &str =
    "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding";

const SIG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

fn ssl(e: openssl::error::ErrorStack) -> DomainError {
    DomainError::internal(format!("openssl: {e}"))
}

/// The `ds:Signature` template that xmlsec fills in: placed right after the element's
/// `saml:Issuer`, as the SAML schema wants.
fn signature_template(ref_id: &str, cert_der: &[u8]) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
         <ds:SignatureMethod Algorithm=\"{SIG_RSA_SHA256}\"/>\
         <ds:Reference URI=\"#{ref_id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\
         {}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
        STANDARD.encode(cert_der)
    )
}

/// The template to put in a message, or nothing when it is not signed. Only `ref_id` is
/// formatted in: IDs are ours (hex).
pub fn template_if(sign: bool, ref_id: &str, signer: &Signer) -> String {
    if sign {
        signature_template(ref_id, &signer.cert_der)
    } else {
        String::new()
    }
}

/// Sign the (first) signature template in `xml` with xmlsec; returns the document without
/// its XML declaration, so that it can be embedded.
pub fn sign(xml: &str, signer: &Signer) -> DomainResult<String> {
    let signed = XmlSec::sign_xml(xml, &signer.key_der)
        .map_err(|e| DomainError::internal(format!("xmlsec: {e}")))?;
    Ok(strip_declaration(&signed).to_string())
}

fn strip_declaration(xml: &str) -> &str {
    let t = xml.trim_start();
    if t.starts_with("<?xml")
        && let Some(end) = t.find("?>")
    {
        return t[end + 2..].trim_start();
    }
    t
}

/// XML Encryption of a (signed) assertion to the SP's certificate: `saml:EncryptedAssertion`
/// with AES-256-GCM content encryption and the key wrapped with RSA-OAEP (MGF1, SHA-1: the
/// `rsa-oaep-mgf1p` algorithm that every SP stack implements).
pub fn encrypt_assertion(assertion: &str, sp_cert_pem: &str, method: &str) -> DomainResult<String> {
    let cert = X509::from_pem(sp_cert_pem.as_bytes()).map_err(ssl)?;
    let rsa = cert.public_key().and_then(|k| k.rsa()).map_err(ssl)?;
    let key = crate::crypto::random_bytes(32)?;
    // The cipher value is IV || ciphertext (|| tag for GCM), XML Encryption 1.1 §5.2.
    let cbc = method == super::sps::ENC_AES256_CBC;
    let method = if cbc {
        super::sps::ENC_AES256_CBC
    } else {
        super::sps::ENC_AES256_GCM
    };
    let data = if cbc {
        let mut data = crate::crypto::random_bytes(16)?;
        // PKCS#7 padding is one of the paddings XML Encryption's block padding allows.
        let ct = encrypt(
            Cipher::aes_256_cbc(),
            &key,
            Some(&data),
            assertion.as_bytes(),
        )
        .map_err(ssl)?;
        data.extend_from_slice(&ct);
        data
    } else {
        let mut data = crate::crypto::random_bytes(12)?;
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &key,
            Some(&data),
            &[],
            assertion.as_bytes(),
            &mut tag,
        )
        .map_err(ssl)?;
        data.extend_from_slice(&ct);
        data.extend_from_slice(&tag);
        data
    };
    let mut wrapped = vec![0u8; rsa.size() as usize];
    let n = rsa
        .public_encrypt(&key, &mut wrapped, Padding::PKCS1_OAEP)
        .map_err(ssl)?;
    wrapped.truncate(n);
    Ok(format!(
        "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">\
         <xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" \
         Type=\"http://www.w3.org/2001/04/xmlenc#Element\">\
         <xenc:EncryptionMethod Algorithm=\"{method}\"/>\
         <ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><xenc:EncryptedKey>\
         <xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\">\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/>\
         </xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue>\
         </xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData>\
         <xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>\
         </saml:EncryptedAssertion>",
        STANDARD.encode(&wrapped),
        STANDARD.encode(&data)
    ))
}

/// One attribute of the statement.
pub struct Attr {
    pub name: String,
    pub friendly: Option<&'static str>,
    pub values: Vec<String>,
}

#[derive(Template)]
#[template(path = "saml/assertion.xml", escape = "html")]
pub struct AssertionXml<'a> {
    pub id: &'a str,
    pub now: String,
    pub issuer: &'a str,
    pub signature: String,
    pub name_id: &'a str,
    pub name_id_format: &'a str,
    pub sp_name_qualifier: Option<&'a str>,
    pub in_response_to: Option<&'a str>,
    pub recipient: &'a str,
    pub not_before: String,
    pub not_on_or_after: String,
    pub audience: &'a str,
    pub authn_instant: String,
    pub session_index: &'a str,
    pub session_not_on_or_after: String,
    pub class_ref: &'a str,
    pub attributes: Vec<Attr>,
}

/// `samlp:Response` or `samlp:LogoutResponse`.
#[derive(Template)]
#[template(path = "saml/response.xml", escape = "html")]
pub struct ResponseXml<'a> {
    pub kind: &'static str,
    pub id: &'a str,
    pub now: String,
    pub destination: &'a str,
    pub in_response_to: Option<&'a str>,
    pub issuer: &'a str,
    pub signature: String,
    pub status: &'a str,
    pub sub_status: Option<&'a str>,
    pub message: Option<&'a str>,
    pub assertion: String,
}

#[derive(Template)]
#[template(path = "saml/logout_request.xml", escape = "html")]
pub struct LogoutRequestXml<'a> {
    pub id: &'a str,
    pub now: String,
    pub destination: &'a str,
    pub not_on_or_after: String,
    pub issuer: &'a str,
    pub signature: String,
    pub name_id: &'a str,
    pub name_id_format: &'a str,
    pub session_index: &'a str,
}

pub fn render(t: &impl Template) -> DomainResult<String> {
    t.render().map_err(DomainError::internal)
}

/// A Redirect-binding URL (bindings §3.4.4.1): DEFLATE + base64 + URL-encoding, signed over
/// `SAMLRequest|SAMLResponse=…[&RelayState=…]&SigAlg=…` with RSA-SHA256.
pub fn redirect_url(
    location: &str,
    key: &str,
    xml: &str,
    relay_state: Option<&str>,
    signer: &Signer,
) -> DomainResult<String> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(xml.as_bytes())
        .map_err(DomainError::internal)?;
    let deflated = enc.finish().map_err(DomainError::internal)?;
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair(key, &STANDARD.encode(deflated));
    if let Some(rs) = relay_state {
        q.append_pair("RelayState", rs);
    }
    q.append_pair("SigAlg", SIG_RSA_SHA256);
    let signed = q.finish();
    let mut s = OsslSigner::new(MessageDigest::sha256(), &signer.key).map_err(ssl)?;
    s.update(signed.as_bytes()).map_err(ssl)?;
    let sig = s.sign_to_vec().map_err(ssl)?;
    let sig_q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Signature", &STANDARD.encode(sig))
        .finish();
    let sep = if location.contains('?') { '&' } else { '?' };
    Ok(format!("{location}{sep}{signed}&{sig_q}"))
}

pub fn b64(xml: &str) -> String {
    STANDARD.encode(xml.as_bytes())
}

/// The times of an assertion issued at `now`.
pub fn window(now: DateTime<Utc>) -> (String, String) {
    (
        super::instant(now - chrono::Duration::seconds(super::CLOCK_SKEW_SECS.min(60))),
        super::instant(now + chrono::Duration::seconds(super::ASSERTION_TTL_SECS)),
    )
}
