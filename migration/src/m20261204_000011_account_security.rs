//! Account security: when a session last proved who its user is (re-authentication, "sudo
//! mode"), and the browser a passkey ceremony belongs to.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE; both are nullable (older rows: unknown).
        for (table, mut col) in [
            ("sessions", timestamp_with_time_zone_null("auth_at")),
            ("webauthn_ceremonies", string_len_null("browser_hash", 64)),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, col) in [
            ("sessions", "auth_at"),
            ("webauthn_ceremonies", "browser_hash"),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
