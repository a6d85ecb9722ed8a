//! The admin API's `Idempotency-Key`s: a retried POST answers what the first one answered.
//! One row per caller and key (`key_hash` = SHA-256 of both), with a hash of the request it
//! was first used for and, once that request succeeded, its answer encrypted at rest (it may
//! hold a client secret shown once). Rows expire (`expires_at`).
//!
//! And the indexes of the admin API's pages: users of a tenant in id order, also by status
//! (without them a filter that matches few users scans every tenant's users: 140 ms over
//! 200,000 users on PostgreSQL, 0.03 ms with them), and a tenant's audit events by id.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

const INDEXES: &[(&str, &str, &[&str])] = &[
    ("ix_users_tenant_id", "users", &["tenant_id", "id"]),
    (
        "ix_users_tenant_disabled_id",
        "users",
        &["tenant_id", "disabled", "id"],
    ),
    (
        "ix_audit_events_tenant_id",
        "audit_events",
        &["tenant_id", "id"],
    ),
];

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
            .await?;
        for (name, table, cols) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(*table);
            for c in *cols {
                index.col(*c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(*name).table(*table).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table("admin_idempotency_keys").to_owned())
            .await
    }
}
