use sea_orm::entity::prelude::*;

/// A user's TOTP authenticator (RFC 6238). The secret is stored encrypted (compact JWE).
/// Unconfirmed until the user entered a first code.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mfa_totp")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[sea_orm(unique)]
    pub user_id: Uuid,
    pub secret_jwe: String,
    pub confirmed_at: Option<DateTimeUtc>,
    /// The time step of the last accepted code: no code of this step or before is accepted
    /// again.
    pub last_step: Option<i64>,
    pub created_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaTotp")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
