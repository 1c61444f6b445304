//! Repositories and the roles granted on them.

use chrono::Utc;
use packistry_shared::names::{is_valid_repository_name, REPOSITORY_NAME_RULE};
use packistry_shared::permissions::{may_create_repository, Permission};
use packistry_shared::{Format, RepositoryRole, Visibility};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::access::{repository_not_found, Access, PackageScope};
use super::audit::{self, Actor, Target};
use crate::db::entities::{groups, repositories, repository_grants, users};
use crate::error::{is_unique_violation, Error, Result};

pub struct NewRepository {
    pub name: String,
    pub format: Format,
    pub visibility: Visibility,
    pub description: String,
}

pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<repositories::Model>> {
    Ok(repositories::Entity::find()
        .filter(repositories::Column::Name.eq(name))
        .one(db)
        .await?)
}

pub async fn find_by_id(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<repositories::Model>> {
    Ok(repositories::Entity::find_by_id(id).one(db).await?)
}

/// The names of the repositories among `ids` that still exist (in chunks of
/// [`crate::db::IN_CHUNK`]).
pub async fn names_of(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<String>> {
    let mut names = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(crate::db::IN_CHUNK) {
        let found: Vec<String> = repositories::Entity::find()
            .select_only()
            .column(repositories::Column::Name)
            .filter(repositories::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        names.extend(found);
    }
    Ok(names)
}

/// A repository the caller may see at all; otherwise the same 404 as for no repository.
pub async fn visible(
    db: &impl ConnectionTrait,
    access: &Access,
    name: &str,
) -> Result<repositories::Model> {
    let repository = find_by_name(db, name)
        .await?
        .ok_or_else(|| repository_not_found(name))?;
    if access
        .permissions(&repository, PackageScope::Repository)
        .is_empty()
        && repository.visibility() == Visibility::Private
    {
        return Err(repository_not_found(name));
    }
    Ok(repository)
}

/// Repositories the caller has any permission on, by name.
pub async fn list_visible(
    db: &impl ConnectionTrait,
    access: &Access,
) -> Result<Vec<repositories::Model>> {
    let all = repositories::Entity::find()
        .order_by_asc(repositories::Column::Name)
        .all(db)
        .await?;
    Ok(all
        .into_iter()
        .filter(|r| !access.permissions(r, PackageScope::Repository).is_empty())
        .collect())
}

/// Create a repository. A user creating one becomes its administrator; the CLI
/// ([`Access::system`]) grants nobody.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    creator: &Access,
    new: NewRepository,
) -> Result<repositories::Model> {
    let allowed = creator
        .principal
        .global_role()
        .is_some_and(may_create_repository);
    if !allowed {
        return Err(Error::forbidden(
            "only admins and developers may create repositories",
        ));
    }
    if !is_valid_repository_name(&new.name) {
        return Err(Error::bad_input(format!(
            "name: \"{}\" is not allowed: {REPOSITORY_NAME_RULE}",
            new.name
        )));
    }
    let now = Utc::now();
    let txn = db.begin().await?;
    let repository = repositories::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(new.name.clone()),
        format: Set(new.format.as_str().to_owned()),
        visibility: Set(new.visibility.as_str().to_owned()),
        description: Set(new.description.trim().to_owned()),
        snapshot_retention: Set(None),
        allow_deletes: Set(true),
        content_revision: Set(0),
        package_count: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!(
                "name: a repository named {} already exists",
                new.name
            ))
        } else {
            err.into()
        }
    })?;
    if let Some(user) = creator.principal.user() {
        set_grant(
            &txn,
            repository.id,
            Grantee::User(user.id),
            RepositoryRole::Administrator,
        )
        .await?;
    }
    audit::record(
        &txn,
        actor,
        "repository.created",
        Target {
            kind: "repository",
            id: Some(repository.id.to_string()),
            name: &repository.name,
        },
        json!({ "format": repository.format, "visibility": repository.visibility }),
    )
    .await?;
    txn.commit().await?;
    Ok(repository)
}

pub struct RepositoryChanges {
    pub description: Option<String>,
    pub visibility: Option<Visibility>,
    /// Maven: keep the last N builds per SNAPSHOT version; `Some(None)` keeps all.
    pub snapshot_retention: Option<Option<i32>>,
    /// Containers: whether administrators may delete manifests, tags and blobs.
    pub allow_deletes: Option<bool>,
}

pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    name: &str,
    changes: RepositoryChanges,
) -> Result<repositories::Model> {
    let repository = administered(db, access, name).await?;
    let txn = db.begin().await?;
    let before_visibility = repository.visibility.clone();
    let mut row: repositories::ActiveModel = repository.into();
    if let Some(description) = changes.description {
        row.description = Set(description.trim().to_owned());
    }
    if let Some(visibility) = changes.visibility {
        row.visibility = Set(visibility.as_str().to_owned());
    }
    if let Some(retention) = changes.snapshot_retention {
        if retention.is_some_and(|n| !(1..=10_000).contains(&n)) {
            return Err(Error::bad_input(
                "snapshotRetention: keep between 1 and 10000 builds, or null to keep all",
            ));
        }
        row.snapshot_retention = Set(retention);
    }
    if let Some(allow) = changes.allow_deletes {
        row.allow_deletes = Set(allow);
    }
    row.updated_at = Set(Utc::now());
    let repository = row.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "repository.updated",
        Target {
            kind: "repository",
            id: Some(repository.id.to_string()),
            name: &repository.name,
        },
        json!({
            "visibility": { "from": before_visibility, "to": repository.visibility },
            "snapshotRetention": repository.snapshot_retention,
            "allowDeletes": repository.allow_deletes,
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(repository)
}

pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    name: &str,
) -> Result<()> {
    let repository = administered(db, access, name).await?;
    let txn = db.begin().await?;
    repositories::Entity::delete_by_id(repository.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        "repository.deleted",
        Target {
            kind: "repository",
            id: Some(repository.id.to_string()),
            name: &repository.name,
        },
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// To whom a role is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantee {
    User(Uuid),
    Group(Uuid),
}

/// Set the role of a grantee, replacing any earlier one.
pub(crate) async fn set_grant(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    grantee: Grantee,
    role: RepositoryRole,
) -> Result<()> {
    use sea_orm::sea_query::OnConflict;
    // One statement, so two administrators granting at once both succeed (the later
    // role stays) instead of one failing on the unique index.
    let (user_id, group_id, mut conflict) = match grantee {
        Grantee::User(id) => (
            Some(id),
            None,
            OnConflict::columns([
                repository_grants::Column::RepositoryId,
                repository_grants::Column::UserId,
            ]),
        ),
        Grantee::Group(id) => (
            None,
            Some(id),
            OnConflict::columns([
                repository_grants::Column::RepositoryId,
                repository_grants::Column::GroupId,
            ]),
        ),
    };
    repository_grants::Entity::insert(repository_grants::ActiveModel {
        id: Set(Uuid::new_v4()),
        repository_id: Set(repository_id),
        user_id: Set(user_id),
        group_id: Set(group_id),
        role: Set(role.as_str().to_owned()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        conflict
            .update_column(repository_grants::Column::Role)
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

async fn grant_of(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    grantee: Grantee,
) -> Result<Option<repository_grants::Model>> {
    let query = repository_grants::Entity::find()
        .filter(repository_grants::Column::RepositoryId.eq(repository_id));
    let query = match grantee {
        Grantee::User(id) => query.filter(repository_grants::Column::UserId.eq(id)),
        Grantee::Group(id) => query.filter(repository_grants::Column::GroupId.eq(id)),
    };
    Ok(query.one(db).await?)
}

/// A grantee named as a person would: by e-mail or group name.
pub enum GranteeName<'a> {
    User(&'a str),
    Group(&'a str),
}

async fn resolve_grantee(
    db: &impl ConnectionTrait,
    name: &GranteeName<'_>,
) -> Result<(Grantee, String)> {
    match name {
        GranteeName::User(email) => {
            let user = super::users::get_by_email(db, email).await?;
            Ok((Grantee::User(user.id), user.email))
        }
        GranteeName::Group(group) => {
            let found = groups::Entity::find()
                .filter(groups::Column::Name.eq(*group))
                .one(db)
                .await?
                .ok_or_else(|| Error::not_found(format!("no group named {group}")))?;
            Ok((Grantee::Group(found.id), found.name))
        }
    }
}

/// A repository the caller administers.
async fn administered(
    db: &impl ConnectionTrait,
    access: &Access,
    name: &str,
) -> Result<repositories::Model> {
    let repository = visible(db, access, name).await?;
    access.check(
        &repository,
        PackageScope::Repository,
        &[Permission::Administer],
    )?;
    Ok(repository)
}

/// Grant a role on a repository (replacing any earlier role of that grantee).
pub async fn grant<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    repository_name: &str,
    grantee: GranteeName<'_>,
    role: RepositoryRole,
) -> Result<()> {
    let repository = administered(db, access, repository_name).await?;
    let (grantee, grantee_name) = resolve_grantee(db, &grantee).await?;
    let txn = db.begin().await?;
    set_grant(&txn, repository.id, grantee, role).await?;
    audit::record(
        &txn,
        actor,
        "grant.given",
        Target {
            kind: "repository",
            id: Some(repository.id.to_string()),
            name: &repository.name,
        },
        json!({ "grantee": grantee_name, "grantee_type": grantee_kind(grantee), "role": role.as_str() }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

fn grantee_kind(grantee: Grantee) -> &'static str {
    match grantee {
        Grantee::User(_) => "user",
        Grantee::Group(_) => "group",
    }
}

pub async fn revoke<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    repository_name: &str,
    grantee: GranteeName<'_>,
) -> Result<()> {
    let repository = administered(db, access, repository_name).await?;
    let (grantee, grantee_name) = resolve_grantee(db, &grantee).await?;
    let txn = db.begin().await?;
    let Some(existing) = grant_of(&txn, repository.id, grantee).await? else {
        return Err(Error::not_found(format!(
            "{grantee_name} has no role on repository {}",
            repository.name
        )));
    };
    repository_grants::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        "grant.revoked",
        Target {
            kind: "repository",
            id: Some(repository.id.to_string()),
            name: &repository.name,
        },
        json!({ "grantee": grantee_name, "grantee_type": grantee_kind(grantee), "role": existing.role }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// One grant as listed: who, which role.
#[derive(Debug, Clone)]
pub struct GrantView {
    pub role: RepositoryRole,
    pub user: Option<users::Model>,
    pub group: Option<groups::Model>,
}

pub async fn list_grants(
    db: &impl ConnectionTrait,
    access: &Access,
    repository_name: &str,
) -> Result<Vec<GrantView>> {
    let repository = visible(db, access, repository_name).await?;
    access.check(
        &repository,
        PackageScope::Repository,
        &[Permission::ViewGrants],
    )?;
    let grants = repository_grants::Entity::find()
        .filter(repository_grants::Column::RepositoryId.eq(repository.id))
        .all(db)
        .await?;
    let user_ids: Vec<Uuid> = grants.iter().filter_map(|g| g.user_id).collect();
    let group_ids: Vec<Uuid> = grants.iter().filter_map(|g| g.group_id).collect();
    let users: std::collections::HashMap<Uuid, users::Model> = users::Entity::find()
        .filter(users::Column::Id.is_in(user_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let groups: std::collections::HashMap<Uuid, groups::Model> = groups::Entity::find()
        .filter(groups::Column::Id.is_in(group_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g))
        .collect();
    let mut views: Vec<GrantView> = grants
        .into_iter()
        .filter_map(|g| {
            Some(GrantView {
                role: g.role()?,
                user: g.user_id.and_then(|id| users.get(&id).cloned()),
                group: g.group_id.and_then(|id| groups.get(&id).cloned()),
            })
        })
        .collect();
    views.sort_by_key(|v| {
        (
            v.role,
            v.user.as_ref().map(|u| u.email.clone()),
            v.group.as_ref().map(|g| g.name.clone()),
        )
    });
    Ok(views)
}
