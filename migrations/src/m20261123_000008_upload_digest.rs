//! A blob upload remembers the SHA-256 of its bytes while they arrived in one part (the way
//! skopeo, podman and docker push: one streamed PATCH, then a PUT without a body), so the
//! closing PUT verifies the digest and promotes the part to a blob without reading it again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OciUploads::Table)
                    .add_column(string_null(OciUploads::SinglePartSha256))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OciUploads::Table)
                    .drop_column(OciUploads::SinglePartSha256)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OciUploads {
    Table,
    SinglePartSha256,
}
