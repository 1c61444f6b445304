//! Authorization: the facts the permission engine needs, loaded once per request, and one
//! readable call per check.

use std::collections::HashMap;

use packistry_shared::permissions::{
    decide, effective_permissions, Caller, Decision, Permission, PermissionSet, TokenFacts,
    UserFacts,
};
use packistry_shared::RepositoryRole;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::auth::principal::{TokenScope, UserPrincipal};
use crate::auth::Principal;
use crate::db::entities::{group_members, repositories, repository_grants};
use crate::error::{Error, Result};

/// Which package a question is about.
#[derive(Debug, Clone, Copy)]
pub enum PackageScope<'a> {
    /// The repository as a whole (listing, settings).
    Repository,
    /// One package by name, published already or not yet.
    Package(&'a str),
}

/// A user's grants on every repository: direct, and through each group.
#[derive(Debug, Default, Clone)]
pub struct UserGrants {
    pub direct: HashMap<Uuid, RepositoryRole>,
    pub via_groups: HashMap<Uuid, Vec<RepositoryRole>>,
}

pub async fn user_grants(db: &impl ConnectionTrait, user_id: Uuid) -> Result<UserGrants> {
    let mut grants = UserGrants::default();
    for grant in repository_grants::Entity::find()
        .filter(repository_grants::Column::UserId.eq(user_id))
        .all(db)
        .await?
    {
        if let Some(role) = grant.role() {
            grants.direct.insert(grant.repository_id, role);
        }
    }
    let group_ids: Vec<Uuid> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::GroupId)
        .filter(group_members::Column::UserId.eq(user_id))
        .into_tuple()
        .all(db)
        .await?;
    if !group_ids.is_empty() {
        for grant in repository_grants::Entity::find()
            .filter(repository_grants::Column::GroupId.is_in(group_ids))
            .all(db)
            .await?
        {
            if let Some(role) = grant.role() {
                grants
                    .via_groups
                    .entry(grant.repository_id)
                    .or_default()
                    .push(role);
            }
        }
    }
    Ok(grants)
}

/// Who is calling, with what the engine needs to judge them on any repository.
#[derive(Debug, Clone)]
pub struct Access {
    pub principal: Principal,
    grants: std::sync::Arc<UserGrants>,
}

/// Recently loaded grants per user, for the protocol routes' hot paths. Entries live
/// [`crate::auth::token::CACHE_TTL`]: a role change reaches every replica's protocol routes
/// within that time, as a token revocation or a deactivation does. GraphQL reads uncached.
pub type GrantsCache = moka::future::Cache<Uuid, std::sync::Arc<UserGrants>>;

pub fn new_grants_cache() -> GrantsCache {
    moka::future::Cache::builder()
        .max_capacity(10_000)
        .time_to_live(crate::auth::token::CACHE_TTL)
        .build()
}

impl Access {
    /// The server's operator at its command line ([`Principal::System`]): every
    /// permission on every repository. Services take it where a request's caller would be,
    /// so no service has a path that skips the checks.
    pub fn system() -> Access {
        Access {
            principal: Principal::System,
            grants: std::sync::Arc::default(),
        }
    }

    pub fn is_system(&self) -> bool {
        matches!(self.principal, Principal::System)
    }

    /// As [`Access::load`], with the user's grants from `cache` when fresh.
    pub async fn load_cached(
        db: &impl ConnectionTrait,
        cache: &GrantsCache,
        principal: Principal,
    ) -> Result<Access> {
        let grants = match principal.user() {
            Some(user) => match cache.get(&user.id).await {
                Some(grants) => grants,
                None => {
                    let grants = std::sync::Arc::new(user_grants(db, user.id).await?);
                    cache.insert(user.id, grants.clone()).await;
                    grants
                }
            },
            None => std::sync::Arc::default(),
        };
        Ok(Access { principal, grants })
    }

    pub async fn load(db: &impl ConnectionTrait, principal: Principal) -> Result<Access> {
        let grants = match principal.user() {
            Some(user) => std::sync::Arc::new(user_grants(db, user.id).await?),
            None => std::sync::Arc::default(),
        };
        Ok(Access { principal, grants })
    }

    fn user_facts(&self, user: &UserPrincipal, repository_id: Uuid) -> UserFacts {
        UserFacts {
            global_role: user.global_role,
            active: user.active,
            direct_role: self.grants.direct.get(&repository_id).copied(),
            group_roles: self
                .grants
                .via_groups
                .get(&repository_id)
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn token_facts(token: &TokenScope, repository_id: Uuid, package: PackageScope) -> TokenFacts {
        let package_allowed = if token.package_names.is_empty() {
            None
        } else {
            match package {
                PackageScope::Repository => None,
                PackageScope::Package(name) => {
                    Some(token.package_names.iter().any(|allowed| allowed == name))
                }
            }
        };
        TokenFacts {
            covers_repository: token.covers(repository_id),
            permitted_roles: token.roles.clone(),
            package_allowed,
            expired: token.expires_at.is_some_and(|at| at <= chrono::Utc::now()),
            revoked: token.revoked,
        }
    }

    /// The caller as the permission engine sees it. The system principal never reaches
    /// the engine ([`Access::permissions`] and [`Access::check`] allow it first); here it is
    /// an anonymous caller, which may do least.
    pub fn caller(&self, repository_id: Uuid, package: PackageScope) -> Caller {
        match &self.principal {
            Principal::Anonymous | Principal::System => Caller::Anonymous,
            Principal::Session { user, .. } => Caller::User(self.user_facts(user, repository_id)),
            Principal::PersonalToken { user, token } => Caller::PersonalToken {
                owner: self.user_facts(user, repository_id),
                token: Self::token_facts(token, repository_id, package),
            },
            Principal::DeployToken { token } => {
                Caller::DeployToken(Self::token_facts(token, repository_id, package))
            }
        }
    }

    pub fn permissions(
        &self,
        repository: &repositories::Model,
        package: PackageScope,
    ) -> PermissionSet {
        if self.is_system() {
            return PermissionSet::all();
        }
        effective_permissions(
            &self.caller(repository.id, package),
            repository.visibility(),
        )
    }

    /// The role the caller holds on a repository, as a user (sessions and personal tokens).
    pub fn role_on(&self, repository_id: Uuid) -> Option<RepositoryRole> {
        self.principal
            .user()
            .and_then(|user| self.user_facts(user, repository_id).role())
    }

    /// Allow, or the error to answer with (401, 403, or a 404 identical to "no such
    /// repository").
    pub fn check(
        &self,
        repository: &repositories::Model,
        package: PackageScope,
        needed: &[Permission],
    ) -> Result<()> {
        if self.is_system() {
            return Ok(());
        }
        let caller = self.caller(repository.id, package);
        let granted = effective_permissions(&caller, repository.visibility());
        match decide(
            &caller,
            repository.visibility(),
            granted,
            PermissionSet::of(needed),
        ) {
            Decision::Allow => Ok(()),
            Decision::Unauthenticated => Err(Error::unauthenticated(SIGN_IN)),
            Decision::Forbidden => Err(Error::forbidden(format!(
                "you may not {} on repository {}",
                describe(needed),
                repository.name
            ))),
            Decision::NotFound => Err(repository_not_found(&repository.name)),
        }
    }
}

impl Access {
    /// The answer for a repository name that names nothing: exactly what a private
    /// repository the caller may not see answers (401 with the challenge for anonymous
    /// callers, the same 404 for everyone else), so nobody learns which names exist.
    pub fn unknown_repository(&self, name: &str) -> Error {
        if matches!(self.principal, Principal::Anonymous) {
            Error::unauthenticated(SIGN_IN)
        } else {
            repository_not_found(name)
        }
    }
}

const SIGN_IN: &str = "sign in or send a token to do this";

/// The one answer for a repository that does not exist or may not be seen.
pub fn repository_not_found(name: &str) -> Error {
    Error::not_found(format!("no repository named {name}"))
}

fn describe(needed: &[Permission]) -> String {
    needed
        .iter()
        .map(|p| match p {
            Permission::Upload => "upload",
            Permission::Download => "download",
            Permission::List => "list packages",
            Permission::ViewGrants => "view grants",
            Permission::Administer => "administer",
        })
        .collect::<Vec<_>>()
        .join(" and ")
}
