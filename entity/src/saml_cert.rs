use sea_orm::entity::prelude::*;

/// A tenant's SAML signing key and its self-signed certificate. The private key is stored
/// encrypted (a compact JWE under the master-derived signing-key key).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_certs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub cert_pem: String,
    pub private_key_jwe: String,
    pub created_at: DateTimeUtc,
    pub not_after: DateTimeUtc,
    /// Set when a newer certificate took over; still published until the overlap ends.
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
