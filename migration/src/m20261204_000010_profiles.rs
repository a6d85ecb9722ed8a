//! Accounts without an email address (a SCIM `userName` is enough, RFC 7643 §4.1), one profile
//! per user (the OpenID Connect standard claims Plinto stores), and the tenant setting that lets
//! users sign in with their userName.
//!
//! `users.email` and `users.email_normalized` become nullable; the per-tenant unique index on
//! the address stays (both backends let several rows have no address under a unique index).
//! PostgreSQL drops the NOT NULL in place. SQLite cannot change a column's nullability, so the
//! table is rebuilt as SQLite documents it (<https://www.sqlite.org/lang_altertable.html>,
//! "making other kinds of table schema changes"): with foreign keys off, on one connection, in
//! one transaction, every row copied, the indexes made again, `foreign_key_check` clean before
//! the commit. Foreign keys must be off: dropping the old table with them on would cascade to
//! every session, grant and credential of every user.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::sqlx::{self, Connection as _};
use sea_orm_migration::sea_orm::{DatabaseExecutor, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Every column of `users` after this migration, in order, but for the two address columns.
const COLUMNS: &str = "id, tenant_id, sub, email, email_normalized, email_verified, name, \
     password_hash, must_change_password, is_admin, disabled, created_at, updated_at, user_name, \
     user_name_normalized, external_id, scim, scim_search, version, profile";

/// The `users` table as migrations 1 to 10 make it on SQLite, with the address columns
/// `NULL` or `NOT NULL`.
fn users_table(name: &str, address: &str) -> String {
    format!(
        "CREATE TABLE \"{name}\" ( \"id\" uuid_text NOT NULL PRIMARY KEY, \
         \"tenant_id\" uuid_text NOT NULL, \"sub\" varchar(64) NOT NULL UNIQUE, \
         \"email\" varchar(320) {address}, \"email_normalized\" varchar(320) {address}, \
         \"email_verified\" boolean NOT NULL DEFAULT FALSE, \"name\" varchar(400) NULL, \
         \"password_hash\" text NULL, \"must_change_password\" boolean NOT NULL DEFAULT FALSE, \
         \"is_admin\" boolean NOT NULL DEFAULT FALSE, \"disabled\" boolean NOT NULL DEFAULT FALSE, \
         \"created_at\" timestamp_with_timezone_text NOT NULL, \
         \"updated_at\" timestamp_with_timezone_text NOT NULL, \
         \"user_name\" varchar(512) NOT NULL DEFAULT '', \
         \"user_name_normalized\" varchar(512) NOT NULL DEFAULT '', \
         \"external_id\" varchar(512) NULL, \"scim\" jsonb_text NOT NULL DEFAULT '{{}}', \
         \"scim_search\" jsonb_text NOT NULL DEFAULT '{{}}', \
         \"version\" integer NOT NULL DEFAULT 1, \"profile\" jsonb_text NOT NULL DEFAULT '{{}}', \
         FOREIGN KEY (\"tenant_id\") REFERENCES \"tenants\" (\"id\") ON DELETE CASCADE )"
    )
}

const INDEXES: [&str; 3] = [
    "CREATE UNIQUE INDEX \"ux_users_tenant_email\" ON \"users\" (\"tenant_id\", \"email_normalized\")",
    "CREATE UNIQUE INDEX \"ux_users_tenant_user_name\" ON \"users\" (\"tenant_id\", \"user_name_normalized\")",
    "CREATE INDEX \"ix_users_tenant_external_id\" ON \"users\" (\"tenant_id\", \"external_id\")",
];

fn sqlx_err(e: sqlx::Error) -> DbErr {
    DbErr::Migration(format!("rebuilding users: {e}"))
}

/// Rebuild SQLite's `users` with the address columns `address` (`NULL` or `NOT NULL`).
async fn rebuild_sqlite_users(manager: &SchemaManager<'_>, address: &str) -> Result<(), DbErr> {
    let DatabaseExecutor::Connection(db) = manager.get_connection() else {
        return Err(DbErr::Migration(
            "rebuilding users needs a connection of its own, not a transaction".into(),
        ));
    };
    let mut conn = db
        .get_sqlite_connection_pool()
        .acquire()
        .await
        .map_err(sqlx_err)?;
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await
        .map_err(sqlx_err)?;
    let result = async {
        let mut txn = conn.begin().await.map_err(sqlx_err)?;
        let mut steps = vec![
            users_table("users_rebuilt", address),
            format!("INSERT INTO users_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM users"),
            "DROP TABLE users".to_string(),
            "ALTER TABLE users_rebuilt RENAME TO users".to_string(),
        ];
        steps.extend(INDEXES.iter().map(|s| String::from(*s)));
        for step in &steps {
            // Our own constant statements, nothing from outside.
            sqlx::query(sqlx::AssertSqlSafe(step.as_str()))
                .execute(&mut *txn)
                .await
                .map_err(sqlx_err)?;
        }
        let dangling = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&mut *txn)
            .await
            .map_err(sqlx_err)?;
        if !dangling.is_empty() {
            return Err(DbErr::Migration(format!(
                "rebuilding users would leave {} rows pointing nowhere",
                dangling.len()
            )));
        }
        txn.commit().await.map_err(sqlx_err)
    }
    .await;
    // The connection goes back to the pool: with foreign keys on again, whatever happened.
    let on = sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await
        .map_err(sqlx_err);
    result.and(on.map(|_| ()))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("tenants")
                    .add_column(boolean("sign_in_with_username").default(false))
                    .to_owned(),
            )
            .await?;
        // The profile: OpenID Connect standard claims (Core §5.1) by their claim names.
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(json_binary("profile").default("{}"))
                    .to_owned(),
            )
            .await?;
        match manager.get_database_backend() {
            DbBackend::Sqlite => rebuild_sqlite_users(manager, "NULL").await,
            _ => {
                manager
                    .get_connection()
                    .execute_unprepared(
                        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL, \
                         ALTER COLUMN email_normalized DROP NOT NULL",
                    )
                    .await?;
                Ok(())
            }
        }
    }

    /// Fails while an account has no address: give those one (or delete them) first.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Sqlite => rebuild_sqlite_users(manager, "NOT NULL").await?,
            _ => {
                manager
                    .get_connection()
                    .execute_unprepared(
                        "ALTER TABLE users ALTER COLUMN email SET NOT NULL, \
                         ALTER COLUMN email_normalized SET NOT NULL",
                    )
                    .await?;
            }
        }
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .drop_column("profile")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("tenants")
                    .drop_column("sign_in_with_username")
                    .to_owned(),
            )
            .await
    }
}
