//! Authentication sources (SSO): the sign-in page's buttons for everyone, their
//! administration for admins. The client secret goes in and never comes out.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::context::Call;
use super::types::{GlobalRole, RepositoryRole};
use crate::auth::sso::Provider;

use crate::db::entities::auth_sources;
use crate::error::Error;
use crate::services::auth_sources::{self as service, SourceInput};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AuthProvider {
    Oidc,
    Github,
    Gitlab,
    Bitbucket,
    Google,
}

impl From<AuthProvider> for Provider {
    fn from(provider: AuthProvider) -> Self {
        match provider {
            AuthProvider::Oidc => Provider::Oidc,
            AuthProvider::Github => Provider::Github,
            AuthProvider::Gitlab => Provider::Gitlab,
            AuthProvider::Bitbucket => Provider::Bitbucket,
            AuthProvider::Google => Provider::Google,
        }
    }
}

impl From<Provider> for AuthProvider {
    fn from(provider: Provider) -> Self {
        match provider {
            Provider::Oidc => AuthProvider::Oidc,
            Provider::Github => AuthProvider::Github,
            Provider::Gitlab => AuthProvider::Gitlab,
            Provider::Bitbucket => AuthProvider::Bitbucket,
            Provider::Google => AuthProvider::Google,
        }
    }
}

/// A way to sign in besides the password form.
#[derive(SimpleObject)]
pub struct SignInMethod {
    pub name: String,
    /// What the button says: the source's display name, or the provider's.
    pub label: String,
    pub provider: AuthProvider,
    /// Where the button goes (add `?return_to=/path` to come back somewhere).
    pub start_url: String,
}

/// A role on a repository given at a user's first sign-in through a source.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "AuthSourceGrantInput")]
pub struct AuthSourceGrant {
    pub repository: String,
    pub role: RepositoryRole,
}

/// Single sign-on through a provider.
#[derive(SimpleObject)]
pub struct AuthSource {
    pub id: ID,
    /// Part of the URLs: `/auth/sso/{name}/…`.
    pub name: String,
    pub display_name: Option<String>,
    pub provider: AuthProvider,
    pub client_id: String,
    /// The OIDC issuer, or the base URL of a self-hosted GitLab or GitHub Enterprise.
    pub issuer_url: Option<String>,
    /// The scopes asked for; empty: the provider's defaults (see `effectiveScopes`).
    pub scopes: Vec<String>,
    pub effective_scopes: Vec<String>,
    pub default_role: GlobalRole,
    pub repository_grants: Vec<AuthSourceGrant>,
    /// Empty: any domain.
    pub allowed_domains: Vec<String>,
    pub allow_registration: bool,
    /// Whether a first sign-in may attach to an existing user with the same verified e-mail.
    pub link_existing: bool,
    pub active: bool,
    /// What to register at the provider as the redirect (callback) URL.
    pub callback_url: String,
    pub start_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(InputObject)]
pub struct AuthSourceInput {
    pub name: String,
    pub display_name: Option<String>,
    pub provider: AuthProvider,
    pub client_id: String,
    /// Required when creating; when updating, leave out to keep the stored secret.
    pub client_secret: Option<String>,
    pub issuer_url: Option<String>,
    #[graphql(default)]
    pub scopes: Vec<String>,
    #[graphql(default_with = "GlobalRole::User")]
    pub default_role: GlobalRole,
    #[graphql(default)]
    pub repository_grants: Vec<AuthSourceGrant>,
    #[graphql(default)]
    pub allowed_domains: Vec<String>,
    #[graphql(default = true)]
    pub allow_registration: bool,
    #[graphql(default)]
    pub link_existing: bool,
    #[graphql(default = true)]
    pub active: bool,
}

impl From<AuthSourceInput> for SourceInput {
    fn from(input: AuthSourceInput) -> Self {
        SourceInput {
            name: input.name.trim().to_owned(),
            display_name: input.display_name,
            provider: input.provider.into(),
            client_id: input.client_id,
            client_secret: input.client_secret,
            issuer_url: input.issuer_url,
            scopes: input.scopes,
            default_role: input.default_role.into(),
            repository_grants: input
                .repository_grants
                .into_iter()
                .map(|g| (g.repository, g.role.into()))
                .collect(),
            allowed_domains: input.allowed_domains,
            allow_registration: input.allow_registration,
            link_existing: input.link_existing,
            active: input.active,
        }
    }
}

fn start_url(base_url: &str, name: &str) -> String {
    format!("{base_url}/auth/sso/{name}/start")
}

async fn to_api(call: &Call<'_>, source: &auth_sources::Model) -> Result<AuthSource> {
    let provider = service::provider_of(source)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("unknown provider {}", source.provider)))?;
    let mut repository_grants = Vec::new();
    for grant in service::grants_of(source) {
        // A repository deleted since is passed over.
        let Some(repository) =
            crate::services::repositories::find_by_id(&call.state.db, grant.repository_id).await?
        else {
            continue;
        };
        let Ok(role) = grant.role.parse::<packistry_shared::RepositoryRole>() else {
            continue;
        };
        repository_grants.push(AuthSourceGrant {
            repository: repository.name,
            role: role.into(),
        });
    }
    let base_url = &call.state.base_url;
    Ok(AuthSource {
        id: ID(source.id.to_string()),
        name: source.name.clone(),
        display_name: source.display_name.clone(),
        provider: provider.into(),
        client_id: source.client_id.clone(),
        issuer_url: source.issuer_url.clone(),
        scopes: service::scopes_of(source),
        effective_scopes: service::effective_scopes(source, provider),
        default_role: source
            .default_role
            .parse::<packistry_shared::GlobalRole>()
            .unwrap_or(packistry_shared::GlobalRole::User)
            .into(),
        repository_grants,
        allowed_domains: service::allowed_domains_of(source),
        allow_registration: source.allow_registration,
        link_existing: source.link_existing,
        active: source.active,
        callback_url: service::callback_url(base_url, &source.name),
        start_url: start_url(base_url, &source.name),
        created_at: source.created_at,
        updated_at: source.updated_at,
    })
}

fn source_id(id: &ID) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::not_found("no such authentication source"))
}

#[derive(Default)]
pub struct AuthSourceQuery;

#[Object]
impl AuthSourceQuery {
    /// The active authentication sources, for the sign-in page (anyone).
    async fn sign_in_methods(&self, ctx: &Context<'_>) -> Result<Vec<SignInMethod>> {
        let call = Call::of(ctx)?;
        let sources = service::list_active(&call.state.db).await?;
        Ok(sources
            .iter()
            .filter_map(|source| {
                let provider = service::provider_of(source)?;
                Some(SignInMethod {
                    name: source.name.clone(),
                    label: source
                        .display_name
                        .clone()
                        .unwrap_or_else(|| provider.label().to_owned()),
                    provider: provider.into(),
                    start_url: start_url(&call.state.base_url, &source.name),
                })
            })
            .collect())
    }

    /// Every authentication source (admins).
    async fn auth_sources(&self, ctx: &Context<'_>) -> Result<Vec<AuthSource>> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let mut sources = Vec::new();
        for source in service::list(&call.state.db).await? {
            sources.push(to_api(&call, &source).await?);
        }
        Ok(sources)
    }
}

#[derive(Default)]
pub struct AuthSourceMutation;

#[Object]
impl AuthSourceMutation {
    /// Add a way to sign in (admins). The client secret is stored encrypted.
    async fn create_auth_source(
        &self,
        ctx: &Context<'_>,
        input: AuthSourceInput,
    ) -> Result<AuthSource> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let source = service::create(
            &call.state.db,
            &call.state.secret_key,
            &call.actor(),
            input.into(),
        )
        .await?;
        to_api(&call, &source).await
    }

    /// Change a source (admins). Leave `clientSecret` out to keep the stored one.
    async fn update_auth_source(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: AuthSourceInput,
    ) -> Result<AuthSource> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let source = service::update(
            &call.state.db,
            &call.state.secret_key,
            &call.actor(),
            source_id(&id)?,
            input.into(),
        )
        .await?;
        to_api(&call, &source).await
    }

    /// Turn sign-in through a source on or off (admins). The personal and deploy tokens of
    /// its users keep working.
    async fn set_auth_source_active(
        &self,
        ctx: &Context<'_>,
        id: ID,
        active: bool,
    ) -> Result<AuthSource> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let source =
            service::set_active(&call.state.db, &call.actor(), source_id(&id)?, active).await?;
        to_api(&call, &source).await
    }

    /// Remove a source (admins). Its users and their tokens stay.
    async fn delete_auth_source(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        service::delete(&call.state.db, &call.actor(), source_id(&id)?).await?;
        Ok(true)
    }
}
