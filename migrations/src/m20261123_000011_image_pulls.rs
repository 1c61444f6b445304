//! Pulls of container images, counted as their downloads: an image has tags and manifests,
//! not package versions, so its pulls cannot be `downloads` rows. A row stands for `count`
//! pulls of one image by one caller by one reference within one write batch, so a registry
//! pulled thousands of times a second writes a handful of rows, not thousands.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ImagePulls::Table)
                    .col(pk_uuid(ImagePulls::Id))
                    .col(uuid(ImagePulls::PackageId))
                    .col(string(ImagePulls::Reference))
                    .col(uuid_null(ImagePulls::UserId))
                    .col(uuid_null(ImagePulls::TokenId))
                    .col(string_null(ImagePulls::Address))
                    .col(big_integer(ImagePulls::Count).default(1))
                    .col(timestamp_with_time_zone(ImagePulls::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ImagePulls::Table, ImagePulls::PackageId)
                            .to(Packages::Table, Packages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ImagePulls::Table, ImagePulls::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_image_pulls_package_time")
                    .table(ImagePulls::Table)
                    .col(ImagePulls::PackageId)
                    .col(ImagePulls::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ImagePulls::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ImagePulls {
    Table,
    Id,
    PackageId,
    Reference,
    UserId,
    TokenId,
    Address,
    Count,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Packages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
