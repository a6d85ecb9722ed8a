//! Tenants, users, sessions and the append-only audit trail.

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("tenants")
                    .col(pk_uuid("id"))
                    .col(string_len_uniq("slug", 63))
                    .col(string_len("name", 200))
                    .col(boolean("allow_signup").default(false))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len_uniq("sub", 64))
                    .col(string_len("email", 320))
                    .col(string_len("email_normalized", 320))
                    .col(boolean("email_verified").default(false))
                    .col(string_len_null("name", 400))
                    .col(text_null("password_hash"))
                    .col(boolean("must_change_password").default(false))
                    .col(boolean("is_admin").default(false))
                    .col(boolean("disabled").default(false))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_tenant")
                            .from("users", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_tenant_email")
                    .table("users")
                    .col("tenant_id")
                    .col("email_normalized")
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("sessions")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid("user_id"))
                    .col(string_len_uniq("token_hash", 64))
                    .col(string_len_null("ip", 64))
                    .col(string_len_null("user_agent", 512))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from("sessions", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sessions_user")
                    .table("sessions")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(big_pk_auto("id"))
                    .col(uuid_null("tenant_id"))
                    .col(string_len("actor", 128))
                    .col(string_len("action", 64))
                    .col(string_len_null("target", 400))
                    .col(string_len("outcome", 16))
                    .col(string_len_null("ip", 64))
                    .col(string_len_null("user_agent", 512))
                    .col(string_len_null("request_id", 64))
                    .col(text_null("details"))
                    .col(timestamp_with_time_zone("occurred_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_tenant_time")
                    .table("audit_events")
                    .col("tenant_id")
                    .col("occurred_at")
                    .to_owned(),
            )
            .await?;

        // The audit trail is append-only: the database itself refuses UPDATE and DELETE.
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                for op in ["UPDATE", "DELETE"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER audit_events_no_{lower} BEFORE {op} ON audit_events \
                         BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
                        lower = op.to_lowercase()
                    ))
                    .await?;
                }
            }
            DbBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_events_append_only() RETURNS trigger \
                     LANGUAGE plpgsql AS $$ BEGIN \
                     RAISE EXCEPTION 'audit_events is append-only'; END $$",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE \
                     ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
                )
                .await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
            )
            .await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS audit_events_append_only()")
                .await?;
        }
        for table in ["audit_events", "sessions", "users", "tenants"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
