//! An index that lets a search walk a repository's names in order and test each one's text
//! without reading its row: a common word's first page is then found in about a page's
//! worth of index entries (a search through the search index costs every match instead).
//! SQLite keeps the lowercased text in the index (read before the row, which is looked up
//! only for a match); PostgreSQL keeps the columns the test needs, for an index-only scan.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                "CREATE INDEX packages_search_walk ON packages \
                 (repository_id, name, lower(name || ' ' || description))"
            }
            _ => {
                "CREATE INDEX packages_search_walk ON packages \
                 (repository_id, name) INCLUDE (id, description)"
            }
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX packages_search_walk")
            .await?;
        Ok(())
    }
}
