//! Validation of incoming protocol messages against the SAML 2.0 protocol schema (with the
//! assertion, XML Signature and XML Encryption schemas it imports), by libxml2.
//!
//! The schemas are compiled into the binary (`xsd/`), written once to a private directory
//! (libxml2 resolves `xs:import` by file name) and compiled once per thread: libxml2's
//! validation contexts are not shared between threads.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::OnceLock;

use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use libxml::tree::Document;

use super::message::Refused;

const FILES: [(&str, &str); 4] = [
    (
        "saml-schema-protocol-2.0.xsd",
        include_str!("xsd/saml-schema-protocol-2.0.xsd"),
    ),
    (
        "saml-schema-assertion-2.0.xsd",
        include_str!("xsd/saml-schema-assertion-2.0.xsd"),
    ),
    (
        "xmldsig-core-schema.xsd",
        include_str!("xsd/xmldsig-core-schema.xsd"),
    ),
    ("xenc-schema.xsd", include_str!("xsd/xenc-schema.xsd")),
];

/// The directory holding the schema files, written on first use.
fn dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "plinto-saml-xsd-{}-{}",
            std::process::id(),
            env!("CARGO_PKG_VERSION")
        ));
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            for (name, text) in FILES {
                std::fs::write(dir.join(name), text)?;
            }
            Ok(())
        };
        match write() {
            Ok(()) => Some(dir),
            Err(e) => {
                tracing::error!(error = %e, "cannot write the SAML schemas");
                None
            }
        }
    })
    .as_ref()
}

/// Write the schema files now (they are otherwise written on the first validation).
pub fn prepare() {
    let _ = dir();
}

thread_local! {
    static VALIDATOR: RefCell<Option<SchemaValidationContext>> = const { RefCell::new(None) };
}

fn compile() -> Option<SchemaValidationContext> {
    let path = dir()?.join(FILES[0].0);
    let mut parser = SchemaParserContext::from_file(path.to_str()?);
    match SchemaValidationContext::from_parser(&mut parser) {
        Ok(v) => Some(v),
        Err(errors) => {
            tracing::error!(?errors, "the SAML protocol schema does not compile");
            None
        }
    }
}

/// Check a parsed message against the SAML 2.0 protocol schema.
pub fn validate(doc: &Document) -> Result<(), Refused> {
    VALIDATOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = compile();
        }
        let Some(v) = slot.as_mut() else {
            // Fail closed: a message that cannot be checked is not accepted.
            return Err(Refused(
                "The SAML message cannot be checked right now.".into(),
            ));
        };
        let result = v.validate_document(doc);
        // Errors pile up in the context otherwise.
        let _ = v.drain_errors();
        result.map_err(|errors| {
            tracing::debug!(
                first = ?errors.first().and_then(|e| e.message.clone()),
                "SAML message fails the schema"
            );
            Refused("The SAML message does not follow the SAML 2.0 schema.".into())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(xml: &str) -> Document {
        super::super::message::parse(xml).unwrap()
    }

    #[test]
    fn accepts_a_valid_request_and_refuses_invalid_ones() {
        let ok = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"><saml:Issuer>sp</saml:Issuer><samlp:NameIDPolicy AllowCreate="true"/></samlp:AuthnRequest>"#;
        validate(&doc(ok)).unwrap();
        // Elements out of the schema's order.
        let order = ok.replace(
            "<saml:Issuer>sp</saml:Issuer><samlp:NameIDPolicy AllowCreate=\"true\"/>",
            "<samlp:NameIDPolicy AllowCreate=\"true\"/><saml:Issuer>sp</saml:Issuer>",
        );
        assert!(validate(&doc(&order)).is_err());
        // A bad boolean, a bad time, an unknown element.
        assert!(
            validate(&doc(
                &ok.replace("AllowCreate=\"true\"", "AllowCreate=\"yes\"")
            ))
            .is_err()
        );
        assert!(validate(&doc(&ok.replace("2026-01-01T00:00:00Z", "yesterday"))).is_err());
        assert!(validate(&doc(&ok.replace("<samlp:NameIDPolicy", "<samlp:Bogus"))).is_err());
    }
}
