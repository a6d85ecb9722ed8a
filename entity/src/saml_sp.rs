use sea_orm::entity::prelude::*;

/// A SAML service provider registered with a tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_sps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub entity_id: String,
    /// `[{"url", "binding", "index", "is_default"}]`
    pub acs: Json,
    pub slo_url: Option<String>,
    pub slo_binding: Option<String>,
    /// PEM certificates that verify the SP's signed requests.
    pub signing_certs: Json,
    /// PEM certificate to encrypt assertions to.
    pub encryption_cert: Option<String>,
    /// The XML Encryption block cipher for assertions (`…xmlenc11#aes256-gcm` or
    /// `…xmlenc#aes256-cbc`).
    pub encryption_method: String,
    pub name_id_format: String,
    pub sign_assertion: bool,
    pub sign_response: bool,
    pub encrypt_assertion: bool,
    pub want_authn_requests_signed: bool,
    /// Signed requests of this (legacy) SP may use RSA-SHA1; each such use is audited.
    pub allow_sha1: bool,
    /// Which attributes are sent, under which names: `[{"source", "name"}]`.
    pub attributes: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
