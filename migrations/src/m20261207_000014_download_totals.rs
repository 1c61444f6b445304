//! `download_totals`: each version's downloads, counted by a trigger as download rows are
//! written (in the same transaction), so a list's totals are read, not counted row by row
//! (a package downloaded 30,000 times cost 30 ms on every page that showed it).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DownloadTotals::Table)
                    .col(uuid(DownloadTotals::VersionId).primary_key())
                    .col(big_integer(DownloadTotals::Count))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DownloadTotals::Table, DownloadTotals::VersionId)
                            .to(PackageVersions::Table, PackageVersions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO download_totals (version_id, count) \
             SELECT version_id, COUNT(*) FROM downloads GROUP BY version_id",
        )
        .await?;
        let trigger: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => &[
                "CREATE TRIGGER downloads_counted AFTER INSERT ON downloads BEGIN \
                   INSERT INTO download_totals (version_id, count) VALUES (new.version_id, 1) \
                   ON CONFLICT (version_id) DO UPDATE SET count = count + 1; \
                 END",
            ],
            _ => &[
                "CREATE FUNCTION packistry_downloads_counted() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN \
                   INSERT INTO download_totals (version_id, count) VALUES (NEW.version_id, 1) \
                   ON CONFLICT (version_id) DO UPDATE SET count = download_totals.count + 1; \
                   RETURN NULL; \
                 END $$",
                "CREATE TRIGGER downloads_counted AFTER INSERT ON downloads \
                 FOR EACH ROW EXECUTE FUNCTION packistry_downloads_counted()",
            ],
        };
        for sql in trigger {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                db.execute_unprepared("DROP TRIGGER downloads_counted")
                    .await?;
            }
            _ => {
                db.execute_unprepared("DROP TRIGGER downloads_counted ON downloads")
                    .await?;
                db.execute_unprepared("DROP FUNCTION packistry_downloads_counted()")
                    .await?;
            }
        }
        manager
            .drop_table(Table::drop().table(DownloadTotals::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum DownloadTotals {
    Table,
    VersionId,
    Count,
}

#[derive(DeriveIden)]
enum PackageVersions {
    Table,
    Id,
}
