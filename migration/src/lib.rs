//! Dated schema migrations. Every migration runs on SQLite and on PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_foundation;
mod m20261122_000002_signing_keys;
mod m20261122_000003_clients;
mod m20261122_000004_grants;
mod m20261122_000005_mail;
mod m20261122_000006_scim;
mod m20261122_000007_saml;
mod m20261122_000008_mfa;
mod m20261122_000009_passkeys;
mod m20261204_000010_profiles;
mod m20261204_000011_account_security;
mod m20261204_000012_oauth;
mod m20261204_000013_admin;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_foundation::Migration),
            Box::new(m20261122_000002_signing_keys::Migration),
            Box::new(m20261122_000003_clients::Migration),
            Box::new(m20261122_000004_grants::Migration),
            Box::new(m20261122_000005_mail::Migration),
            Box::new(m20261122_000006_scim::Migration),
            Box::new(m20261122_000007_saml::Migration),
            Box::new(m20261122_000008_mfa::Migration),
            Box::new(m20261122_000009_passkeys::Migration),
            Box::new(m20261204_000010_profiles::Migration),
            Box::new(m20261204_000011_account_security::Migration),
            Box::new(m20261204_000012_oauth::Migration),
            Box::new(m20261204_000013_admin::Migration),
        ]
    }
}
