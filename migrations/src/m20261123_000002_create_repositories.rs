//! Repositories and the roles granted on them to users and groups, directly or through
//! an authentication source at first sign-in.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::{AuthSources, Groups, Users};
use crate::{one_of, REPOSITORY_ROLES};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Repositories::Table)
                    .col(pk_uuid(Repositories::Id))
                    .col(string_uniq(Repositories::Name))
                    .col(string(Repositories::Format))
                    .col(string(Repositories::Visibility))
                    .col(text(Repositories::Description))
                    .col(timestamp_with_time_zone(Repositories::CreatedAt))
                    .col(timestamp_with_time_zone(Repositories::UpdatedAt))
                    .check(one_of(
                        Repositories::Format,
                        &["composer", "maven", "container", "npm", "cargo", "pypi"],
                    ))
                    .check(one_of(Repositories::Visibility, &["public", "private"]))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RepositoryGrants::Table)
                    .col(pk_uuid(RepositoryGrants::Id))
                    .col(uuid(RepositoryGrants::RepositoryId))
                    .col(uuid_null(RepositoryGrants::UserId))
                    .col(uuid_null(RepositoryGrants::GroupId))
                    .col(string(RepositoryGrants::Role))
                    .col(timestamp_with_time_zone(RepositoryGrants::CreatedAt))
                    .check(one_of(RepositoryGrants::Role, REPOSITORY_ROLES))
                    // A grant is to a user or to a group, never both, never neither.
                    .check(Expr::cust("(user_id IS NULL) <> (group_id IS NULL)"))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RepositoryGrants::Table, RepositoryGrants::RepositoryId)
                            .to(Repositories::Table, Repositories::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RepositoryGrants::Table, RepositoryGrants::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RepositoryGrants::Table, RepositoryGrants::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("uq_repository_grants_user", RepositoryGrants::UserId),
            ("uq_repository_grants_group", RepositoryGrants::GroupId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RepositoryGrants::Table)
                        .col(RepositoryGrants::RepositoryId)
                        .col(column)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuthSourceRepositories::Table)
                    .col(uuid(AuthSourceRepositories::AuthSourceId))
                    .col(uuid(AuthSourceRepositories::RepositoryId))
                    .col(string(AuthSourceRepositories::Role))
                    .check(one_of(AuthSourceRepositories::Role, REPOSITORY_ROLES))
                    .primary_key(
                        Index::create()
                            .col(AuthSourceRepositories::AuthSourceId)
                            .col(AuthSourceRepositories::RepositoryId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                AuthSourceRepositories::Table,
                                AuthSourceRepositories::AuthSourceId,
                            )
                            .to(AuthSources::Table, AuthSources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                AuthSourceRepositories::Table,
                                AuthSourceRepositories::RepositoryId,
                            )
                            .to(Repositories::Table, Repositories::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuthSourceRepositories::Table.into_iden(),
            RepositoryGrants::Table.into_iden(),
            Repositories::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum Repositories {
    Table,
    Id,
    Name,
    Format,
    Visibility,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RepositoryGrants {
    Table,
    Id,
    RepositoryId,
    UserId,
    GroupId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuthSourceRepositories {
    Table,
    AuthSourceId,
    RepositoryId,
    Role,
}
