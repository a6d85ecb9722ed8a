use sea_orm::entity::prelude::*;

/// An `Idempotency-Key` of an admin API caller and what its first request answered.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_idempotency_keys")]
pub struct Model {
    /// SHA-256 (hex) of the caller and the key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_hash: String,
    /// SHA-256 (hex) of the method, path and body of the first request.
    pub request_hash: String,
    pub actor: String,
    /// The first request's status; 0 while it runs.
    pub status: i32,
    /// Its answer (headers and body), encrypted.
    pub response: Option<String>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
