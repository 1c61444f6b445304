//! The projects of sources (created with the packages) imported into repositories, and the
//! jobs' link to what they work on (with their per-ref results).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SourcePackages::Table)
                    .col(pk_uuid(SourcePackages::Id))
                    .col(uuid(SourcePackages::SourceId))
                    .col(uuid(SourcePackages::RepositoryId))
                    .col(string(SourcePackages::Project))
                    .col(string(SourcePackages::Subdirectory).default(""))
                    .col(string_null(SourcePackages::PackageName))
                    .col(timestamp_with_time_zone(SourcePackages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SourcePackages::Table, SourcePackages::SourceId)
                            .to(Sources::Table, Sources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SourcePackages::Table, SourcePackages::RepositoryId)
                            .to(Repositories::Table, Repositories::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("source_packages_unique")
                    .table(SourcePackages::Table)
                    .col(SourcePackages::RepositoryId)
                    .col(SourcePackages::SourceId)
                    .col(SourcePackages::Project)
                    .col(SourcePackages::Subdirectory)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // SQLite takes one column per ALTER TABLE.
        for column in [uuid_null(Jobs::SubjectId), json_null(Jobs::Result)] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("jobs_subject")
                    .table(Jobs::Table)
                    .col(Jobs::SubjectId)
                    .col(Jobs::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("jobs_subject")
                    .table(Jobs::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Jobs::SubjectId, Jobs::Result] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(SourcePackages::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SourcePackages {
    Table,
    Id,
    SourceId,
    RepositoryId,
    Project,
    Subdirectory,
    PackageName,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Repositories {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    SubjectId,
    Result,
    CreatedAt,
}
