//! Import sources, packages, their versions and files, the content-addressed blobs the files
//! point to, and one row per download.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;
use crate::m20261123_000002_create_repositories::Repositories;
use crate::one_of;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sources::Table)
                    .col(pk_uuid(Sources::Id))
                    .col(string_uniq(Sources::Name))
                    .col(string(Sources::Provider))
                    .col(string(Sources::BaseUrl))
                    .col(text_null(Sources::AccessTokenEncrypted))
                    .col(text(Sources::WebhookSecretEncrypted))
                    .col(timestamp_with_time_zone(Sources::CreatedAt))
                    .col(timestamp_with_time_zone(Sources::UpdatedAt))
                    .check(one_of(
                        Sources::Provider,
                        &["github", "gitlab", "gitea", "bitbucket", "git"],
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Packages::Table)
                    .col(pk_uuid(Packages::Id))
                    .col(uuid(Packages::RepositoryId))
                    .col(string(Packages::Name))
                    .col(text(Packages::Description))
                    .col(uuid_null(Packages::SourceId))
                    .col(string_null(Packages::SourceProject))
                    .col(timestamp_with_time_zone(Packages::CreatedAt))
                    .col(timestamp_with_time_zone(Packages::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Packages::Table, Packages::RepositoryId)
                            .to(Repositories::Table, Repositories::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Packages::Table, Packages::SourceId)
                            .to(Sources::Table, Sources::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_packages_repository_name")
                    .table(Packages::Table)
                    .col(Packages::RepositoryId)
                    .col(Packages::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Blobs::Table)
                    // The lowercase hex SHA-256 of the content: stored once however often referenced.
                    .col(string(Blobs::Digest).primary_key())
                    .col(big_integer(Blobs::Size))
                    .col(timestamp_with_time_zone(Blobs::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PackageVersions::Table)
                    .col(pk_uuid(PackageVersions::Id))
                    .col(uuid(PackageVersions::PackageId))
                    .col(string(PackageVersions::Version))
                    .col(string(PackageVersions::VersionNormalized))
                    .col(json(PackageVersions::Metadata))
                    .col(timestamp_with_time_zone(PackageVersions::CreatedAt))
                    .col(timestamp_with_time_zone(PackageVersions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(PackageVersions::Table, PackageVersions::PackageId)
                            .to(Packages::Table, Packages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_package_versions_package_version")
                    .table(PackageVersions::Table)
                    .col(PackageVersions::PackageId)
                    .col(PackageVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VersionFiles::Table)
                    .col(pk_uuid(VersionFiles::Id))
                    .col(uuid(VersionFiles::VersionId))
                    .col(string(VersionFiles::Name))
                    .col(string(VersionFiles::BlobDigest))
                    .col(big_integer(VersionFiles::Size))
                    .col(string(VersionFiles::MediaType))
                    .col(timestamp_with_time_zone(VersionFiles::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VersionFiles::Table, VersionFiles::VersionId)
                            .to(PackageVersions::Table, PackageVersions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(VersionFiles::Table, VersionFiles::BlobDigest)
                            .to(Blobs::Table, Blobs::Digest)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_version_files_version_name")
                    .table(VersionFiles::Table)
                    .col(VersionFiles::VersionId)
                    .col(VersionFiles::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_version_files_blob")
                    .table(VersionFiles::Table)
                    .col(VersionFiles::BlobDigest)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Downloads::Table)
                    .col(pk_uuid(Downloads::Id))
                    .col(uuid(Downloads::VersionId))
                    .col(uuid_null(Downloads::UserId))
                    .col(uuid_null(Downloads::TokenId))
                    .col(string_null(Downloads::Address))
                    .col(timestamp_with_time_zone(Downloads::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Downloads::Table, Downloads::VersionId)
                            .to(PackageVersions::Table, PackageVersions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Downloads::Table, Downloads::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_downloads_version_time")
                    .table(Downloads::Table)
                    .col(Downloads::VersionId)
                    .col(Downloads::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Downloads::Table.into_iden(),
            VersionFiles::Table.into_iden(),
            PackageVersions::Table.into_iden(),
            Blobs::Table.into_iden(),
            Packages::Table.into_iden(),
            Sources::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Sources {
    Table,
    Id,
    Name,
    Provider,
    BaseUrl,
    AccessTokenEncrypted,
    WebhookSecretEncrypted,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Packages {
    Table,
    Id,
    RepositoryId,
    Name,
    Description,
    SourceId,
    SourceProject,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Blobs {
    Table,
    Digest,
    Size,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PackageVersions {
    Table,
    Id,
    PackageId,
    Version,
    VersionNormalized,
    Metadata,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VersionFiles {
    Table,
    Id,
    VersionId,
    Name,
    BlobDigest,
    Size,
    MediaType,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Downloads {
    Table,
    Id,
    VersionId,
    UserId,
    TokenId,
    Address,
    CreatedAt,
}
