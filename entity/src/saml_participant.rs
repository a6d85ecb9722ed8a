use sea_orm::entity::prelude::*;

/// A service provider that received an assertion within a browser session: the NameID and
/// SessionIndex it was given, for Single Logout in either direction.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saml_participants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub session_id: Uuid,
    pub sp_id: Uuid,
    pub name_id: String,
    pub name_id_format: String,
    #[sea_orm(unique)]
    pub session_index: String,
    pub created_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::saml_sp::Entity",
        from = "Column::SpId",
        to = "super::saml_sp::Column::Id",
        on_delete = "Cascade"
    )]
    Sp,
}

impl Related<super::saml_sp::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sp.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
