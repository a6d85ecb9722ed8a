use sea_orm::entity::prelude::*;

/// A group of a tenant, provisioned over SCIM. `display_name_normalized` is the lower-cased
/// name that the per-tenant unique index is on.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scim_groups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub display_name: String,
    pub display_name_normalized: String,
    pub external_id: Option<String>,
    /// Bumped on every change: the ETag.
    pub version: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
