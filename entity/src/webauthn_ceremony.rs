use sea_orm::entity::prelude::*;

/// A WebAuthn ceremony between its two halves: the challenge state, single use, short-lived.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webauthn_ceremonies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
    /// `register`, `second_factor` or `passwordless`.
    pub kind: String,
    pub state: Json,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// Keyed hash of the random value of the cookie set in the browser that began the
    /// ceremony (passwordless sign-in): only that browser can finish it.
    pub browser_hash: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
