//! SCIM 2.0: bearer tokens for provisioning clients, the SCIM side of users (userName,
//! externalId, the rest of the SCIM representation, a version for ETags), groups and their
//! members.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("scim_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("name", 200))
                    .col(string_len_uniq("token_hash", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_tokens_tenant")
                            .from("scim_tokens", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per ALTER TABLE; the NOT NULL ones need a default there.
        for col in [
            string_len("user_name", 512).default("").to_owned(),
            string_len("user_name_normalized", 512)
                .default("")
                .to_owned(),
            string_len_null("external_id", 512),
            json_binary("scim").default("{}").to_owned(),
            json_binary("scim_search").default("{}").to_owned(),
            big_integer("version").default(1).to_owned(),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table("users")
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        // Existing accounts: the userName is the address, and the SCIM representation carries
        // the address and the name.
        let db = manager.get_connection();
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => {
                "UPDATE users SET user_name = email, user_name_normalized = email_normalized, \
                 scim = jsonb_strip_nulls(jsonb_build_object('displayName', name, 'emails', \
                 jsonb_build_array(jsonb_build_object('value', email, 'primary', true))))"
            }
            _ => {
                "UPDATE users SET user_name = email, user_name_normalized = email_normalized, \
                 scim = CASE WHEN name IS NULL \
                 THEN json_object('emails', json_array(json_object('value', email, 'primary', \
                 json('true')))) \
                 ELSE json_object('displayName', name, 'emails', json_array(json_object( \
                 'value', email, 'primary', json('true')))) END"
            }
        };
        db.execute_unprepared(backfill).await?;
        // The lower-cased copy that case-insensitive `eq` filters look up by containment,
        // with a GIN index on PostgreSQL.
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared("UPDATE users SET scim_search = lower(scim::text)::jsonb")
                    .await?;
                db.execute_unprepared(
                    "CREATE INDEX ix_users_scim_search ON users USING GIN (scim_search jsonb_path_ops)",
                )
                .await?;
            }
            _ => {
                db.execute_unprepared("UPDATE users SET scim_search = lower(scim)")
                    .await?;
            }
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_users_tenant_user_name")
                    .table("users")
                    .col("tenant_id")
                    .col("user_name_normalized")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_users_tenant_external_id")
                    .table("users")
                    .col("tenant_id")
                    .col("external_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("scim_groups")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("display_name", 512))
                    .col(string_len("display_name_normalized", 512))
                    .col(string_len_null("external_id", 512))
                    .col(big_integer("version").default(1))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_groups_tenant")
                            .from("scim_groups", "tenant_id")
                            .to("tenants", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_scim_groups_tenant_name")
                    .table("scim_groups")
                    .col("tenant_id")
                    .col("display_name_normalized")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_groups_tenant_external_id")
                    .table("scim_groups")
                    .col("tenant_id")
                    .col("external_id")
                    .to_owned(),
            )
            .await?;
        // A member is a user or a group of the same tenant (no foreign key on member_id:
        // it points at one of two tables; deleting either removes its memberships).
        manager
            .create_table(
                Table::create()
                    .table("scim_group_members")
                    .col(uuid("group_id"))
                    .col(uuid("member_id"))
                    .col(string_len("member_type", 8))
                    .primary_key(Index::create().col("group_id").col("member_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scim_group_members_group")
                            .from("scim_group_members", "group_id")
                            .to("scim_groups", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_scim_group_members_member")
                    .table("scim_group_members")
                    .col("member_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["scim_group_members", "scim_groups", "scim_tokens"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP INDEX IF EXISTS ix_users_scim_search")
                .await?;
        }
        for index in ["ux_users_tenant_user_name", "ix_users_tenant_external_id"] {
            manager
                .drop_index(Index::drop().name(index).table("users").to_owned())
                .await?;
        }
        for col in [
            "version",
            "scim_search",
            "scim",
            "external_id",
            "user_name_normalized",
            "user_name",
        ] {
            manager
                .alter_table(Table::alter().table("users").drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
