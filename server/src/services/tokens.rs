//! Personal (`pkpat-…`) and deploy (`pkdt-…`) tokens: creation (the secret is returned
//! once), listing, revocation, and loading a token's scope.

use chrono::{DateTime, Utc};
use packistry_shared::permissions::Permission;
use packistry_shared::RepositoryRole;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::access::{Access, PackageScope};
use super::audit::{self, Actor, Target};
use crate::auth::principal::TokenScope;
use crate::auth::{hash_secret, random_secret};
use crate::db::entities::{
    repositories, token_package_names, token_repositories, token_roles, tokens,
};
use crate::error::{is_unique_violation, Error, Result};

pub use crate::auth::token::{scope_of, DEPLOY_PREFIX, PERSONAL_PREFIX};

pub struct NewToken {
    pub name: String,
    /// `None`: all repositories (personal tokens only).
    pub repositories: Option<Vec<String>>,
    /// Package names, each within one of the repositories (deploy tokens).
    pub packages: Vec<String>,
    pub roles: Vec<RepositoryRole>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A created token and its secret, which is not stored and cannot be shown again.
pub struct CreatedToken {
    pub token: tokens::Model,
    pub secret: String,
}

/// The most package names one deploy token may be limited to: lists filter by them in the
/// query, in one bounded `IN`.
pub const MAX_PACKAGE_NAMES: usize = 1000;

fn validate(new: &NewToken) -> Result<()> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(Error::bad_input(
            "name: a token name is 1 to 100 characters",
        ));
    }
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(Error::bad_input(
            "expiresAt: the expiry must be in the future",
        ));
    }
    if new.packages.len() > MAX_PACKAGE_NAMES {
        return Err(Error::bad_input(format!(
            "packages: a token is limited to at most {MAX_PACKAGE_NAMES} packages"
        )));
    }
    for package in &new.packages {
        let package = package.trim();
        if package.is_empty()
            || package.len() > 255
            || package.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::bad_input(format!(
                "packages: {package:?} is not a package name (1 to 255 characters, no spaces)"
            )));
        }
    }
    Ok(())
}

/// A token minted by another token must lie within the minting token's scope: covered
/// repositories, permissions, package limit and expiry.
fn within_scope(
    parent: &TokenScope,
    new: &NewToken,
    repositories: &[repositories::Model],
) -> Result<()> {
    let outside = |what: &str| {
        Err(Error::forbidden(format!(
            "{what}: a token can only create tokens within its own scope (token {})",
            parent.name
        )))
    };
    if !parent.all_repositories
        && (new.repositories.is_none() || repositories.iter().any(|r| !parent.covers(r.id)))
    {
        return outside("repositories");
    }
    let permitted = |roles: &[RepositoryRole]| {
        roles.iter().fold(
            packistry_shared::permissions::PermissionSet::NONE,
            |set, role| set.union(role.permissions()),
        )
    };
    if !permitted(&parent.roles).contains_all(permitted(&new.roles)) {
        return outside("roles");
    }
    if !parent.package_names.is_empty()
        && (new.packages.is_empty()
            || new
                .packages
                .iter()
                .any(|p| !parent.package_names.iter().any(|q| q == p.trim())))
    {
        return outside("packages");
    }
    if let Some(limit) = parent.expires_at {
        if new.expires_at.is_none_or(|at| at > limit) {
            return Err(Error::forbidden(format!(
                "expiresAt: a token cannot outlive the token that creates it (token {} expires {})",
                parent.name,
                limit.to_rfc3339()
            )));
        }
    }
    Ok(())
}

async fn repositories_named(
    db: &impl ConnectionTrait,
    names: &[String],
) -> Result<Vec<repositories::Model>> {
    let found = repositories::Entity::find()
        .filter(repositories::Column::Name.is_in(names.iter().cloned()))
        .all(db)
        .await?;
    if let Some(missing) = names.iter().find(|n| !found.iter().any(|r| &r.name == *n)) {
        return Err(super::access::repository_not_found(missing));
    }
    Ok(found)
}

async fn insert_token<C: ConnectionTrait>(
    txn: &C,
    kind: &str,
    user_id: Option<Uuid>,
    created_by: Option<Uuid>,
    new: &NewToken,
    repositories: &[repositories::Model],
) -> Result<CreatedToken> {
    let prefix = if kind == "personal" {
        PERSONAL_PREFIX
    } else {
        DEPLOY_PREFIX
    };
    let secret = format!("{prefix}{}", random_secret());
    let token = tokens::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(kind.to_owned()),
        name: Set(new.name.trim().to_owned()),
        user_id: Set(user_id),
        created_by: Set(created_by),
        secret_hash: Set(hash_secret(&secret)),
        all_repositories: Set(new.repositories.is_none()),
        expires_at: Set(new.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(txn)
    .await
    .map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!(
                "name: you already have a token named {}",
                new.name.trim()
            ))
        } else {
            err.into()
        }
    })?;
    for repository in repositories {
        token_repositories::ActiveModel {
            token_id: Set(token.id),
            repository_id: Set(repository.id),
        }
        .insert(txn)
        .await?;
    }
    let mut package_names: Vec<&str> = new.packages.iter().map(|p| p.trim()).collect();
    package_names.sort_unstable();
    package_names.dedup();
    for name in package_names {
        token_package_names::ActiveModel {
            token_id: Set(token.id),
            name: Set(name.to_owned()),
        }
        .insert(txn)
        .await?;
    }
    let mut roles = new.roles.clone();
    roles.sort();
    roles.dedup();
    for role in roles {
        token_roles::ActiveModel {
            token_id: Set(token.id),
            role: Set(role.as_str().to_owned()),
        }
        .insert(txn)
        .await?;
    }
    Ok(CreatedToken { token, secret })
}

/// A personal token for `user_id`. Its scope can only narrow its owner's rights, so any
/// scope over repositories the caller can see may be asked for; a token minting one keeps
/// it within its own scope.
pub async fn create_personal<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    user_id: Uuid,
    user_email: &str,
    new: NewToken,
) -> Result<CreatedToken> {
    validate(&new)?;
    let repositories = match &new.repositories {
        Some(names) => repositories_named(db, names).await?,
        None => Vec::new(),
    };
    // Naming a private repository one cannot see answers as naming none.
    if let Some(hidden) = repositories.iter().find(|r| {
        r.visibility() == packistry_shared::Visibility::Private
            && access.permissions(r, PackageScope::Repository).is_empty()
    }) {
        return Err(super::access::repository_not_found(&hidden.name));
    }
    if let Some(parent) = access.principal.token() {
        within_scope(parent, &new, &repositories)?;
    }
    if !new.packages.is_empty() {
        return Err(Error::bad_input(
            "packages: only deploy tokens are limited to packages",
        ));
    }
    let txn = db.begin().await?;
    let created = insert_token(
        &txn,
        "personal",
        Some(user_id),
        actor.user_id,
        &new,
        &repositories,
    )
    .await?;
    audit::record(
        &txn,
        actor,
        "token.created",
        Target {
            kind: "token",
            id: Some(created.token.id.to_string()),
            name: &created.token.name,
        },
        json!({
            "kind": "personal",
            "owner": user_email,
            "repositories": new.repositories,
            "roles": new.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "expiresAt": new.expires_at,
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// A deploy token for repositories the caller administers (`access` is `None` for the CLI).
pub async fn create_deploy<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    new: NewToken,
) -> Result<CreatedToken> {
    validate(&new)?;
    let names = match &new.repositories {
        Some(names) if !names.is_empty() => names.clone(),
        _ => {
            return Err(Error::bad_input(
                "repositories: a deploy token belongs to at least one repository",
            ))
        }
    };
    let repositories = repositories_named(db, &names).await?;
    for repository in &repositories {
        if access.principal.user().is_none() && !access.is_system() {
            return Err(Error::forbidden("only users create deploy tokens"));
        }
        access.check(
            repository,
            PackageScope::Repository,
            &[Permission::Administer],
        )?;
    }
    if let Some(parent) = access.principal.token() {
        within_scope(parent, &new, &repositories)?;
    }
    // A package limit names packages, published or not yet (a token for a first upload).
    let txn = db.begin().await?;
    let created = insert_token(&txn, "deploy", None, actor.user_id, &new, &repositories).await?;
    audit::record(
        &txn,
        actor,
        "token.created",
        Target {
            kind: "token",
            id: Some(created.token.id.to_string()),
            name: &created.token.name,
        },
        json!({
            "kind": "deploy",
            "repositories": names,
            "packages": new.packages,
            "roles": new.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "expiresAt": new.expires_at,
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

pub async fn list_personal(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<tokens::Model>> {
    Ok(tokens::Entity::find()
        .filter(tokens::Column::UserId.eq(user_id))
        .filter(tokens::Column::Kind.eq("personal"))
        .order_by_desc(tokens::Column::CreatedAt)
        .all(db)
        .await?)
}

pub async fn list_deploy_for_repository(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
) -> Result<Vec<tokens::Model>> {
    let ids: Vec<Uuid> = token_repositories::Entity::find()
        .filter(token_repositories::Column::RepositoryId.eq(repository_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.token_id)
        .collect();
    Ok(tokens::Entity::find()
        .filter(tokens::Column::Id.is_in(ids))
        .filter(tokens::Column::Kind.eq("deploy"))
        .order_by_desc(tokens::Column::CreatedAt)
        .all(db)
        .await?)
}

/// Revoke a token. Personal tokens: their owner or an admin; deploy tokens: an
/// administrator of one of its repositories; the operator ([`Access::system`]) any.
pub async fn revoke<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    token_id: Uuid,
) -> Result<tokens::Model> {
    let not_found = || Error::not_found("no such token");
    let token = tokens::Entity::find_by_id(token_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let itself = access.principal.token().map(|t| t.id) == Some(token.id);
    let allowed = if access.is_system() || itself {
        true
    } else if token.kind == "personal" {
        access.principal.is_admin() || access.principal.user().map(|u| u.id) == token.user_id
    } else {
        let scope = scope_of(db, &token).await?;
        let repositories = repositories::Entity::find()
            .filter(repositories::Column::Id.is_in(scope.repository_ids))
            .all(db)
            .await?;
        repositories.iter().any(|r| {
            access
                .permissions(r, PackageScope::Repository)
                .contains(Permission::Administer)
        })
    };
    if !allowed {
        return Err(not_found());
    }
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let txn = db.begin().await?;
    let mut row: tokens::ActiveModel = token.into();
    row.revoked_at = Set(Some(Utc::now()));
    let token = row.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "token.revoked",
        Target {
            kind: "token",
            id: Some(token.id.to_string()),
            name: &token.name,
        },
        json!({ "kind": token.kind }),
    )
    .await?;
    txn.commit().await?;
    Ok(token)
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<tokens::Model>> {
    Ok(tokens::Entity::find_by_id(id).one(db).await?)
}

/// Find a live token by name: a user's personal token, or (no user) a deploy token.
pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &str,
    user_id: Option<Uuid>,
) -> Result<tokens::Model> {
    let query = tokens::Entity::find()
        .filter(tokens::Column::Name.eq(name))
        .filter(tokens::Column::RevokedAt.is_null());
    let query = match user_id {
        Some(id) => query.filter(tokens::Column::UserId.eq(id)),
        None => query.filter(tokens::Column::Kind.eq("deploy")),
    };
    let mut found = query.all(db).await?;
    match found.len() {
        0 => Err(Error::not_found(format!("no active token named {name}"))),
        1 => Ok(found.remove(0)),
        _ => Err(Error::conflict(format!(
            "several active deploy tokens are named {name}; revoke it from the web interface"
        ))),
    }
}
