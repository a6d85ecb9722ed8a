//! Plinto: a standards-first identity provider. The binary (`main.rs`) is a thin CLI over this
//! library; the integration tests start the same server in-process.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod bootstrap;
pub mod cache;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod error;
pub mod grants;
pub mod http;
pub mod keys;
pub mod mail;
pub mod memo;
pub mod mfa;
pub mod oidc;
pub mod ops;
pub mod ratelimit;
pub mod saml;
pub mod scim;
pub mod server;
pub mod state;
pub mod tenants;
pub mod ui;
