use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub allow_signup: bool,
    /// Password sign-in waits until the address is verified.
    pub require_email_verification: bool,
    /// Rate limits over the configured ones, as in the `rate_limits` setting.
    pub rate_limits: Option<String>,
    pub created_at: DateTimeUtc,
    /// `optional`, `required` (everyone) or `admins` (required for administrators).
    pub mfa_policy: String,
    /// The sign-in field also accepts a userName (for accounts provisioned without an
    /// address, e.g. employee ids from an HR system).
    pub sign_in_with_username: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::user::Entity")]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
