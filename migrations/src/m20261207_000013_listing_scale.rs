//! Lists that cost O(page) at any repository size:
//! - `repositories.content_revision`, raised by every insert, update and delete of one of its
//!   packages, and `repositories.package_count`, both kept by triggers in the same
//!   transaction as the change: a list's ETag is known from the repository row alone, on
//!   every replica, before any work, and an unfiltered total needs no count;
//! - `packages.kind`: the Composer type of the latest upload, so a type filter is a column;
//! - search indexes: SQLite FTS5 with the trigram tokenizer (substrings of three characters
//!   or more, case-insensitive), its rowid the package row's, kept by triggers; PostgreSQL
//!   a `pg_trgm` GIN index on `lower(name || ' ' || description)` where the extension can be
//!   created (elsewhere the same query scans), and `text_pattern_ops` for name prefixes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COMMON: &[&str] = &[
    "ALTER TABLE repositories ADD COLUMN content_revision BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE repositories ADD COLUMN package_count BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE packages ADD COLUMN kind VARCHAR NULL",
    "UPDATE repositories SET package_count = \
     (SELECT COUNT(*) FROM packages WHERE packages.repository_id = repositories.id)",
];

const SQLITE: &[&str] = &[
    "UPDATE packages SET kind = (SELECT json_extract(v.metadata, '$.type') \
     FROM package_versions v WHERE v.package_id = packages.id \
     ORDER BY v.created_at DESC LIMIT 1)",
    "CREATE VIRTUAL TABLE package_search USING fts5(name, description, tokenize = 'trigram')",
    "INSERT INTO package_search (rowid, name, description) \
     SELECT rowid, name, description FROM packages",
    "CREATE TRIGGER packages_listed_insert AFTER INSERT ON packages BEGIN \
       UPDATE repositories SET content_revision = content_revision + 1, \
         package_count = package_count + 1 WHERE id = new.repository_id; \
       INSERT INTO package_search (rowid, name, description) \
         VALUES (new.rowid, new.name, new.description); \
     END",
    "CREATE TRIGGER packages_listed_delete AFTER DELETE ON packages BEGIN \
       UPDATE repositories SET content_revision = content_revision + 1, \
         package_count = package_count - 1 WHERE id = old.repository_id; \
       DELETE FROM package_search WHERE rowid = old.rowid; \
     END",
    "CREATE TRIGGER packages_listed_update AFTER UPDATE ON packages BEGIN \
       UPDATE repositories SET content_revision = content_revision + 1 \
         WHERE id = new.repository_id; \
       UPDATE package_search SET name = new.name, description = new.description \
         WHERE rowid = new.rowid \
         AND (old.name IS NOT new.name OR old.description IS NOT new.description); \
     END",
];

const POSTGRES: &[&str] = &[
    "UPDATE packages SET kind = (SELECT v.metadata->>'type' \
     FROM package_versions v WHERE v.package_id = packages.id \
     ORDER BY v.created_at DESC LIMIT 1)",
    "CREATE FUNCTION packistry_packages_listed() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'INSERT' THEN \
         UPDATE repositories SET content_revision = content_revision + 1, \
           package_count = package_count + 1 WHERE id = NEW.repository_id; \
       ELSIF TG_OP = 'DELETE' THEN \
         UPDATE repositories SET content_revision = content_revision + 1, \
           package_count = package_count - 1 WHERE id = OLD.repository_id; \
       ELSE \
         UPDATE repositories SET content_revision = content_revision + 1 \
           WHERE id = NEW.repository_id; \
       END IF; \
       RETURN NULL; \
     END $$",
    "CREATE TRIGGER packages_listed AFTER INSERT OR UPDATE OR DELETE ON packages \
     FOR EACH ROW EXECUTE FUNCTION packistry_packages_listed()",
    "CREATE INDEX packages_name_pattern ON packages (repository_id, name text_pattern_ops)",
    "DO $$ BEGIN \
       CREATE EXTENSION IF NOT EXISTS pg_trgm; \
       CREATE INDEX packages_search_trgm ON packages \
         USING gin (lower(name || ' ' || description) gin_trgm_ops); \
     EXCEPTION WHEN OTHERS THEN \
       RAISE NOTICE 'pg_trgm is not available: package searches scan'; \
     END $$",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let own = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => SQLITE,
            _ => POSTGRES,
        };
        for sql in COMMON.iter().chain(own) {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let own: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => &[
                "DROP TRIGGER packages_listed_insert",
                "DROP TRIGGER packages_listed_delete",
                "DROP TRIGGER packages_listed_update",
                "DROP TABLE package_search",
            ],
            _ => &[
                "DROP TRIGGER packages_listed ON packages",
                "DROP FUNCTION packistry_packages_listed()",
                "DROP INDEX IF EXISTS packages_search_trgm",
                "DROP INDEX packages_name_pattern",
            ],
        };
        for sql in own.iter().chain(&[
            "ALTER TABLE packages DROP COLUMN kind",
            "ALTER TABLE repositories DROP COLUMN package_count",
            "ALTER TABLE repositories DROP COLUMN content_revision",
        ]) {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
