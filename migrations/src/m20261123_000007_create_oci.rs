//! Container images (OCI distribution): manifests, tags, the blobs an image holds, and
//! upload sessions kept in the database (their bytes in storage), so an upload resumes
//! after a restart and on any replica; and whether a repository allows deletes.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000002_create_repositories::Repositories;
use crate::m20261123_000003_create_packages::Packages;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Repositories::Table)
                    .add_column(boolean(RepositoryDeletes::AllowDeletes).default(true))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OciManifests::Table)
                    .col(pk_uuid(OciManifests::Id))
                    .col(uuid(OciManifests::PackageId))
                    // `sha256:…` or `sha512:…`, as the client names it.
                    .col(string(OciManifests::Digest))
                    .col(string(OciManifests::MediaType))
                    .col(string(OciManifests::BlobSha256))
                    .col(big_integer(OciManifests::Size))
                    .col(string_null(OciManifests::SubjectDigest))
                    .col(string_null(OciManifests::ArtifactType))
                    .col(json_null(OciManifests::Annotations))
                    .col(timestamp_with_time_zone(OciManifests::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OciManifests::Table, OciManifests::PackageId)
                            .to(Packages::Table, Packages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_oci_manifests_package_digest")
                    .table(OciManifests::Table)
                    .col(OciManifests::PackageId)
                    .col(OciManifests::Digest)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_oci_manifests_subject")
                    .table(OciManifests::Table)
                    .col(OciManifests::PackageId)
                    .col(OciManifests::SubjectDigest)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OciTags::Table)
                    .col(pk_uuid(OciTags::Id))
                    .col(uuid(OciTags::PackageId))
                    .col(string(OciTags::Name))
                    .col(string(OciTags::ManifestDigest))
                    .col(timestamp_with_time_zone(OciTags::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OciTags::Table, OciTags::PackageId)
                            .to(Packages::Table, Packages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_oci_tags_package_name")
                    .table(OciTags::Table)
                    .col(OciTags::PackageId)
                    .col(OciTags::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OciBlobs::Table)
                    .col(pk_uuid(OciBlobs::Id))
                    .col(uuid(OciBlobs::PackageId))
                    .col(string(OciBlobs::Digest))
                    .col(string(OciBlobs::BlobSha256))
                    .col(big_integer(OciBlobs::Size))
                    .col(timestamp_with_time_zone(OciBlobs::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OciBlobs::Table, OciBlobs::PackageId)
                            .to(Packages::Table, Packages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_oci_blobs_package_digest")
                    .table(OciBlobs::Table)
                    .col(OciBlobs::PackageId)
                    .col(OciBlobs::Digest)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OciUploads::Table)
                    .col(pk_uuid(OciUploads::Id))
                    .col(uuid(OciUploads::RepositoryId))
                    .col(string(OciUploads::Image))
                    .col(big_integer(OciUploads::Size))
                    .col(integer(OciUploads::Parts))
                    .col(timestamp_with_time_zone(OciUploads::CreatedAt))
                    .col(timestamp_with_time_zone(OciUploads::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OciUploads::Table, OciUploads::RepositoryId)
                            .to(Repositories::Table, Repositories::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OciUploads::Table.into_iden(),
            OciBlobs::Table.into_iden(),
            OciTags::Table.into_iden(),
            OciManifests::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Repositories::Table)
                    .drop_column(RepositoryDeletes::AllowDeletes)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OciManifests {
    Table,
    Id,
    PackageId,
    Digest,
    MediaType,
    BlobSha256,
    Size,
    SubjectDigest,
    ArtifactType,
    Annotations,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OciTags {
    Table,
    Id,
    PackageId,
    Name,
    ManifestDigest,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OciBlobs {
    Table,
    Id,
    PackageId,
    Digest,
    BlobSha256,
    Size,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OciUploads {
    Table,
    Id,
    RepositoryId,
    Image,
    Size,
    Parts,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RepositoryDeletes {
    AllowDeletes,
}
