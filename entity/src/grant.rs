use sea_orm::entity::prelude::*;

/// What a client holds on a user's (or its own) behalf: created when an authorization code is
/// redeemed; its refresh tokens form one rotation family. Revoking the grant revokes the
/// access tokens issued under it (their `jti` names the grant) and its refresh tokens.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub scope: String,
    /// The `claims` request parameter (JSON), if any.
    pub claims: Option<String>,
    pub auth_time: Option<DateTimeUtc>,
    /// Granted with `offline_access`: outlives the browser session.
    pub offline: bool,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    /// The `amr` of the sign-in behind the grant (space-separated).
    pub amr: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
