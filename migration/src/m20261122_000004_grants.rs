//! Authorization codes, grants (one per code redemption or refresh family), refresh tokens,
//! remembered consents and revoked access-token ids.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn tenant_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_tenant"))
        .from(table, "tenant_id")
        .to("tenants", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

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
        manager
            .create_table(
                Table::create()
                    .table("grants")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("client_id", 64))
                    .col(uuid_null("user_id"))
                    .col(uuid_null("session_id"))
                    .col(text("scope"))
                    .col(text_null("claims"))
                    .col(timestamp_with_time_zone_null("auth_time"))
                    .col(boolean("offline").default(false))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(&mut tenant_fk("grants"))
                    .foreign_key(&mut user_fk("grants"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_grants_session")
                    .table("grants")
                    .col("session_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("authorization_codes")
                    .col(pk_uuid("id"))
                    .col(string_len_uniq("code_hash", 64))
                    .col(uuid("tenant_id"))
                    .col(string_len("client_id", 64))
                    .col(uuid("user_id"))
                    .col(uuid("session_id"))
                    .col(uuid("grant_id"))
                    .col(text("redirect_uri"))
                    .col(text("scope"))
                    .col(text_null("nonce"))
                    .col(string_len_null("code_challenge", 128))
                    .col(text_null("claims"))
                    .col(timestamp_with_time_zone("auth_time"))
                    .col(boolean("offline").default(false))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("redeemed_at"))
                    .foreign_key(&mut tenant_fk("authorization_codes"))
                    .foreign_key(&mut user_fk("authorization_codes"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(pk_uuid("id"))
                    .col(string_len_uniq("token_hash", 64))
                    .col(uuid("grant_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_grant")
                            .from("refresh_tokens", "grant_id")
                            .to("grants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("consents")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid("user_id"))
                    .col(string_len("client_id", 64))
                    .col(text("scopes"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(&mut tenant_fk("consents"))
                    .foreign_key(&mut user_fk("consents"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_consents_user_client")
                    .table("consents")
                    .col("user_id")
                    .col("client_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("revoked_tokens")
                    .col(string_len("jti", 128).primary_key())
                    .col(uuid("tenant_id"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut tenant_fk("revoked_tokens"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "revoked_tokens",
            "consents",
            "refresh_tokens",
            "authorization_codes",
            "grants",
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
