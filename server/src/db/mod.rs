//! The database: connecting (SQLite in WAL mode, or PostgreSQL), migrating, and the entities.

pub mod entities;

use std::time::Duration;

use packistry_migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::config::{ConfigError, DatabaseUrl};

/// Connect and bring the schema up to date.
pub async fn connect_and_migrate(url: &DatabaseUrl) -> Result<DatabaseConnection, ConfigError> {
    let db = connect(url).await?;
    Migrator::up(&db, None).await.map_err(|err| {
        ConfigError::new(
            "PACKISTRY_DATABASE_URL",
            format!("cannot migrate {}: {err}", url.redacted()),
        )
    })?;
    Ok(db)
}

pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection, ConfigError> {
    let mut options = ConnectOptions::new(url.connection_string());
    options
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    match url {
        // SQLite allows one writer; a small pool avoids lock contention in the pool itself.
        DatabaseUrl::Sqlite(_) => options.max_connections(8).min_connections(1),
        DatabaseUrl::Postgres(_) => options.max_connections(20).min_connections(1),
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
    if let DatabaseUrl::Sqlite(_) = url {
        // WAL lets readers go on while one writer writes, and is kept in the file.
        db.execute_unprepared("PRAGMA journal_mode=WAL")
            .await
            .map_err(|err| {
                ConfigError::new(
                    "PACKISTRY_DATABASE_URL",
                    format!("cannot enable WAL on {}: {err}", url.redacted()),
                )
            })?;
    }
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
