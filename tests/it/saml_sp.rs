//! A test-side SAML 2.0 service provider: the other end of Plinto's SAML IdP in the integration
//! tests. It builds (and signs) AuthnRequests and LogoutRequests for the HTTP-Redirect and
//! HTTP-POST bindings, publishes SP metadata, reads the auto-submitting forms Plinto answers
//! with, and checks what comes back with independent tools: the `xmlsec1` CLI for XML
//! signatures and decryption, openssl for Redirect-binding signatures, and samael's
//! `ServiceProvider` for the full response validation.
//!
//! Everything here panics on a broken environment (no `xmlsec1`, unwritable temp dir) and
//! returns `Err(String)` where a test may want to assert a failure.

use std::io::{Read as _, Write as _};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use openssl::x509::{X509, X509NameBuilder};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider as _};
use samael::metadata::EntityDescriptor;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};

pub const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// RFC 3986 unreserved characters stay, everything else is percent-encoded.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The SP's own identity: its key signs requests, its certificate is what Plinto encrypts to.
pub struct TestSp {
    pub entity_id: String,
    pub acs_url: String,
    pub slo_url: String,
    pub key: PKey<Private>,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    /// `NameIDFormat`s listed in the metadata, in order (default: emailAddress only).
    pub name_id_formats: Vec<String>,
}

/// Where the AuthnRequest asks the assertion to be sent.
#[derive(Clone, Debug, Default)]
pub enum Acs {
    /// `AssertionConsumerServiceURL` = the SP's `acs_url`, `ProtocolBinding` = HTTP-POST.
    #[default]
    SpDefault,
    /// `AssertionConsumerServiceURL` = this URL, `ProtocolBinding` = HTTP-POST.
    Url(String),
    /// `AssertionConsumerServiceIndex` = this index.
    Index(u16),
    /// Neither: the IdP must use the default ACS from the metadata.
    Omitted,
}

/// Options of [`TestSp::authn_request`]; `AuthnOpts::default()` is a plain request.
#[derive(Clone, Debug, Default)]
pub struct AuthnOpts {
    /// The `Destination` attribute (omitted when `None`).
    pub destination: Option<String>,
    pub acs: Acs,
    /// `IssueInstant` (default: now); set in the past for the expired-request test.
    pub issue_instant: Option<DateTime<Utc>>,
    pub force_authn: bool,
    pub is_passive: bool,
    /// `NameIDPolicy` (Format, AllowCreate).
    pub name_id_policy: Option<(String, bool)>,
    /// `RequestedAuthnContext` (Comparison, AuthnContextClassRefs).
    pub requested_authn_context: Option<(String, Vec<String>)>,
    /// The `saml:Issuer` value (default: the SP's entity id); `Some("")` omits the element.
    pub issuer: Option<String>,
    /// The request `ID` (default: a fresh `_<uuid>`).
    pub id: Option<String>,
}

impl TestSp {
    /// A new SP with a fresh RSA-2048 key and a self-signed certificate (valid from yesterday
    /// for 30 days).
    pub fn new(entity_id: &str, acs_url: &str, slo_url: &str) -> Self {
        let (key, cert) = self_signed().expect("key and self-signed certificate");
        TestSp {
            entity_id: entity_id.to_string(),
            acs_url: acs_url.to_string(),
            slo_url: slo_url.to_string(),
            cert_pem: String::from_utf8(cert.to_pem().expect("pem")).expect("utf8"),
            cert_der: cert.to_der().expect("der"),
            key,
            name_id_formats: vec![NAMEID_EMAIL.to_string()],
        }
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key as PKCS#8 PEM (for [`xmlsec_decrypt_response`]).
    pub fn key_pem(&self) -> String {
        String::from_utf8(self.key.private_key_to_pem_pkcs8().expect("pem")).expect("utf8")
    }

    /// SP metadata: an `md:EntityDescriptor` with one `SPSSODescriptor` carrying the two
    /// flags, the certificate as `use="signing"` and `use="encryption"`, SingleLogoutService
    /// for Redirect and POST at `slo_url`, the `name_id_formats` and one HTTP-POST ACS at
    /// `acs_url` (index 0, isDefault). Parses with samael's `EntityDescriptor`.
    pub fn metadata_xml(
        &self,
        authn_requests_signed: bool,
        want_assertions_signed: bool,
    ) -> String {
        let cert = B64.encode(&self.cert_der);
        let key_info = format!(
            "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
        );
        let slo = esc(&self.slo_url);
        let formats: String = self
            .name_id_formats
            .iter()
            .map(|f| format!("<md:NameIDFormat>{}</md:NameIDFormat>", esc(f)))
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="{NS_MD}" xmlns:ds="{NS_DS}" entityID="{eid}"><md:SPSSODescriptor AuthnRequestsSigned="{authn_requests_signed}" WantAssertionsSigned="{want_assertions_signed}" protocolSupportEnumeration="{NS_SAMLP}"><md:KeyDescriptor use="signing">{key_info}</md:KeyDescriptor><md:KeyDescriptor use="encryption">{key_info}<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><md:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"/></md:KeyDescriptor><md:SingleLogoutService Binding="{HTTP_REDIRECT}" Location="{slo}"/><md:SingleLogoutService Binding="{HTTP_POST}" Location="{slo}"/>{formats}<md:AssertionConsumerService Binding="{HTTP_POST}" Location="{acs}" index="0" isDefault="true"/></md:SPSSODescriptor></md:EntityDescriptor>
"#,
            eid = esc(&self.entity_id),
            acs = esc(&self.acs_url),
        )
    }

    /// An unsigned `samlp:AuthnRequest`; returns (ID, XML). Sign it with `redirect_query` or
    /// `post_field`.
    pub fn authn_request(&self, opts: &AuthnOpts) -> (String, String) {
        let id = opts.id.clone().unwrap_or_else(new_id);
        let instant = instant(opts.issue_instant.unwrap_or_else(Utc::now));
        let mut attrs = String::new();
        if let Some(d) = &opts.destination {
            attrs += &format!(r#" Destination="{}""#, esc(d));
        }
        if opts.force_authn {
            attrs += r#" ForceAuthn="true""#;
        }
        if opts.is_passive {
            attrs += r#" IsPassive="true""#;
        }
        let acs_url = match &opts.acs {
            Acs::SpDefault => Some(self.acs_url.as_str()),
            Acs::Url(url) => Some(url.as_str()),
            Acs::Index(i) => {
                attrs += &format!(r#" AssertionConsumerServiceIndex="{i}""#);
                None
            }
            Acs::Omitted => None,
        };
        if let Some(url) = acs_url {
            let url = esc(url);
            attrs +=
                &format!(r#" ProtocolBinding="{HTTP_POST}" AssertionConsumerServiceURL="{url}""#);
        }
        let mut body = issuer_el(opts.issuer.as_deref().unwrap_or(&self.entity_id));
        if let Some((format, allow_create)) = &opts.name_id_policy {
            body += &format!(
                r#"<samlp:NameIDPolicy Format="{}" AllowCreate="{allow_create}"/>"#,
                esc(format)
            );
        }
        if let Some((comparison, refs)) = &opts.requested_authn_context {
            body += &format!(
                r#"<samlp:RequestedAuthnContext Comparison="{}">"#,
                esc(comparison)
            );
            for r in refs {
                body += &format!(
                    "<saml:AuthnContextClassRef>{}</saml:AuthnContextClassRef>",
                    esc(r)
                );
            }
            body += "</samlp:RequestedAuthnContext>";
        }
        let xml = format!(
            r#"<samlp:AuthnRequest xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{id}" Version="2.0" IssueInstant="{instant}"{attrs}>{body}</samlp:AuthnRequest>"#
        );
        (id, xml)
    }

    /// An unsigned `samlp:LogoutRequest` (Destination, Issuer, NameID with Format, optional
    /// SessionIndex); returns (ID, XML).
    pub fn logout_request(
        &self,
        destination: &str,
        name_id: &str,
        name_id_format: &str,
        session_index: Option<&str>,
    ) -> (String, String) {
        let id = new_id();
        let session = session_index
            .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", esc(s)))
            .unwrap_or_default();
        let xml = format!(
            r#"<samlp:LogoutRequest xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{dest}">{issuer}<saml:NameID Format="{fmt}">{nid}</saml:NameID>{session}</samlp:LogoutRequest>"#,
            now = instant(Utc::now()),
            dest = esc(destination),
            issuer = issuer_el(&self.entity_id),
            fmt = esc(name_id_format),
            nid = esc(name_id),
        );
        (id, xml)
    }

    /// An unsigned `samlp:LogoutResponse` answering an IdP-initiated LogoutRequest; returns
    /// (ID, XML). `status` is a full status URI, e.g. [`STATUS_SUCCESS`].
    pub fn logout_response(
        &self,
        destination: &str,
        in_response_to: &str,
        status: &str,
    ) -> (String, String) {
        let id = new_id();
        let xml = format!(
            r#"<samlp:LogoutResponse xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{dest}" InResponseTo="{irt}">{issuer}<samlp:Status><samlp:StatusCode Value="{st}"/></samlp:Status></samlp:LogoutResponse>"#,
            now = instant(Utc::now()),
            dest = esc(destination),
            irt = esc(in_response_to),
            issuer = issuer_el(&self.entity_id),
            st = esc(status),
        );
        (id, xml)
    }

    /// HTTP-Redirect binding query string (no leading `?`):
    /// `SAMLRequest=…[&RelayState=…][&SigAlg=…&Signature=…]` (`SAMLResponse` when the root
    /// element is a `…Response`). The message is raw DEFLATE + base64; every value is
    /// percent-encoded; with `sign` the signature is RSA-SHA256 by the SP key over the query
    /// as it stands before `&Signature=` (SAML bindings §3.4.4.1).
    pub fn redirect_query(&self, xml: &str, relay_state: Option<&str>, sign: bool) -> String {
        let param = if root_local_name(xml).ends_with("Response") {
            "SAMLResponse"
        } else {
            "SAMLRequest"
        };
        let mut q = format!("{param}={}", pct(&deflate_b64(xml.as_bytes())));
        if let Some(rs) = relay_state {
            q += &format!("&RelayState={}", pct(rs));
        }
        if sign {
            q += &format!("&SigAlg={}", pct(RSA_SHA256));
            let mut signer = Signer::new(MessageDigest::sha256(), &self.key).expect("signer");
            let sig = signer.sign_oneshot_to_vec(q.as_bytes()).expect("sign");
            q += &format!("&Signature={}", pct(&b64(&sig)));
        }
        q
    }

    /// HTTP-POST binding form value: base64 of the XML, enveloped-signed first by the SP key
    /// (see [`sign_enveloped`]) when `sign`.
    pub fn post_field(&self, xml: &str, sign: bool) -> String {
        if sign {
            b64(sign_enveloped(xml, &self.key, Some(&self.cert_der)).as_bytes())
        } else {
            b64(xml.as_bytes())
        }
    }

    /// A samael `ServiceProvider` for this SP and the given IdP metadata: RSA-SHA256 only,
    /// 10 minutes of issue delay and clock skew. Call `parse_xml_response(xml,
    /// Some(&[request_id]))`. samael checks every signature in the document, Destination,
    /// InResponseTo, Issuer, Status, audience and the bearer SubjectConfirmation (Recipient =
    /// `acs_url`). It only decrypts AES-128 itself: use [`xmlsec_decrypt_response`] first.
    pub fn samael_sp(&self, idp_metadata_xml: &str, allow_idp_initiated: bool) -> ServiceProvider {
        let idp_metadata: EntityDescriptor = idp_metadata_xml.parse().expect("IdP metadata parses");
        ServiceProviderBuilder::default()
            .entity_id(self.entity_id.clone())
            .key(self.key.clone())
            .certificate(CertificateDer::from(self.cert_der.clone()))
            .acs_url(self.acs_url.clone())
            .slo_url(self.slo_url.clone())
            .idp_metadata(idp_metadata)
            .allow_idp_initiated(allow_idp_initiated)
            .max_issue_delay(Duration::minutes(10))
            .max_clock_skew(Duration::minutes(10))
            .allowed_signature_algorithms(vec![AllowedSignatureAlgorithm::RsaSha256])
            .build()
            .expect("samael ServiceProvider")
    }
}

/// Enveloped XML signature on the root element of `xml` through samael (libxmlsec1): a
/// `ds:Signature` template (exc-c14n, RSA-SHA256, SHA-256 digest, Reference `#<root ID>`,
/// KeyInfo/X509Certificate when `cert_der` is given) is inserted right after the root's
/// `Issuer` child (or first thing in the root when there is none) and filled by
/// `XmlSec::sign_xml`. The result starts with an `<?xml …?>` declaration; the first
/// `ds:Signature` in document order must be the new one (sign inner elements first).
pub fn sign_enveloped(xml: &str, key: &PKey<Private>, cert_der: Option<&[u8]>) -> String {
    sign_enveloped_with(
        xml,
        key,
        cert_der,
        RSA_SHA256,
        "http://www.w3.org/2001/04/xmlenc#sha256",
    )
}

/// [`sign_enveloped`] with another SignatureMethod and DigestMethod (legacy SPs: RSA-SHA1).
pub fn sign_enveloped_with(
    xml: &str,
    key: &PKey<Private>,
    cert_der: Option<&[u8]>,
    sig_alg: &str,
    digest_alg: &str,
) -> String {
    let (root_start, root_end) = root_start_tag(xml);
    let id = attr(&xml[root_start..root_end], "ID").expect("root element has an ID");
    let key_info = cert_der
        .map(|c| {
            format!("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>", b64(c))
        })
        .unwrap_or_default();
    let template = format!(
        r##"<ds:Signature xmlns:ds="{NS_DS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig_alg}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest_alg}"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/>{key_info}</ds:Signature>"##
    );
    // Right after <…Issuer>…</…Issuer> when that is the root's first child element.
    let first_child = root_end + xml[root_end..].find('<').unwrap_or(0);
    let at = match element_span(xml, "Issuer", root_end) {
        Some((start, .., end)) if start == first_child => end,
        _ => root_end,
    };
    let template_doc = format!("{}{template}{}", &xml[..at], &xml[at..]);
    let der = key.private_key_to_der().expect("key der");
    Crypto::sign_xml(template_doc, &der).expect("xmlsec signs")
}

/// The fields of an auto-submit form page: (action, [(name, value)]) with HTML entities
/// decoded. Panics when the page has no `<form>`.
pub fn auto_post_form(html: &str) -> (String, Vec<(String, String)>) {
    let lower = html.to_ascii_lowercase();
    let form = lower
        .find("<form")
        .unwrap_or_else(|| panic!("no <form> in page:\n{html}"));
    let action = attr(&html[form..tag_end(html, form)], "action").unwrap_or_default();
    let mut fields = Vec::new();
    let form_end = lower[form..]
        .find("</form")
        .map_or(html.len(), |i| form + i);
    let mut pos = form;
    while let Some(i) = lower[pos..form_end].find("<input") {
        let start = pos + i;
        let end = tag_end(html, start);
        let tag = &html[start..end];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
        pos = end;
    }
    (action, fields)
}

/// Value of the field `name` in [`auto_post_form`]'s fields (first one).
pub fn form_field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Decode HTML character references: the named five (`&amp;` `&lt;` `&gt;` `&quot;`
/// `&apos;`) and numeric ones (`&#39;`, `&#x27;` …).
pub fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out += &rest[..i];
        rest = &rest[i..];
        let end = rest.find(';').filter(|&j| j <= 10).unwrap_or(0);
        let ent = rest.get(1..end).unwrap_or_default();
        let c = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => (ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")))
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| ent.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        out.push(c.unwrap_or('&'));
        rest = &rest[if c.is_some() { end + 1 } else { 1 }..];
    }
    out + rest
}

/// The signing certificates (PEM) of the IdP metadata's `IDPSSODescriptor`s: those of
/// `KeyDescriptor use="signing"`, or those without `use` when there are none (samael's rule).
pub fn idp_signing_certs(metadata_xml: &str) -> Vec<String> {
    let idp_metadata: EntityDescriptor = metadata_xml.parse().expect("IdP metadata parses");
    let sp = ServiceProvider {
        idp_metadata,
        ..ServiceProvider::default()
    };
    sp.idp_signing_certs()
        .expect("certificates decode")
        .unwrap_or_default()
        .iter()
        .map(|der| {
            let cert = X509::from_der(der.der_data()).expect("X.509 certificate");
            String::from_utf8(cert.to_pem().expect("pem")).expect("utf8")
        })
        .collect()
}

/// Verify with the `xmlsec1` CLI the enveloped signature of the element `node`
/// ("Response", "Assertion", "AuthnRequest", "LogoutRequest", "LogoutResponse",
/// "EntityDescriptor", in its SAML namespace) against each certificate in turn. Only the
/// `ds:Signature` that is a direct child of that element and references its `ID` is checked
/// (`--node-xpath`), so the Response and Assertion signatures of one document are checked
/// separately; "Assertion" means the first such signed assertion. The certificate in the
/// message's own KeyInfo is ignored (`--enabled-key-data key-name`). Err carries the stderr.
pub fn xmlsec_verify(xml: &str, node: &str, certs_pem: &[impl AsRef<str>]) -> Result<(), String> {
    let ns = node_ns(node);
    let axis = if node == "Assertion" { "//" } else { "/" };
    let xpath = format!(
        "{axis}*[local-name()='{node}' and namespace-uri()='{ns}']/*[local-name()='Signature' and namespace-uri()='{NS_DS}'][*[local-name()='SignedInfo']/*[local-name()='Reference']/@URI = concat('#', ../@ID)]"
    );
    let doc = temp_file(xml.as_bytes());
    let mut errors = String::from("no certificate to verify with");
    for cert in certs_pem {
        let cert_file = temp_file(cert.as_ref().as_bytes());
        let mut args = vec![
            "--verify".into(),
            "--pubkey-cert-pem".into(),
            path(&cert_file),
        ];
        args.extend(["--enabled-key-data".into(), "key-name".into()]);
        for n in ID_NODES {
            args.extend(["--id-attr:ID".into(), format!("{}:{n}", node_ns(n))]);
        }
        args.extend(["--node-xpath".into(), xpath.clone(), path(&doc)]);
        match xmlsec1(&args) {
            Ok(()) => return Ok(()),
            Err(e) => errors = e,
        }
    }
    Err(errors)
}

/// Decrypt the `EncryptedAssertion` of a Response with `xmlsec1 --decrypt --privkey-pem` and
/// return the Response with the plain `saml:Assertion` in place of the
/// `saml:EncryptedAssertion`. A Response-level `ds:Signature` covered the encrypted form, so
/// it is removed: check it with [`xmlsec_verify`] on the original first. The Assertion's own
/// signature stays and still verifies.
pub fn xmlsec_decrypt_response(xml: &str, sp_key_pem: &str) -> Result<String, String> {
    let doc = temp_file(xml.as_bytes());
    let key = temp_file(sp_key_pem.as_bytes());
    let out_file = temp_file(b"");
    let xpath = format!(
        "//*[local-name()='EncryptedAssertion' and namespace-uri()='{NS_SAML}']/*[local-name()='EncryptedData' and namespace-uri()='{NS_XENC}']"
    );
    xmlsec1(&[
        "--decrypt".into(),
        "--privkey-pem".into(),
        path(&key),
        "--node-xpath".into(),
        xpath,
        "--output".into(),
        path(&out_file),
        path(&doc),
    ])?;
    let decrypted = std::fs::read_to_string(out_file.path()).expect("read xmlsec1 output");
    let (start, inner_start, inner_end, end) = element_span(&decrypted, "EncryptedAssertion", 0)
        .ok_or("no EncryptedAssertion after decryption")?;
    let inner = decrypted[inner_start..inner_end].trim();
    let result = format!("{}{inner}{}", &decrypted[..start], &decrypted[end..]);
    Ok(remove_root_signature(&result))
}

/// Decode a Redirect-binding message (a query string or a whole URL) without checking any
/// signature: (XML, RelayState).
pub fn decode_redirect(query: &str) -> Result<(String, Option<String>), String> {
    let params = query_params(query);
    let msg = form_field(&params, "SAMLRequest")
        .or_else(|| form_field(&params, "SAMLResponse"))
        .ok_or("no SAMLRequest / SAMLResponse parameter")?;
    let raw = B64
        .decode(pct_decode(msg))
        .map_err(|e| format!("base64: {e}"))?;
    let mut xml = String::new();
    DeflateDecoder::new(&raw[..])
        .read_to_string(&mut xml)
        .map_err(|e| format!("inflate: {e}"))?;
    Ok((xml, form_field(&params, "RelayState").map(pct_decode)))
}

/// Verify a Redirect-binding signature (SAML bindings §3.4.4.1: RSA-SHA256 over the raw
/// `SAMLRequest|SAMLResponse=…[&RelayState=…]&SigAlg=…` as received) against any of the
/// certificates, then decode the message to XML. `query` may be a whole URL, `&amp;`-escaped
/// or not (as found in an HTML attribute).
pub fn verify_redirect(query: &str, certs_pem: &[impl AsRef<str>]) -> Result<String, String> {
    let params = query_params(query);
    let raw = |name: &str| form_field(&params, name);
    let (msg_name, msg) = ["SAMLRequest", "SAMLResponse"]
        .into_iter()
        .find_map(|n| raw(n).map(|v| (n, v)))
        .ok_or("no SAMLRequest / SAMLResponse parameter")?;
    let sig_alg = raw("SigAlg").ok_or("no SigAlg")?;
    if pct_decode(sig_alg) != RSA_SHA256 {
        return Err(format!("unexpected SigAlg {}", pct_decode(sig_alg)));
    }
    let signature = B64
        .decode(pct_decode(raw("Signature").ok_or("no Signature")?))
        .map_err(|e| format!("Signature base64: {e}"))?;
    let mut signed = format!("{msg_name}={msg}");
    if let Some(rs) = raw("RelayState") {
        signed += &format!("&RelayState={rs}");
    }
    signed += &format!("&SigAlg={sig_alg}");
    let valid = certs_pem.iter().any(|pem| {
        let key = X509::from_pem(pem.as_ref().as_bytes())
            .and_then(|c| c.public_key())
            .expect("certificate");
        let mut verifier = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
        verifier
            .verify_oneshot(&signature, signed.as_bytes())
            .unwrap_or(false)
    });
    if !valid {
        return Err("Redirect-binding signature does not verify with any certificate".to_string());
    }
    decode_redirect(query).map(|(xml, _)| xml)
}

/// Raw DEFLATE (no zlib header) then standard base64: the Redirect-binding encoding.
pub fn deflate_b64(bytes: &[u8]) -> String {
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("deflate");
    b64(&enc.finish().expect("deflate"))
}

/// Standard base64 (with padding).
pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Percent-encode a query value (everything but RFC 3986 unreserved characters).
pub fn pct(s: &str) -> String {
    utf8_percent_encode(s, QUERY).to_string()
}

fn pct_decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// (name, raw value) pairs of a query string or of the query of a URL.
fn query_params(query: &str) -> Vec<(String, String)> {
    // Taken from an HTML attribute (e.g. an iframe src) and not unescaped yet?
    let query = if query.contains("&amp;") {
        html_unescape(query)
    } else {
        query.to_string()
    };
    let q = query.split_once('?').map_or(query.as_str(), |(_, q)| q);
    let q = q.split('#').next().unwrap_or_default();
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(n), v.to_string())
        })
        .collect()
}

fn node_ns(node: &str) -> &'static str {
    match node {
        "Assertion" => NS_SAML,
        "EntityDescriptor" => NS_MD,
        "Response" | "AuthnRequest" | "LogoutRequest" | "LogoutResponse" => NS_SAMLP,
        other => panic!("xmlsec_verify: unknown node {other}"),
    }
}

/// The elements whose `ID` attribute xmlsec1 is told about (`--id-attr:ID`).
const ID_NODES: [&str; 6] = [
    "Response",
    "Assertion",
    "AuthnRequest",
    "LogoutRequest",
    "LogoutResponse",
    "EntityDescriptor",
];

/// Run the `xmlsec1` CLI; Err carries its stderr.
fn xmlsec1(args: &[String]) -> Result<(), String> {
    let out = Command::new("xmlsec1")
        .args(args)
        .output()
        .expect("run xmlsec1 (apt-get install xmlsec1)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn path(f: &tempfile::NamedTempFile) -> String {
    f.path().to_string_lossy().into_owned()
}

fn temp_file(contents: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().expect("temp file");
    f.write_all(contents).expect("write temp file");
    f.flush().expect("flush temp file");
    f
}

fn self_signed() -> Result<(PKey<Private>, X509), openssl::error::ErrorStack> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "plinto-test-sp")?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(63, MsbOption::MAYBE_ZERO, false)?;
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    let not_before = Asn1Time::from_unix((Utc::now() - Duration::days(1)).timestamp())?;
    let not_after = Asn1Time::days_from_now(30)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&key)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    builder.sign(&key, MessageDigest::sha256())?;
    Ok((key, builder.build()))
}

fn new_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn issuer_el(issuer: &str) -> String {
    if issuer.is_empty() {
        String::new()
    } else {
        format!("<saml:Issuer>{}</saml:Issuer>", esc(issuer))
    }
}

/// XML-escape text or an attribute value.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Index just past the `>` of the tag starting at `start`, skipping quoted attribute values.
fn tag_end(s: &str, start: usize) -> usize {
    let mut quote = None;
    for (i, c) in s[start..].char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return start + i + 1,
            _ => {}
        }
    }
    s.len()
}

/// The qualified name of a start tag `<prefix:Name …>`.
fn tag_name(tag: &str) -> &str {
    let t = tag.strip_prefix('<').unwrap_or(tag);
    let end = t
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c.is_whitespace() || c == '>' || c == '/')
        .map_or(t.len(), |(i, _)| i);
    &t[..end]
}

/// The root element's start tag: (start, end) byte offsets.
fn root_start_tag(xml: &str) -> (usize, usize) {
    let mut pos = 0;
    loop {
        let i = pos + xml[pos..].find('<').expect("a root element");
        if xml[i..].starts_with("<?") || xml[i..].starts_with("<!") {
            pos = i + 1 + xml[i + 1..].find('>').expect("end of prolog item");
        } else {
            return (i, tag_end(xml, i));
        }
    }
}

fn root_local_name(xml: &str) -> &str {
    let (s, e) = root_start_tag(xml);
    let name = tag_name(&xml[s..e]);
    name.rsplit(':').next().unwrap_or(name)
}

/// Unescaped value of attribute `name` in a start tag (case-insensitive name, any prefix-less
/// exact local match).
fn attr(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag.trim_start_matches('<');
    rest = &rest[rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len())..];
    loop {
        rest = rest.trim_start();
        let eq = rest.find(['=', '>', ' '])?;
        if !rest[eq..].starts_with('=') {
            rest = &rest[eq + 1..];
            continue;
        }
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let (value, next) = match after.chars().next()? {
            q @ ('"' | '\'') => {
                let end = after[1..].find(q)? + 1;
                (&after[1..end], &after[end + 1..])
            }
            _ => {
                let end = after
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(html_unescape(value));
        }
        rest = next;
    }
}

/// The first element with local name `local` (any prefix) starting at or after `from`:
/// (start, content start, content end, end). Not for elements nested in their own kind.
fn element_span(xml: &str, local: &str, from: usize) -> Option<(usize, usize, usize, usize)> {
    let mut pos = from;
    while let Some(i) = xml[pos..].find('<') {
        let start = pos + i;
        let name = tag_name(&xml[start..]);
        if !name.starts_with(['/', '?', '!']) && name.rsplit(':').next() == Some(local) {
            let open_end = tag_end(xml, start);
            if xml[..open_end].ends_with("/>") {
                return Some((start, open_end, open_end, open_end));
            }
            let close = format!("</{name}>");
            let close_start = open_end + xml[open_end..].find(&close)?;
            return Some((start, open_end, close_start, close_start + close.len()));
        }
        pos = start + 1;
    }
    None
}

/// Remove the Response-level `ds:Signature` (the first one, when it comes before the Assertion).
fn remove_root_signature(xml: &str) -> String {
    let assertion = element_span(xml, "Assertion", 0).map_or(xml.len(), |span| span.0);
    match element_span(xml, "Signature", 0) {
        Some((start, .., end)) if start < assertion => format!("{}{}", &xml[..start], &xml[end..]),
        _ => xml.to_string(),
    }
}
