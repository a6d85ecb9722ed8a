//! The admin API's `Idempotency-Key`s: a retried POST answers what the first one answered.
//! One row per caller and key (`key_hash` = SHA-256 of both), with a hash of the request it
//! was first used for and, once that request succeeded, its answer encrypted at rest (it may
//! hold a client secret shown once). Rows expire (`expires_at`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("admin_idempotency_keys")
                    .col(string_len("key_hash", 64).primary_key())
                    .col(string_len("request_hash", 64))
                    .col(string_len("actor", 128))
                    // 0 while the first request runs.
                    .col(integer("status"))
                    .col(text_null("response"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_admin_idempotency_keys_expires")
                    .table("admin_idempotency_keys")
                    .col("expires_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("admin_idempotency_keys").to_owned())
            .await
    }
}
