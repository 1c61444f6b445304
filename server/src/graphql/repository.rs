//! Repositories and grants.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use packistry_shared::permissions::Permission as EnginePermission;

use super::context::Call;
use super::types::{RepositoryRole, User};
use crate::db::entities::repositories;
use crate::services::access::{Access, PackageScope};
use crate::services::repositories::{
    self as service, GranteeName, NewRepository, RepositoryChanges,
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Composer,
    Maven,
    Container,
    Npm,
    Cargo,
    Pypi,
}

impl From<Format> for packistry_shared::Format {
    fn from(f: Format) -> Self {
        use packistry_shared::Format as F;
        match f {
            Format::Composer => F::Composer,
            Format::Maven => F::Maven,
            Format::Container => F::Container,
            Format::Npm => F::Npm,
            Format::Cargo => F::Cargo,
            Format::Pypi => F::Pypi,
        }
    }
}

impl From<packistry_shared::Format> for Format {
    fn from(f: packistry_shared::Format) -> Self {
        use packistry_shared::Format as F;
        match f {
            F::Composer => Format::Composer,
            F::Maven => Format::Maven,
            F::Container => Format::Container,
            F::Npm => Format::Npm,
            F::Cargo => Format::Cargo,
            F::Pypi => Format::Pypi,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Private,
}

impl From<Visibility> for packistry_shared::Visibility {
    fn from(v: Visibility) -> Self {
        match v {
            Visibility::Public => packistry_shared::Visibility::Public,
            Visibility::Private => packistry_shared::Visibility::Private,
        }
    }
}

impl From<packistry_shared::Visibility> for Visibility {
    fn from(v: packistry_shared::Visibility) -> Self {
        match v {
            packistry_shared::Visibility::Public => Visibility::Public,
            packistry_shared::Visibility::Private => Visibility::Private,
        }
    }
}

/// One thing a caller may do on a repository.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Permission {
    Upload,
    Download,
    List,
    ViewGrants,
    Administer,
}

impl From<EnginePermission> for Permission {
    fn from(p: EnginePermission) -> Self {
        match p {
            EnginePermission::Upload => Permission::Upload,
            EnginePermission::Download => Permission::Download,
            EnginePermission::List => Permission::List,
            EnginePermission::ViewGrants => Permission::ViewGrants,
            EnginePermission::Administer => Permission::Administer,
        }
    }
}

/// A repository as the caller sees it, with what they may do there.
#[derive(SimpleObject, Clone)]
pub struct Repository {
    pub id: ID,
    pub name: String,
    pub format: Format,
    pub visibility: Visibility,
    pub description: String,
    pub created_at: DateTime<Utc>,
    /// The caller's effective permissions here (what the SPA offers).
    pub permissions: Vec<Permission>,
    /// The caller's own role here, as a user, if any.
    pub my_role: Option<RepositoryRole>,
    /// Maven: how many builds of each SNAPSHOT version are kept (null: all).
    pub snapshot_retention: Option<i32>,
    /// Containers: whether administrators may delete manifests, tags and blobs.
    pub allow_deletes: bool,
}

impl Repository {
    pub fn new(row: &repositories::Model, access: &Access) -> Repository {
        Repository {
            id: ID(row.id.to_string()),
            name: row.name.clone(),
            format: row.format().map(Format::from).unwrap_or(Format::Composer),
            visibility: row.visibility().into(),
            description: row.description.clone(),
            created_at: row.created_at,
            permissions: access
                .permissions(row, PackageScope::Repository)
                .iter()
                .map(Permission::from)
                .collect(),
            my_role: access.role_on(row.id).map(RepositoryRole::from),
            snapshot_retention: row.snapshot_retention,
            allow_deletes: row.allow_deletes,
        }
    }
}

/// A role given on a repository to a user or a group.
#[derive(SimpleObject)]
pub struct Grant {
    pub role: RepositoryRole,
    pub user: Option<User>,
    pub group: Option<super::group::Group>,
}

#[derive(InputObject)]
pub struct CreateRepositoryInput {
    pub name: String,
    pub format: Format,
    /// Default: private.
    pub visibility: Option<Visibility>,
    pub description: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateRepositoryInput {
    pub name: String,
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
    /// Maven: keep the last N builds of each SNAPSHOT version (older builds are removed after
    /// each deploy); null keeps every build. Omitted: unchanged.
    pub snapshot_retention: async_graphql::MaybeUndefined<i32>,
    /// Containers: whether administrators may delete manifests, tags and blobs (405 when not).
    pub allow_deletes: Option<bool>,
}

/// Whom a role is granted to: exactly one of `userEmail` and `groupName`.
#[derive(InputObject)]
pub struct GranteeInput {
    pub user_email: Option<String>,
    pub group_name: Option<String>,
}

impl GranteeInput {
    fn name(&self) -> Result<GranteeName<'_>, crate::error::Error> {
        match (&self.user_email, &self.group_name) {
            (Some(email), None) => Ok(GranteeName::User(email)),
            (None, Some(group)) => Ok(GranteeName::Group(group)),
            _ => Err(crate::error::Error::bad_input(
                "grantee: give exactly one of userEmail and groupName",
            )),
        }
    }
}

#[derive(Default)]
pub struct RepositoryQuery;

#[Object]
impl RepositoryQuery {
    /// Repositories the caller may see, by name.
    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let rows = service::list_visible(&call.state.db, &access).await?;
        Ok(rows.iter().map(|r| Repository::new(r, &access)).collect())
    }

    /// One repository by name; NOT_FOUND when it does not exist or may not be seen.
    async fn repository(&self, ctx: &Context<'_>, name: String) -> Result<Repository> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let row = service::visible(&call.state.db, &access, &name).await?;
        Ok(Repository::new(&row, &access))
    }

    /// Who holds which role on a repository (administrators and developers may look).
    async fn grants(&self, ctx: &Context<'_>, repository: String) -> Result<Vec<Grant>> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let grants = service::list_grants(&call.state.db, &access, &repository).await?;
        Ok(grants
            .into_iter()
            .map(|g| Grant {
                role: g.role.into(),
                user: g.user.as_ref().map(User::from),
                group: g.group.as_ref().map(super::group::Group::from),
            })
            .collect())
    }
}

#[derive(Default)]
pub struct RepositoryMutation;

#[Object]
impl RepositoryMutation {
    /// Create a repository (admins and developers); the creator becomes its administrator.
    async fn create_repository(
        &self,
        ctx: &Context<'_>,
        input: CreateRepositoryInput,
    ) -> Result<Repository> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        let access = call.access().await?;
        let row = service::create(
            &call.state.db,
            &call.actor(),
            &access,
            NewRepository {
                name: input.name,
                format: input.format.into(),
                visibility: input.visibility.unwrap_or(Visibility::Private).into(),
                description: input.description.unwrap_or_default(),
            },
        )
        .await?;
        let access = call.access().await?;
        call.state.forget_access_caches();
        Ok(Repository::new(&row, &access))
    }

    /// Edit a repository's description or visibility (its administrators).
    async fn update_repository(
        &self,
        ctx: &Context<'_>,
        input: UpdateRepositoryInput,
    ) -> Result<Repository> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let row = service::update(
            &call.state.db,
            &call.actor(),
            &access,
            &input.name,
            RepositoryChanges {
                description: input.description,
                visibility: input.visibility.map(Into::into),
                snapshot_retention: match input.snapshot_retention {
                    async_graphql::MaybeUndefined::Undefined => None,
                    async_graphql::MaybeUndefined::Null => Some(None),
                    async_graphql::MaybeUndefined::Value(n) => Some(Some(n)),
                },
                allow_deletes: input.allow_deletes,
            },
        )
        .await?;
        call.state.forget_access_caches();
        Ok(Repository::new(&row, &access))
    }

    /// Delete a repository and everything in it (its administrators).
    async fn delete_repository(&self, ctx: &Context<'_>, name: String) -> Result<bool> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        service::delete(&call.state.db, &call.actor(), &access, &name).await?;
        call.state.forget_access_caches();
        Ok(true)
    }

    /// Grant a role on a repository, replacing the grantee's earlier role (administrators).
    async fn grant_role(
        &self,
        ctx: &Context<'_>,
        repository: String,
        grantee: GranteeInput,
        role: RepositoryRole,
    ) -> Result<bool> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        service::grant(
            &call.state.db,
            &call.actor(),
            &access,
            &repository,
            grantee.name()?,
            role.into(),
        )
        .await?;
        call.state.forget_access_caches();
        Ok(true)
    }

    /// Take a grantee's role on a repository away (administrators).
    async fn revoke_role(
        &self,
        ctx: &Context<'_>,
        repository: String,
        grantee: GranteeInput,
    ) -> Result<bool> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        service::revoke(
            &call.state.db,
            &call.actor(),
            &access,
            &repository,
            grantee.name()?,
        )
        .await?;
        call.state.forget_access_caches();
        Ok(true)
    }
}
