//! Per-tenant JWT signing keys.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("signing_keys")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len_uniq("kid", 64))
                    .col(string_len("alg", 16))
                    .col(text("private_jwe"))
                    .col(text("public_jwk"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("retired_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_signing_keys_tenant")
                            .from("signing_keys", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_signing_keys_tenant")
                    .table("signing_keys")
                    .col("tenant_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("signing_keys").to_owned())
            .await
    }
}
