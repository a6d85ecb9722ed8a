use sea_orm::entity::prelude::*;

/// A person's account in one tenant. `email_normalized` is the lower-cased address that the
/// per-tenant unique index is on; `email` keeps what the user typed. An account may have no
/// address (SCIM needs only a `userName`): then both are `None`.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[sea_orm(unique)]
    pub sub: String,
    pub email: Option<String>,
    pub email_normalized: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// PHC string (argon2id); `None` for an account without a password yet.
    pub password_hash: Option<String>,
    pub must_change_password: bool,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// SCIM `userName` (the address for accounts made outside SCIM); unique per tenant,
    /// case-insensitively, on `user_name_normalized`.
    pub user_name: String,
    pub user_name_normalized: String,
    /// SCIM `externalId`: the provisioning client's own id.
    pub external_id: Option<String>,
    /// The rest of the SCIM representation in canonical form (no `id`, `meta`, `schemas`,
    /// `userName`, `externalId`, `active`, `password`, `groups`: those come from columns).
    pub scim: Json,
    /// `scim` lower-cased (keys and values): what case-insensitive `eq` filters look up by
    /// JSON containment, through a GIN index on PostgreSQL. Written with `scim`, never read.
    pub scim_search: Json,
    /// Bumped on every change: the ETag.
    pub version: i64,
    /// The OpenID Connect standard claims Plinto stores for the user (Core §5.1), by claim
    /// name: written by SCIM and the account page through `accounts::profile`, which checks
    /// them; read by OIDC claims and SAML attributes.
    pub profile: Json,
}

impl Model {
    /// What pages and authenticators call the account: its address, else its userName.
    pub fn identifier(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.user_name)
    }

    /// Whether the account has an address it has not proven. Such an account may not add
    /// second factors or passkeys (a pre-account takeover: someone signs up with another's
    /// address first). An account with no address at all was provisioned by the tenant's
    /// directory (SCIM), and there is no address whose later proof could hand it to someone.
    pub fn has_unverified_address(&self) -> bool {
        self.email.is_some() && !self.email_verified
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("tenant_id", &self.tenant_id)
            .field("email", &self.email)
            .field("disabled", &self.disabled)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tenant::Entity",
        from = "Column::TenantId",
        to = "super::tenant::Column::Id",
        on_delete = "Cascade"
    )]
    Tenant,
    #[sea_orm(has_many = "super::session::Entity")]
    Session,
}

impl Related<super::tenant::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
