//! Database connection and migrations, for SQLite and PostgreSQL alike.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::config::Config;

/// Connect with the configured limits. For a SQLite file, create its directory, and use WAL
/// mode (the CLI can write while a server runs) with `synchronous=NORMAL`, SQLite's advice for
/// WAL: a commit survives a crash of Plinto; only a power loss or OS crash can undo the last
/// commits (never corrupt the file). FULL would fsync at every commit and halve the write rate.
pub async fn connect(config: &Config) -> anyhow::Result<DatabaseConnection> {
    let url = config.database_url();
    if let Some(path) = sqlite_path(&url)
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = ConnectOptions::new(url.clone());
    options
        .max_connections(config.database_max_connections.max(1))
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(
            config.database_acquire_timeout_secs.max(1),
        ))
        .connect_timeout(Duration::from_secs(
            config.database_acquire_timeout_secs.max(1),
        ))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    let db = Database::connect(options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to the database: {}", redact(&url, e)))?;
    Ok(db)
}

/// How long a SQLite writer waits for the write lock held by another before it fails
/// ("database is locked"). Writers queue on it; PostgreSQL has no such lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Begin a transaction: on SQLite an IMMEDIATE one, which takes the write lock at `BEGIN` and
/// so waits for its turn behind other writers (up to the busy timeout). A DEFERRED one (what
/// `begin()` gives) reads first under a snapshot and fails at its first write, without
/// waiting, whenever another writer committed in between: that was the "database is locked"
/// under concurrent SCIM Bulk writers. On PostgreSQL this is a plain `BEGIN`. Every
/// transaction goes through here (clippy refuses `TransactionTrait::begin`).
pub async fn begin<C: TransactionTrait>(db: &C) -> Result<C::Transaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None)
        .await
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite://")?;
    let path = rest.split('?').next()?;
    (path != ":memory:" && !path.is_empty()).then_some(path)
}

/// An error message with the URL's password (if any) removed.
fn redact(url: &str, e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    match url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
    {
        Some((userinfo, _)) => match userinfo.split_once(':') {
            Some((_, password)) if !password.is_empty() => text.replace(password, "***"),
            _ => text,
        },
        None => text,
    }
}

/// Whether a lookup key can be sent to every backend: PostgreSQL refuses NUL in text (an error,
/// not a miss), so such a key can only be unknown.
pub fn storable(key: &str) -> bool {
    !key.contains('\0')
}
