//! What Composer, Maven and the package pages need beyond the first package tables: a blob's
//! MD5, SHA-1 and SHA-512 beside its SHA-256 (Composer's `dist.shasum`, Maven's checksum
//! files), a version's readme, a repository's snapshot retention, and an index for per-day
//! download counts.

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
                    .table(Blobs::Table)
                    .add_column(string_null(Blobs::Md5))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Blobs::Table)
                    .add_column(string_null(Blobs::Sha512))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Repositories::Table)
                    .add_column(integer_null(Repositories::SnapshotRetention))
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
                    .table(Repositories::Table)
                    .drop_column(Repositories::SnapshotRetention)
                    .to_owned(),
            )
            .await?;
        for column in [Blobs::Sha1, Blobs::Md5, Blobs::Sha512] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Blobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Sha1,
    Md5,
    Sha512,
}

#[derive(DeriveIden)]
enum Repositories {
    Table,
    SnapshotRetention,
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
