//! A deploy token's package limit names packages, not package rows: a token made for a
//! package's first upload may name one not published yet, and deleting a package must not
//! lift the limit of a token made for it (with rows, the cascade emptied the limit and so
//! widened the token to its whole repository).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TokenPackageNames::Table)
                    .col(uuid(TokenPackageNames::TokenId))
                    .col(string(TokenPackageNames::Name))
                    .primary_key(
                        Index::create()
                            .col(TokenPackageNames::TokenId)
                            .col(TokenPackageNames::Name),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TokenPackageNames::Table, TokenPackageNames::TokenId)
                            .to(Tokens::Table, Tokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO token_package_names (token_id, name) \
                 SELECT DISTINCT tp.token_id, p.name FROM token_packages tp \
                 JOIN packages p ON p.id = tp.package_id",
            )
            .await?;
        manager
            .drop_table(Table::drop().table(TokenPackages::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TokenPackages::Table)
                    .col(uuid(TokenPackages::TokenId))
                    .col(uuid(TokenPackages::PackageId))
                    .primary_key(
                        Index::create()
                            .col(TokenPackages::TokenId)
                            .col(TokenPackages::PackageId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(TokenPackageNames::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TokenPackageNames {
    Table,
    TokenId,
    Name,
}

#[derive(DeriveIden)]
enum TokenPackages {
    Table,
    TokenId,
    PackageId,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
}
