//! What Composer and the package pages need beyond the first package tables: the SHA-1 of a
//! blob (Composer's `dist.shasum`, Maven's `.sha1`), a version's readme, and an index for
//! per-day download counts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Blobs::Table)
                    .add_column(string_null(Blobs::Sha1))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PackageVersions::Table)
                    .add_column(text_null(PackageVersions::Readme))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_downloads_time")
                    .table(Downloads::Table)
                    .col(Downloads::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("idx_downloads_time").to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PackageVersions::Table)
                    .drop_column(PackageVersions::Readme)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Blobs::Table)
                    .drop_column(Blobs::Sha1)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Sha1,
}

#[derive(DeriveIden)]
enum PackageVersions {
    Table,
    Readme,
}

#[derive(DeriveIden)]
enum Downloads {
    Table,
    CreatedAt,
}
