//! Single sign-on: what an authentication source grants at first sign-in and whether it may
//! link to an existing account; the sign-in flows in progress (kept server-side, so any
//! replica can finish a flow another one started); and the identities users signed in with.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            string_null(AuthSources::DisplayName),
            json_null(AuthSources::RepositoryGrants),
            boolean(AuthSources::LinkExisting).default(false).to_owned(),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(AuthSources::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(SsoFlows::Table)
                    .col(pk_uuid(SsoFlows::Id))
                    .col(string_uniq(SsoFlows::StateHash))
                    .col(uuid(SsoFlows::SourceId))
                    .col(text(SsoFlows::PkceVerifierEncrypted))
                    .col(string(SsoFlows::Nonce))
                    .col(string(SsoFlows::ReturnTo))
                    .col(timestamp_with_time_zone(SsoFlows::CreatedAt))
                    .col(timestamp_with_time_zone(SsoFlows::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SsoFlows::Table, SsoFlows::SourceId)
                            .to(AuthSources::Table, AuthSources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserIdentities::Table)
                    .col(pk_uuid(UserIdentities::Id))
                    .col(uuid(UserIdentities::SourceId))
                    .col(string(UserIdentities::Subject))
                    .col(uuid(UserIdentities::UserId))
                    .col(string(UserIdentities::Email))
                    .col(timestamp_with_time_zone(UserIdentities::CreatedAt))
                    .col(timestamp_with_time_zone(UserIdentities::LastSignInAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserIdentities::Table, UserIdentities::SourceId)
                            .to(AuthSources::Table, AuthSources::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserIdentities::Table, UserIdentities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("user_identities_source_subject")
                    .table(UserIdentities::Table)
                    .col(UserIdentities::SourceId)
                    .col(UserIdentities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserIdentities::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SsoFlows::Table).to_owned())
            .await?;
        for column in [
            AuthSources::DisplayName,
            AuthSources::RepositoryGrants,
            AuthSources::LinkExisting,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuthSources::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AuthSources {
    Table,
    Id,
    DisplayName,
    RepositoryGrants,
    LinkExisting,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum SsoFlows {
    Table,
    Id,
    StateHash,
    SourceId,
    PkceVerifierEncrypted,
    Nonce,
    ReturnTo,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum UserIdentities {
    Table,
    Id,
    SourceId,
    Subject,
    UserId,
    Email,
    CreatedAt,
    LastSignInAt,
}
