use sea_orm::entity::prelude::*;

/// A tenant's JWT signing key. The private JWK is stored only encrypted (a compact JWE under
/// a key derived from the master key).
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[sea_orm(unique)]
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    pub private_jwe: String,
    /// The public JWK as JSON, as published in the JWKS.
    pub public_jwk: String,
    pub created_at: DateTimeUtc,
    /// Set when a newer key took over; the key stays published for a while after.
    pub retired_at: Option<DateTimeUtc>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("retired_at", &self.retired_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
