use sea_orm::entity::prelude::*;

/// An AuthnRequest that passed validation: its ID is never accepted again from that SP, and
/// it waits here while the user signs in.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub sp_id: Uuid,
    pub request_id: String,
    /// What the answer needs: ACS URL, RelayState, NameID format, ForceAuthn, ...
    pub request: Json,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub consumed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
