//! SAML 2.0 identity provider: each tenant's signing certificates, its registered service
//! providers, the AuthnRequests seen (single use, and waiting while the user signs in), and
//! which service providers share a browser session (for Single Logout).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

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

fn sp_fk(table: &'static str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_sp"))
        .from(table, "sp_id")
        .to("saml_sps", "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("saml_certs")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(text("cert_pem"))
                    .col(text("private_key_jwe"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("not_after"))
                    .col(timestamp_with_time_zone_null("retired_at"))
                    .foreign_key(&mut tenant_fk("saml_certs"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_saml_certs_tenant")
                    .table("saml_certs")
                    .col("tenant_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("saml_sps")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(string_len("entity_id", 1024))
                    .col(json_binary("acs"))
                    .col(string_len_null("slo_url", 2048))
                    .col(string_len_null("slo_binding", 128))
                    .col(json_binary("signing_certs"))
                    .col(text_null("encryption_cert"))
                    .col(string_len("encryption_method", 128))
                    .col(string_len("name_id_format", 256))
                    .col(boolean("sign_assertion"))
                    .col(boolean("sign_response"))
                    .col(boolean("encrypt_assertion"))
                    .col(boolean("want_authn_requests_signed"))
                    .col(json_binary("attributes"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(&mut tenant_fk("saml_sps"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_saml_sps_tenant_entity")
                    .table("saml_sps")
                    .col("tenant_id")
                    .col("entity_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("saml_requests")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid("sp_id"))
                    .col(string_len("request_id", 256))
                    .col(json_binary("request"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("consumed_at"))
                    .foreign_key(&mut tenant_fk("saml_requests"))
                    .foreign_key(&mut sp_fk("saml_requests"))
                    .to_owned(),
            )
            .await?;
        // A request ID is accepted once per service provider.
        manager
            .create_index(
                Index::create()
                    .name("ux_saml_requests_sp_request")
                    .table("saml_requests")
                    .col("sp_id")
                    .col("request_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("saml_participants")
                    .col(pk_uuid("id"))
                    .col(uuid("tenant_id"))
                    .col(uuid("session_id"))
                    .col(uuid("sp_id"))
                    .col(string_len("name_id", 512))
                    .col(string_len("name_id_format", 256))
                    .col(string_len_uniq("session_index", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .foreign_key(&mut tenant_fk("saml_participants"))
                    .foreign_key(&mut sp_fk("saml_participants"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_saml_participants_session")
                            .from("saml_participants", "session_id")
                            .to("sessions", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_saml_participants_session")
                    .table("saml_participants")
                    .col("session_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_saml_participants_sp_name")
                    .table("saml_participants")
                    .col("sp_id")
                    .col("name_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "saml_participants",
            "saml_requests",
            "saml_sps",
            "saml_certs",
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
