//! Incoming SAML protocol messages: decoding the bindings (HTTP-Redirect: DEFLATE + base64;
//! HTTP-POST: base64), refusing what is unsafe to parse (oversize input, DTDs and so external
//! entities), a strict namespace-aware parse with libxml2, and the checks of the signature
//! (SAML bindings §3.4.4.1 for Redirect, an enveloped XML signature over the root for POST).
//!
//! Signatures are verified by xmlsec (through samael) and OpenSSL; nothing here
//! canonicalizes or hashes by hand.

use std::io::Read;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use libxml::parser::{Parser, ParserOptions};
use libxml::tree::{Document, Node};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use samael::crypto::{CertificateDer, CryptoProvider, XmlSec};

use super::{NS_ASSERTION, NS_DSIG, NS_PROTOCOL};

/// The largest encoded message accepted (the base64 text).
pub const MAX_ENCODED: usize = 64 * 1024;
/// The largest XML accepted after decoding (and inflating).
pub const MAX_XML: usize = 128 * 1024;

/// Why a message was refused. The text is safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

fn refuse<T>(why: impl Into<String>) -> Result<T, Refused> {
    Err(Refused(why.into()))
}

/// The binding a message came over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Redirect,
    Post,
}

impl Binding {
    pub fn urn(self) -> &'static str {
        match self {
            Binding::Redirect => super::BINDING_REDIRECT,
            Binding::Post => super::BINDING_POST,
        }
    }
}

/// Base64 (whitespace ignored, as line-wrapped senders produce), then inflate for Redirect.
pub fn decode(encoded: &str, binding: Binding) -> Result<String, Refused> {
    if encoded.len() > MAX_ENCODED {
        return refuse("The SAML message is too large.");
    }
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(raw) = STANDARD.decode(compact.as_bytes()) else {
        return refuse("The SAML message is not valid base64.");
    };
    let bytes = match binding {
        Binding::Post => raw,
        Binding::Redirect => {
            let mut out = Vec::new();
            let inflated = flate2::read::DeflateDecoder::new(raw.as_slice())
                .take(MAX_XML as u64 + 1)
                .read_to_end(&mut out);
            if inflated.is_err() {
                return refuse("The SAML message is not valid DEFLATE data.");
            }
            out
        }
    };
    if bytes.len() > MAX_XML {
        return refuse("The SAML message is too large.");
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return refuse("The SAML message is not UTF-8 text.");
    };
    Ok(text)
}

/// Parse strictly: well-formed, no DTD (so no entities, internal or external), no network.
pub fn parse(xml: &str) -> Result<Document, Refused> {
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return refuse("The SAML message contains a DTD, which is not allowed.");
    }
    let options = ParserOptions {
        recover: false,
        no_net: true,
        no_error: true,
        no_warning: true,
        encoding: Some("UTF-8"),
        ignore_enc: true,
        ..ParserOptions::default()
    };
    match Parser::default().parse_string_with_options(xml, options) {
        Ok(doc) if doc.get_root_element().is_some() => Ok(doc),
        _ => refuse("The SAML message is not well-formed XML."),
    }
}

pub fn is(node: &Node, ns: &str, name: &str) -> bool {
    node.get_name() == name && node.get_namespace().is_some_and(|n| n.get_href() == ns)
}

/// The element children of `node` named `name` in `ns`.
pub fn children(node: &Node, ns: &str, name: &str) -> Vec<Node> {
    node.get_child_elements()
        .into_iter()
        .filter(|c| is(c, ns, name))
        .collect()
}

pub fn child(node: &Node, ns: &str, name: &str) -> Option<Node> {
    children(node, ns, name).into_iter().next()
}

pub fn text(node: &Node) -> String {
    node.get_content().trim().to_string()
}

fn count_signatures(node: &Node) -> usize {
    let own = usize::from(is(node, NS_DSIG, "Signature"));
    own + node
        .get_child_elements()
        .iter()
        .map(count_signatures)
        .sum::<usize>()
}

/// What every request of the protocol carries (SAML core §3.2.1).
#[derive(Debug, Clone)]
pub struct Header {
    pub id: String,
    pub issue_instant: DateTime<Utc>,
    pub destination: Option<String>,
    pub issuer: Option<String>,
    /// An enveloped `ds:Signature` is present.
    pub signed: bool,
    /// Signed by its binding (the query signature for Redirect, the enveloped one for POST).
    pub signed_binding: bool,
    /// The enveloped signature's SignatureMethod (SHA-2, or RSA-SHA1 for the SP to allow).
    pub sig_alg: Option<String>,
}

/// Read and check the common header of a request whose root must be `samlp:{root}`.
pub fn header(doc: &Document, root_name: &str) -> Result<(Node, Header), Refused> {
    let Some(root) = doc.get_root_element() else {
        return refuse("The SAML message is empty.");
    };
    if !is(&root, NS_PROTOCOL, root_name) {
        return refuse(format!("Expected a SAML 2.0 {root_name}."));
    }
    super::schema::validate(doc)?;
    if root.get_property("Version").as_deref() != Some("2.0") {
        return refuse("Only SAML version 2.0 is supported.");
    }
    let Some(id) = root.get_property("ID").filter(|id| is_ncname(id)) else {
        return refuse("The request has no valid ID.");
    };
    let Some(issue_instant) = root
        .get_property("IssueInstant")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
    else {
        return refuse("The request has no valid IssueInstant.");
    };
    let issuers = children(&root, NS_ASSERTION, "Issuer");
    if issuers.len() > 1 {
        return refuse("The request has more than one Issuer.");
    }
    let issuer = issuers.first().map(text).filter(|s| !s.is_empty());
    let sigs = children(&root, NS_DSIG, "Signature");
    if sigs.len() > 1 || count_signatures(&root) != sigs.len() {
        // One signature, on the root, or none: anything else is a wrapping attempt.
        return refuse("The request's signature is not where SAML puts it.");
    }
    let mut sig_alg = None;
    if let Some(sig) = sigs.first() {
        let uri = child(sig, NS_DSIG, "SignedInfo")
            .map(|si| children(&si, NS_DSIG, "Reference"))
            .filter(|r| r.len() == 1)
            .and_then(|r| r[0].get_property("URI"));
        if uri.as_deref() != Some(format!("#{id}").as_str()) {
            return refuse("The request's signature does not cover the request.");
        }
        let method = child(sig, NS_DSIG, "SignedInfo")
            .and_then(|si| child(&si, NS_DSIG, "SignatureMethod"))
            .and_then(|m| m.get_property("Algorithm"));
        // RSA-SHA1 is refused later, with its own message, unless the SP is allowed it.
        if !method
            .as_deref()
            .is_some_and(|m| allowed_sig_alg(m) || m == RSA_SHA1)
        {
            return refuse("The request is signed with an algorithm that is not accepted.");
        }
        sig_alg = method;
    }
    Ok((
        root,
        Header {
            id,
            issue_instant,
            destination: root_destination(doc),
            issuer,
            signed: !sigs.is_empty(),
            signed_binding: false,
            sig_alg,
        },
    ))
}

fn root_destination(doc: &Document) -> Option<String> {
    doc.get_root_element()
        .and_then(|r| r.get_property("Destination"))
}

/// xs:ID is an NCName; keep it short and plain.
fn is_ncname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 256
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// RSA with SHA-1: refused (saml2int), unless an SP is registered with `--allow-sha1`.
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

/// What an SP that is not allowed SHA-1 is told about `what` (e.g. "The logout request").
pub fn sha1_refused(what: &str) -> String {
    format!(
        "{what} is signed with RSA-SHA1, which this IdP does not accept; sign with RSA-SHA256 \
         or allow SHA-1 for this SP (plinto saml-sp update --allow-sha1 true)."
    )
}

/// RSA with SHA-2 (saml2int: no SHA-1).
pub fn allowed_sig_alg(uri: &str) -> bool {
    digest_of(uri).is_some()
}

/// What checking a request's signature (by its binding) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigCheck {
    /// The request carries no signature.
    Absent,
    /// One of the certificates verifies it; `sha1`: with RSA-SHA1, allowed for this SP.
    Verified { sha1: bool },
    /// Signed with RSA-SHA1, and this SP is not allowed it.
    Sha1Refused,
    /// Signed, but no certificate verifies it.
    Bad,
}

impl SigCheck {
    pub fn present(self) -> bool {
        self != SigCheck::Absent
    }

    pub fn verified(self) -> bool {
        matches!(self, SigCheck::Verified { .. })
    }
}

/// Check the signature of a request by its binding (bindings §3.4.4.1 for Redirect, the
/// enveloped signature for POST) against the SP's certificates.
pub fn check_signature(
    binding: Binding,
    p: &RedirectParams,
    xml: &str,
    header: &Header,
    certs_pem: &[String],
    allow_sha1: bool,
) -> SigCheck {
    let (present, alg) = match binding {
        Binding::Redirect => (p.signature.is_some(), p.sig_alg.as_deref()),
        Binding::Post => (header.signed, header.sig_alg.as_deref()),
    };
    if !present {
        return SigCheck::Absent;
    }
    let sha1 = alg == Some(RSA_SHA1);
    if sha1 && !allow_sha1 {
        return SigCheck::Sha1Refused;
    }
    let ok = match binding {
        Binding::Redirect => verify_redirect(p, certs_pem, allow_sha1),
        Binding::Post => verify_enveloped(xml, certs_pem),
    };
    if ok {
        SigCheck::Verified { sha1 }
    } else {
        SigCheck::Bad
    }
}

fn digest_of(uri: &str) -> Option<MessageDigest> {
    match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Some(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Some(MessageDigest::sha384()),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Some(MessageDigest::sha512()),
        _ => None,
    }
}

/// Verify the enveloped signature of a POSTed message against any of the SP's certificates.
/// [`header`] has already checked that the one signature covers the root.
fn verify_enveloped(xml: &str, certs_pem: &[String]) -> bool {
    certs_pem.iter().any(|pem| {
        let Ok(der) = X509::from_pem(pem.as_bytes()).and_then(|c| c.to_der()) else {
            return false;
        };
        XmlSec::verify_signed_xml(xml, &CertificateDer::from(der), Some("ID")).is_ok()
    })
}

/// The parameters of a Redirect-binding message, with the octets that were signed.
#[derive(Debug, Clone, Default)]
pub struct RedirectParams {
    /// `SAMLRequest` or `SAMLResponse`, decoded.
    pub message: Option<String>,
    pub relay_state: Option<String>,
    pub sig_alg: Option<String>,
    pub signature: Option<String>,
    /// `SAMLRequest=…[&RelayState=…]&SigAlg=…` exactly as received (bindings §3.4.4.1).
    pub signed_octets: String,
}

/// Split a raw query string, keeping the encoded values for the signature check.
pub fn redirect_params(query: &str, message_key: &str) -> Result<RedirectParams, Refused> {
    let mut out = RedirectParams::default();
    let (mut msg_raw, mut relay_raw, mut alg_raw) = (None, None, None);
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let decoded = || {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| Refused("The query string is not valid UTF-8.".into()))
        };
        let slot = match k {
            k if k == message_key => {
                msg_raw = Some(part);
                &mut out.message
            }
            "RelayState" => {
                relay_raw = Some(part);
                &mut out.relay_state
            }
            "SigAlg" => {
                alg_raw = Some(part);
                &mut out.sig_alg
            }
            "Signature" => &mut out.signature,
            _ => continue,
        };
        if slot.is_some() {
            return refuse(format!("The parameter {k} is repeated."));
        }
        *slot = Some(decoded()?);
    }
    out.signed_octets = [msg_raw, relay_raw, alg_raw]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("&");
    Ok(out)
}

/// Check a Redirect-binding signature against any of the certificates (RSA-SHA1 only when
/// `allow_sha1`).
fn verify_redirect(p: &RedirectParams, certs_pem: &[String], allow_sha1: bool) -> bool {
    let (Some(alg), Some(sig)) = (p.sig_alg.as_deref(), p.signature.as_deref()) else {
        return false;
    };
    let md = match digest_of(alg) {
        Some(md) => md,
        None if allow_sha1 && alg == RSA_SHA1 => MessageDigest::sha1(),
        None => return false,
    };
    let compact: String = sig.chars().filter(|c| !c.is_whitespace()).collect();
    let Ok(sig) = STANDARD.decode(compact) else {
        return false;
    };
    certs_pem.iter().any(|pem| {
        let Ok(key) = X509::from_pem(pem.as_bytes()).and_then(|c| c.public_key()) else {
            return false;
        };
        let Ok(mut v) = Verifier::new(md, &key) else {
            return false;
        };
        v.update(p.signed_octets.as_bytes()).is_ok() && v.verify(&sig).unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate(xml: &str) -> String {
        use std::io::Write;
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(xml.as_bytes()).unwrap();
        STANDARD.encode(e.finish().unwrap())
    }

    #[test]
    fn decodes_both_bindings_and_refuses_garbage() {
        let xml = "<a/>";
        assert_eq!(decode(&deflate(xml), Binding::Redirect).unwrap(), xml);
        assert_eq!(decode(&STANDARD.encode(xml), Binding::Post).unwrap(), xml);
        assert!(decode("%%%", Binding::Post).is_err());
        assert!(decode(&STANDARD.encode("not deflate"), Binding::Redirect).is_err());
        assert!(decode(&"A".repeat(MAX_ENCODED + 4), Binding::Post).is_err());
        // A DEFLATE bomb stops at the limit.
        let bomb = deflate(&"a".repeat(MAX_XML * 4));
        assert!(decode(&bomb, Binding::Redirect).is_err());
    }

    #[test]
    fn refuses_dtds_and_malformed_xml() {
        assert!(
            parse("<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>").is_err()
        );
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<a/>").is_ok());
    }

    #[test]
    fn keeps_the_signed_octets_as_received() {
        let p = redirect_params(
            "Signature=c2ln&SAMLRequest=abc%2Fd&foo=1&RelayState=r%20s&SigAlg=x%3Ay",
            "SAMLRequest",
        )
        .unwrap();
        assert_eq!(
            p.signed_octets,
            "SAMLRequest=abc%2Fd&RelayState=r%20s&SigAlg=x%3Ay"
        );
        assert_eq!(p.relay_state.as_deref(), Some("r s"));
        assert_eq!(p.message.as_deref(), Some("abc/d"));
        assert!(redirect_params("SAMLRequest=a&SAMLRequest=b", "SAMLRequest").is_err());
    }
}
