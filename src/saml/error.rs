//! The SAML surface's errors (SAML core §3.2.2.2). Before an SP and its ACS URL are verified,
//! nothing may be sent to the SP: the user gets an HTML page. After that, the SP gets a signed
//! Response with the status.

use crate::error::DomainError;
use crate::ui::UiError;

use super::message::Refused;
use super::response::{STATUS_REQUESTER, STATUS_RESPONDER};

#[derive(Debug)]
pub enum SamlError {
    /// An HTML error page for the user (unknown SP, unregistered ACS, bad signature,
    /// malformed message).
    Page(UiError),
    /// A status for a verified SP: top-level code, second-level code, message.
    Status {
        top: &'static str,
        sub: Option<&'static str>,
        message: String,
    },
}

impl SamlError {
    pub fn page(message: impl Into<String>) -> Self {
        SamlError::Page(UiError::BadRequest(message.into()))
    }

    /// The request was wrong (`Requester`), with a second-level code.
    pub fn requester(sub: &'static str, message: impl Into<String>) -> Self {
        SamlError::Status {
            top: STATUS_REQUESTER,
            sub: Some(sub),
            message: message.into(),
        }
    }

    /// The IdP cannot do what was asked (`Responder`), with a second-level code.
    pub fn responder(sub: &'static str, message: impl Into<String>) -> Self {
        SamlError::Status {
            top: STATUS_RESPONDER,
            sub: Some(sub),
            message: message.into(),
        }
    }
}

impl From<UiError> for SamlError {
    fn from(e: UiError) -> Self {
        SamlError::Page(e)
    }
}

impl From<DomainError> for SamlError {
    fn from(e: DomainError) -> Self {
        SamlError::Page(e.into())
    }
}

impl From<Refused> for SamlError {
    fn from(e: Refused) -> Self {
        SamlError::page(e.0)
    }
}
