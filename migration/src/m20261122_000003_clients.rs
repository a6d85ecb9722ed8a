//! OAuth 2.0 / OpenID Connect clients.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("clients")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len_uniq("client_id", 64))
                    .col(string_len("name", 200))
                    .col(string_len_null("secret_hash", 64))
                    .col(string_len("auth_method", 32))
                    .col(text("redirect_uris"))
                    .col(text("post_logout_redirect_uris"))
                    .col(text("grant_types"))
                    .col(text("scopes"))
                    .col(text("cors_origins"))
                    .col(text_null("jwks"))
                    .col(text_null("jwks_uri"))
                    .col(string_len("id_token_signed_response_alg", 16))
                    .col(boolean("skip_consent").default(false))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_clients_tenant")
                            .from("clients", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_clients_tenant")
                    .table("clients")
                    .col("tenant_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("clients").to_owned())
            .await
    }
}
