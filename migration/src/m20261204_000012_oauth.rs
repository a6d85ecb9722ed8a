//! Client authentication defaults of popular libraries, and legacy SAML signatures:
//! - `clients.auth_method_pinned`: a client registered with an explicit `--auth-method` uses
//!   only that method; one registered without accepts both secret methods (basic and post).
//!   Clients that exist already stay pinned to the method they have.
//! - `clients.max_assertion_lifetime_secs`: how far ahead a `private_key_jwt` assertion of
//!   this client may expire (`NULL`: the default, one hour).
//! - `saml_sps.allow_sha1`: this SP's signed requests may use RSA-SHA1 (legacy SPs).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE; NOT NULL ones need a default there.
        for (table, mut col) in [
            (
                "clients",
                boolean("auth_method_pinned").default(true).to_owned(),
            ),
            ("clients", integer_null("max_assertion_lifetime_secs")),
            ("saml_sps", boolean("allow_sha1").default(false).to_owned()),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, col) in [
            ("clients", "auth_method_pinned"),
            ("clients", "max_assertion_lifetime_secs"),
            ("saml_sps", "allow_sha1"),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
