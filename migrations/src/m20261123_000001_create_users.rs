//! Users, groups and their members, browser sessions, and the authentication sources
//! (SSO) users may come from.

use sea_orm_migration::{prelude::*, schema::*};

use crate::{one_of, GLOBAL_ROLES};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthSources::Table)
                    .col(pk_uuid(AuthSources::Id))
                    .col(string_uniq(AuthSources::Name))
                    .col(string(AuthSources::Provider))
                    .col(string(AuthSources::ClientId))
                    .col(text(AuthSources::ClientSecretEncrypted))
                    .col(string_null(AuthSources::IssuerUrl))
                    .col(json(AuthSources::Scopes))
                    .col(string(AuthSources::DefaultRole))
                    .col(json(AuthSources::AllowedDomains))
                    .col(boolean(AuthSources::AllowRegistration))
                    .col(boolean(AuthSources::Active))
                    .col(timestamp_with_time_zone(AuthSources::CreatedAt))
                    .col(timestamp_with_time_zone(AuthSources::UpdatedAt))
                    .check(one_of(
                        AuthSources::Provider,
                        &["oidc", "github", "gitlab", "bitbucket", "google"],
                    ))
                    .check(one_of(AuthSources::DefaultRole, GLOBAL_ROLES))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_uniq(Users::Email))
                    .col(string(Users::DisplayName))
                    .col(string_null(Users::PasswordHash))
                    .col(string(Users::GlobalRole))
                    .col(boolean(Users::Active))
                    .col(uuid_null(Users::AuthSourceId))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .check(one_of(Users::GlobalRole, GLOBAL_ROLES))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Users::Table, Users::AuthSourceId)
                            .to(AuthSources::Table, AuthSources::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(pk_uuid(Groups::Id))
                    .col(string_uniq(Groups::Name))
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupMembers::Table)
                    .col(uuid(GroupMembers::GroupId))
                    .col(uuid(GroupMembers::UserId))
                    .col(boolean(GroupMembers::Maintainer))
                    .col(timestamp_with_time_zone(GroupMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(GroupMembers::GroupId)
                            .col(GroupMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GroupMembers::Table, GroupMembers::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(GroupMembers::Table, GroupMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_group_members_user")
                    .table(GroupMembers::Table)
                    .col(GroupMembers::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(string_uniq(Sessions::SecretHash))
                    .col(uuid(Sessions::UserId))
                    .col(string(Sessions::CsrfToken))
                    .col(string_null(Sessions::Address))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Sessions::Table.into_iden(),
            GroupMembers::Table.into_iden(),
            Groups::Table.into_iden(),
            Users::Table.into_iden(),
            AuthSources::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
pub(crate) enum AuthSources {
    Table,
    Id,
    Name,
    Provider,
    ClientId,
    ClientSecretEncrypted,
    IssuerUrl,
    Scopes,
    DefaultRole,
    AllowedDomains,
    AllowRegistration,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    GlobalRole,
    Active,
    AuthSourceId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum Groups {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
    UserId,
    Maintainer,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    SecretHash,
    UserId,
    CsrfToken,
    Address,
    CreatedAt,
    ExpiresAt,
}
