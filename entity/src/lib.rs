//! SeaORM entities of Plinto. Entities only: no behaviour lives here.

pub mod admin_idempotency_key;
pub mod audit_event;
pub mod authorization_code;
pub mod client;
pub mod consent;
pub mod email_token;
pub mod grant;
pub mod mail_outbox;
pub mod mfa_recovery_code;
pub mod mfa_totp;
pub mod refresh_token;
pub mod revoked_token;
pub mod saml_cert;
pub mod saml_participant;
pub mod saml_request;
pub mod saml_sp;
pub mod scim_group;
pub mod scim_group_member;
pub mod scim_token;
pub mod session;
pub mod signing_key;
pub mod tenant;
pub mod user;
pub mod webauthn_ceremony;
pub mod webauthn_credential;
