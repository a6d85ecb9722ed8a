//! Multi-factor sign-in: TOTP secrets, recovery codes, the tenant's MFA policy, and how a
//! session (and the codes and grants made from it) was authenticated (RFC 8176 `amr`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn user_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_user"))
        .from(table, "user_id")
        .to("users", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE; NOT NULL ones need a default there.
        for (table, mut col) in [
            ("sessions", string_len("amr", 64).default("pwd").to_owned()),
            ("sessions", timestamp_with_time_zone_null("mfa_at")),
            (
                "authorization_codes",
                string_len("amr", 64).default("pwd").to_owned(),
            ),
            ("grants", string_len("amr", 64).default("pwd").to_owned()),
            (
                "tenants",
                string_len("mfa_policy", 16).default("optional").to_owned(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("mfa_totp")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid_uniq("user_id"))
                    .col(text("secret_jwe"))
                    .col(timestamp_with_time_zone_null("confirmed_at"))
                    .col(big_integer_null("last_step"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut user_fk("mfa_totp"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mfa_recovery_codes")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid("user_id"))
                    .col(string_len("code_hash", 64))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut user_fk("mfa_recovery_codes"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_mfa_recovery_codes_user_hash")
                    .table("mfa_recovery_codes")
                    .col("user_id")
                    .col("code_hash")
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in ["mfa_recovery_codes", "mfa_totp"] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
