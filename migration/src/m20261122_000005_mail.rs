//! Email: the durable outbox, single-use email tokens (verification, password reset), and the
//! tenant settings that go with them (verification required, rate limits).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table("tenants")
                    .add_column(boolean("require_email_verification").default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("tenants")
                    .add_column(text_null("rate_limits"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mail_outbox")
                    .col(pk_uuid("id"))
                    .col(uuid_null("tenant_id"))
                    .col(string_len("kind", 32))
                    .col(text("recipient"))
                    .col(text("sender"))
                    // The formatted message, encrypted (it carries single-use links); emptied
                    // once sent.
                    .col(text("message"))
                    .col(string_len("status", 16))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mail_outbox_tenant")
                            .from("mail_outbox", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mail_outbox_due")
                    .table("mail_outbox")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("email_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid("user_id"))
                    .col(string_len("purpose", 32))
                    .col(string_len_uniq("token_hash", 64))
                    .col(text("email"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_tokens_tenant")
                            .from("email_tokens", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_tokens_user")
                            .from("email_tokens", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_email_tokens_user")
                    .table("email_tokens")
                    .col("user_id")
                    .col("purpose")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("email_tokens").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("mail_outbox").to_owned())
            .await?;
        for col in ["rate_limits", "require_email_verification"] {
            manager
                .alter_table(Table::alter().table("tenants").drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
