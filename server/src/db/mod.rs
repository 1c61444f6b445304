//! The database: connecting (SQLite in WAL mode, or PostgreSQL), migrating, and the entities.

pub mod entities;

/// The most values one `IN (…)` carries: longer lists are asked in chunks of this many
/// (SQLite refuses more than 32,766 variables in a statement, PostgreSQL 65,535).
pub const IN_CHUNK: usize = 1000;

use std::time::Duration;

use packistry_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::config::{ConfigError, DatabaseUrl};

/// Connect and bring the schema up to date.
pub async fn connect_and_migrate(url: &DatabaseUrl) -> Result<DatabaseConnection, ConfigError> {
    let db = connect(url).await?;
    migrate(&db).await.map_err(|err| {
        ConfigError::new(
            "PACKISTRY_DATABASE_URL",
            format!("cannot migrate {}: {err}", url.redacted()),
        )
    })?;
    Ok(db)
}

/// Apply the pending migrations, each in one transaction with its record, so a crash
/// (or SIGKILL) mid-migration leaves it wholly undone and the next start applies it again.
/// sea-orm-migration does this on PostgreSQL; on SQLite (whose DDL is transactional too)
/// it is done here, one migration at a time. Another process migrating at the same moment
/// makes a step fail; it is tried again once that process is done.
async fn migrate(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return Migrator::up(db, None).await;
    }
    let mut failures = 0;
    loop {
        let step = async {
            let txn = db.begin().await?;
            if Migrator::get_pending_migrations(&txn).await?.is_empty() {
                txn.commit().await?;
                return Ok(true);
            }
            Migrator::up(&txn, Some(1)).await?;
            txn.commit().await?;
            Ok::<bool, sea_orm::DbErr>(false)
        };
        match step.await {
            Ok(true) => return Ok(()),
            Ok(false) => failures = 0,
            Err(err) if failures < 10 => {
                failures += 1;
                tracing::debug!(error = %err, "a migration step failed; trying again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection, ConfigError> {
    let mut options = ConnectOptions::new(url.connection_string());
    options
        // While the database is down, a request waits this long for a connection and is
        // then answered 503, rather than hanging.
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    match url {
        // SQLite allows one writer; a small pool avoids lock contention in the pool itself.
        // WAL lets readers go on while one writer writes. With WAL, `synchronous=NORMAL`
        // syncs the log at checkpoints instead of at every commit: a commit cannot be torn,
        // and only the last commits can be lost, on a power cut alone. Stored files are
        // synced before the rows naming them are written, so what a row names is always
        // whole; a lost row leaves at most an unreferenced file for garbage collection.
        DatabaseUrl::Sqlite(_) => options
            .max_connections(8)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
            }),
        // Plans made for the values at hand: a generic plan cannot use the trigram index
        // for a search pattern it does not know (it scanned 100,000 packages for a search
        // whose matches the index finds in a millisecond). Planning costs far less.
        DatabaseUrl::Postgres(_) => options
            .max_connections(20)
            .min_connections(1)
            .map_sqlx_postgres_opts(|postgres| {
                postgres.options([("plan_cache_mode", "force_custom_plan")])
            }),
    };
    if let DatabaseUrl::Sqlite(raw) = url {
        if let Some(parent) = sqlite_file(raw).and_then(|p| p.parent().map(|p| p.to_owned())) {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(&parent).map_err(|err| {
                    ConfigError::new(
                        "PACKISTRY_DATABASE_URL",
                        format!("cannot create {}: {err}", parent.display()),
                    )
                })?;
            }
        }
    }
    let db = Database::connect(options).await.map_err(|err| {
        ConfigError::new(
            "PACKISTRY_DATABASE_URL",
            format!("cannot connect to {}: {err}", url.redacted()),
        )
    })?;
    Ok(db)
}

fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?.trim_start_matches("//");
    let path = rest.split('?').next()?;
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(path.into())
    }
}
