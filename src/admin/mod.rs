//! Administration: who may administer what ([`access`]), the representations an operator sees
//! ([`views`], shared by the CLI and the REST API), and the REST API itself ([`api`]) under
//! `{public_url}/api/v1`, described by a generated OpenAPI 3.1 document.

pub mod access;
pub mod api;
pub mod idempotency;
pub mod views;
