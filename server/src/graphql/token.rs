//! Personal and deploy tokens. Secrets are returned once, by the create mutations.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use packistry_shared::permissions::Permission;

use super::context::Call;
use super::types::RepositoryRole;
use crate::db::entities::tokens;
use crate::error::Error;
use crate::services::access::PackageScope;
use crate::services::tokens::{self as service, NewToken};

#[derive(SimpleObject)]
pub struct Token {
    pub id: ID,
    pub name: String,
    /// PERSONAL or DEPLOY, as a word: `personal` or `deploy`.
    pub kind: String,
    pub all_repositories: bool,
    pub repositories: Vec<String>,
    /// The package names a deploy token is limited to (empty: every package).
    pub packages: Vec<String>,
    pub roles: Vec<RepositoryRole>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub(super) async fn token_view(call: &Call<'_>, row: &tokens::Model) -> Result<Token, Error> {
    let scope = service::scope_of(&call.state.db, row).await?;
    let names =
        crate::services::repositories::names_of(&call.state.db, &scope.repository_ids).await?;
    Ok(Token {
        id: ID(row.id.to_string()),
        name: row.name.clone(),
        kind: row.kind.clone(),
        all_repositories: row.all_repositories,
        repositories: names,
        packages: scope.package_names.clone(),
        roles: scope
            .roles
            .iter()
            .map(|r| RepositoryRole::from(*r))
            .collect(),
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        revoked_at: row.revoked_at,
        created_at: row.created_at,
    })
}

/// A new token and its secret: shown this once, never again.
#[derive(SimpleObject)]
pub struct CreatedToken {
    pub token: Token,
    pub secret: String,
}

#[derive(InputObject)]
pub struct CreatePersonalTokenInput {
    pub name: String,
    /// Repositories covered; omit (null) for all repositories.
    pub repositories: Option<Vec<String>>,
    pub roles: Vec<RepositoryRole>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct CreateDeployTokenInput {
    pub name: String,
    pub repositories: Vec<String>,
    /// Limit the token to these packages of its repositories.
    #[graphql(default)]
    pub packages: Vec<String>,
    pub roles: Vec<RepositoryRole>,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct TokenQuery;

#[Object]
impl TokenQuery {
    /// The caller's personal tokens, newest first, with their last use.
    async fn my_tokens(&self, ctx: &Context<'_>) -> Result<Vec<Token>> {
        let call = Call::of(ctx)?;
        let user = call.require_account()?;
        let mut views = Vec::new();
        for row in service::list_personal(&call.state.db, user.id).await? {
            views.push(token_view(&call, &row).await?);
        }
        Ok(views)
    }

    /// Deploy tokens of a repository (its administrators).
    async fn deploy_tokens(&self, ctx: &Context<'_>, repository: String) -> Result<Vec<Token>> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let repo =
            crate::services::repositories::visible(&call.state.db, &access, &repository).await?;
        access.check(&repo, PackageScope::Repository, &[Permission::Administer])?;
        let mut views = Vec::new();
        for row in service::list_deploy_for_repository(&call.state.db, repo.id).await? {
            views.push(token_view(&call, &row).await?);
        }
        Ok(views)
    }
}

#[derive(Default)]
pub struct TokenMutation;

#[Object]
impl TokenMutation {
    /// Create a personal token for the caller (a browser session, or a personal token that
    /// nothing narrows). Its scope can only narrow the caller's rights, and a token cannot
    /// outlive the token that creates it.
    async fn create_personal_token(
        &self,
        ctx: &Context<'_>,
        input: CreatePersonalTokenInput,
    ) -> Result<CreatedToken> {
        let call = Call::of(ctx)?;
        let user = call.require_account()?;
        let access = call.access().await?;
        let created = service::create_personal(
            &call.state.db,
            &call.actor(),
            &access,
            user.id,
            &user.email,
            NewToken {
                name: input.name,
                repositories: input.repositories,
                packages: vec![],
                roles: input.roles.into_iter().map(Into::into).collect(),
                expires_at: input.expires_at,
            },
        )
        .await?;
        Ok(CreatedToken {
            token: token_view(&call, &created.token).await?,
            secret: created.secret,
        })
    }

    /// Create a deploy token for repositories the caller administers.
    async fn create_deploy_token(
        &self,
        ctx: &Context<'_>,
        input: CreateDeployTokenInput,
    ) -> Result<CreatedToken> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        let access = call.access().await?;
        let created = service::create_deploy(
            &call.state.db,
            &call.actor(),
            &access,
            NewToken {
                name: input.name,
                repositories: Some(input.repositories),
                packages: input.packages,
                roles: input.roles.into_iter().map(Into::into).collect(),
                expires_at: input.expires_at,
            },
        )
        .await?;
        Ok(CreatedToken {
            token: token_view(&call, &created.token).await?,
            secret: created.secret,
        })
    }

    /// Revoke a token: one's own personal token, or a deploy token of a repository one
    /// administers; a token may always revoke itself. It stops working within seconds on
    /// every replica.
    async fn revoke_token(&self, ctx: &Context<'_>, id: ID) -> Result<Token> {
        let call = Call::of(ctx)?;
        let id = uuid::Uuid::parse_str(&id).map_err(|_| Error::not_found("no such token"))?;
        // Any token may revoke itself (it only gives up rights); revoking others acts on
        // the account.
        if call.request.principal.token().map(|t| t.id) != Some(id) {
            call.require_account()?;
        }
        let access = call.access().await?;
        let row = service::revoke(&call.state.db, &call.actor(), &access, id).await?;
        call.state.forget_tokens();
        Ok(token_view(&call, &row).await?)
    }
}
