//! The one integration-test binary: every test starts a real Plinto on port 0 against a real
//! database (SQLite by default; PostgreSQL and Redis when `PLINTO_TEST_DATABASE_URL` and
//! `PLINTO_TEST_REDIS_URL` are set) and drives it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod scim_client;
mod smtp_sink;
mod support;

mod accounts;
mod admin;
mod browser;
mod cli;
mod clients;
mod input;
mod keys;
mod limits;
mod mail;
mod mfa;
mod oauth;
mod oidc;
mod ops;
mod outside;
mod outside_scim;
mod passkeys;
mod profiles;
mod rp;
mod saml;
mod saml_first;
mod saml_sp;
mod scim;
mod scim_query;
mod security;
mod sqlite_writes;
mod timeouts;
mod traffic;
