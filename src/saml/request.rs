//! AuthnRequest (SAML core §3.4.1): the typed request, read from a strictly parsed document.

use libxml::tree::Document;
use serde::{Deserialize, Serialize};

use super::message::{self, Header, Refused, child, children, text};
use super::{NS_ASSERTION, NS_PROTOCOL};

/// RequestedAuthnContext's Comparison (SAML core §3.3.2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Comparison {
    Exact,
    Minimum,
    Maximum,
    Better,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedContext {
    pub comparison: Comparison,
    pub class_refs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AuthnRequest {
    pub header: Header,
    pub acs_url: Option<String>,
    pub acs_index: Option<u32>,
    pub protocol_binding: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub name_id_format: Option<String>,
    pub allow_create: Option<bool>,
    pub requested_context: Option<RequestedContext>,
    /// The `<Subject>`'s NameID the response must be about (SAML core §3.4.1.4), if any.
    pub subject: Option<Subject>,
}

/// The NameID of a request's `<Subject>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name_id: String,
    pub format: Option<String>,
}

fn boolean(v: Option<String>) -> Result<Option<bool>, Refused> {
    match v.as_deref() {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(Refused("A boolean attribute has an invalid value.".into())),
    }
}

pub fn parse(doc: &Document) -> Result<AuthnRequest, Refused> {
    let (root, header) = message::header(doc, "AuthnRequest")?;
    let acs_index = match root.get_property("AssertionConsumerServiceIndex") {
        None => None,
        Some(i) => Some(
            i.parse::<u32>()
                .map_err(|_| Refused("AssertionConsumerServiceIndex is not a number.".into()))?,
        ),
    };
    let acs_url = root.get_property("AssertionConsumerServiceURL");
    if acs_url.is_some() && acs_index.is_some() {
        // SAML core §3.4.1: mutually exclusive.
        return Err(Refused(
            "AssertionConsumerServiceURL and AssertionConsumerServiceIndex are both given.".into(),
        ));
    }
    let policy = child(&root, NS_PROTOCOL, "NameIDPolicy");
    let requested_context = match child(&root, NS_PROTOCOL, "RequestedAuthnContext") {
        None => None,
        Some(rac) => {
            let comparison = match rac.get_property("Comparison").as_deref() {
                None | Some("exact") => Comparison::Exact,
                Some("minimum") => Comparison::Minimum,
                Some("maximum") => Comparison::Maximum,
                Some("better") => Comparison::Better,
                Some(_) => return Err(Refused("Unknown Comparison.".into())),
            };
            let class_refs: Vec<String> = children(&rac, NS_ASSERTION, "AuthnContextClassRef")
                .iter()
                .map(text)
                .collect();
            Some(RequestedContext {
                comparison,
                class_refs,
            })
        }
    };
    let subject = child(&root, NS_ASSERTION, "Subject")
        .and_then(|s| child(&s, NS_ASSERTION, "NameID"))
        .map(|n| Subject {
            name_id: text(&n),
            format: n.get_property("Format"),
        });
    Ok(AuthnRequest {
        header,
        subject,
        acs_url,
        acs_index,
        protocol_binding: root.get_property("ProtocolBinding"),
        force_authn: boolean(root.get_property("ForceAuthn"))?.unwrap_or(false),
        is_passive: boolean(root.get_property("IsPassive"))?.unwrap_or(false),
        name_id_format: policy.as_ref().and_then(|p| p.get_property("Format")),
        allow_create: policy
            .as_ref()
            .map(|p| boolean(p.get_property("AllowCreate")))
            .transpose()?
            .flatten(),
        requested_context,
    })
}

/// The strength order of the contexts Plinto can assert.
fn level(class_ref: &str) -> Option<u8> {
    match class_ref {
        super::AC_UNSPECIFIED => Some(0),
        super::AC_PASSWORD => Some(1),
        super::AC_PASSWORD_PROTECTED_TRANSPORT => Some(2),
        super::AC_REFEDS_MFA => Some(3),
        _ => None,
    }
}

/// The AuthnContextClassRef to assert for a session signed in with `achieved`, or `None` if
/// the request's RequestedAuthnContext cannot be met (status `NoAuthnContext`).
pub fn context_for(requested: Option<&RequestedContext>, achieved: &str) -> Option<String> {
    let Some(req) = requested else {
        return Some(achieved.to_string());
    };
    let ours = level(achieved)?;
    let ok = |r: &String| match (req.comparison, level(r)) {
        (Comparison::Exact, Some(l)) => l == ours,
        (Comparison::Minimum, Some(l)) => ours >= l,
        (Comparison::Better, Some(l)) => ours > l,
        (Comparison::Maximum, Some(l)) => ours <= l,
        // A context Plinto does not know is stronger than anything it can do.
        (Comparison::Maximum, None) => true,
        (_, None) => false,
    };
    if req.class_refs.is_empty() || req.class_refs.iter().any(ok) {
        // Exact asks for the named context: assert the one that matched.
        if req.comparison == Comparison::Exact {
            return req.class_refs.iter().find(|r| ok(r)).cloned();
        }
        return Some(achieved.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::{AC_PASSWORD, AC_PASSWORD_PROTECTED_TRANSPORT};

    fn req(c: Comparison, refs: &[&str]) -> RequestedContext {
        RequestedContext {
            comparison: c,
            class_refs: refs.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn requested_contexts() {
        let ppt = AC_PASSWORD_PROTECTED_TRANSPORT;
        let mfa = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";
        assert_eq!(context_for(None, ppt).as_deref(), Some(ppt));
        assert_eq!(
            context_for(Some(&req(Comparison::Exact, &[ppt])), ppt).as_deref(),
            Some(ppt)
        );
        assert_eq!(
            context_for(Some(&req(Comparison::Exact, &[mfa])), ppt),
            None
        );
        assert_eq!(
            context_for(Some(&req(Comparison::Exact, &[mfa, ppt])), ppt).as_deref(),
            Some(ppt)
        );
        assert_eq!(
            context_for(Some(&req(Comparison::Minimum, &[AC_PASSWORD])), ppt).as_deref(),
            Some(ppt)
        );
        assert_eq!(
            context_for(Some(&req(Comparison::Minimum, &[mfa])), ppt),
            None
        );
        assert_eq!(
            context_for(Some(&req(Comparison::Better, &[ppt])), ppt),
            None
        );
        assert_eq!(
            context_for(Some(&req(Comparison::Better, &[AC_PASSWORD])), ppt).as_deref(),
            Some(ppt)
        );
        assert_eq!(
            context_for(Some(&req(Comparison::Maximum, &[AC_PASSWORD])), ppt),
            None
        );
        assert_eq!(
            context_for(Some(&req(Comparison::Exact, &[AC_PASSWORD])), AC_PASSWORD).as_deref(),
            Some(AC_PASSWORD)
        );
    }
}
