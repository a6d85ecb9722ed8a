use sea_orm::entity::prelude::*;

/// An OAuth 2.0 / OpenID Connect client of a tenant. List-valued settings are JSON arrays of
/// strings (portable between SQLite and PostgreSQL). Only a keyed hash of the secret is kept.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[sea_orm(unique)]
    pub client_id: String,
    pub name: String,
    /// HMAC-SHA256 (hex) of the secret; `None` for public clients and `private_key_jwt`.
    pub secret_hash: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none`.
    pub auth_method: String,
    /// Registered with an explicit method: only `auth_method` is accepted. Otherwise a client
    /// with a secret accepts both `client_secret_basic` and `client_secret_post`.
    pub auth_method_pinned: bool,
    /// How far ahead a `private_key_jwt` assertion may expire; `None`: the default (1 hour).
    pub max_assertion_lifetime_secs: Option<i32>,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub cors_origins: String,
    /// Inline JWK Set for `private_key_jwt`.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub id_token_signed_response_alg: String,
    pub skip_consent: bool,
    pub created_at: DateTimeUtc,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("auth_method", &self.auth_method)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
