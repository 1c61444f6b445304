//! Personal and deploy tokens with their scope: covered repositories, package limits and
//! permitted roles. Only a hash of the secret is stored.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;
use crate::m20261123_000002_create_repositories::Repositories;
use crate::m20261123_000003_create_packages::Packages;
use crate::{one_of, REPOSITORY_ROLES};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tokens::Table)
                    .col(pk_uuid(Tokens::Id))
                    .col(string(Tokens::Kind))
                    .col(string(Tokens::Name))
                    .col(uuid_null(Tokens::UserId))
                    .col(uuid_null(Tokens::CreatedBy))
                    .col(string_uniq(Tokens::SecretHash))
                    .col(boolean(Tokens::AllRepositories))
                    .col(timestamp_with_time_zone_null(Tokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Tokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(Tokens::RevokedAt))
                    .col(timestamp_with_time_zone(Tokens::CreatedAt))
                    .check(one_of(Tokens::Kind, &["personal", "deploy"]))
                    // A personal token has an owner; a deploy token belongs to repositories.
                    .check(Expr::cust("(kind = 'personal') = (user_id IS NOT NULL)"))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Tokens::Table, Tokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Tokens::Table, Tokens::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_tokens_user_name")
                    .table(Tokens::Table)
                    .col(Tokens::UserId)
                    .col(Tokens::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TokenRepositories::Table)
                    .col(uuid(TokenRepositories::TokenId))
                    .col(uuid(TokenRepositories::RepositoryId))
                    .primary_key(
                        Index::create()
                            .col(TokenRepositories::TokenId)
                            .col(TokenRepositories::RepositoryId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TokenRepositories::Table, TokenRepositories::TokenId)
                            .to(Tokens::Table, Tokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TokenRepositories::Table, TokenRepositories::RepositoryId)
                            .to(Repositories::Table, Repositories::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

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
                    .foreign_key(
                        ForeignKey::create()
                            .from(TokenPackages::Table, TokenPackages::TokenId)
                            .to(Tokens::Table, Tokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TokenPackages::Table, TokenPackages::PackageId)
                            .to(Packages::Table, Packages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TokenRoles::Table)
                    .col(uuid(TokenRoles::TokenId))
                    .col(string(TokenRoles::Role))
                    .check(one_of(TokenRoles::Role, REPOSITORY_ROLES))
                    .primary_key(
                        Index::create()
                            .col(TokenRoles::TokenId)
                            .col(TokenRoles::Role),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TokenRoles::Table, TokenRoles::TokenId)
                            .to(Tokens::Table, Tokens::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TokenRoles::Table.into_iden(),
            TokenPackages::Table.into_iden(),
            TokenRepositories::Table.into_iden(),
            Tokens::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
    Kind,
    Name,
    UserId,
    CreatedBy,
    SecretHash,
    AllRepositories,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TokenRepositories {
    Table,
    TokenId,
    RepositoryId,
}

#[derive(DeriveIden)]
enum TokenPackages {
    Table,
    TokenId,
    PackageId,
}

#[derive(DeriveIden)]
enum TokenRoles {
    Table,
    TokenId,
    Role,
}
