use sea_orm::entity::prelude::*;

/// One entry of the append-only audit trail. The database refuses UPDATE and DELETE on this
/// table (triggers created by the migration).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: Option<Uuid>,
    /// `user:<id>`, `cli`, `system` or `anonymous`.
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub details: Option<String>,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
