//! Packages, their versions and files, whatever the format: publishing a version (its blob
//! committed first, then the rows in one transaction), deleting, listing.

use chrono::Utc;
use packistry_shared::permissions::Permission;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use crate::db::entities::{blobs, package_versions, packages, repositories, version_files};
use crate::error::{Error, Result};
use crate::services::access::{Access, PackageScope};
use crate::services::audit::{self, Actor, Target};
use crate::storage::{BlobStore, Staged};

/// SQLite has one writer: transactions that read before they write fail with "database is
/// locked" when two of them race, so the writers of this process take turns.
static SQLITE_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn write_turn(db: &DatabaseConnection) -> Option<tokio::sync::MutexGuard<'static, ()>> {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        Some(SQLITE_WRITES.lock().await)
    } else {
        None
    }
}

pub async fn find(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    name: &str,
) -> Result<Option<packages::Model>> {
    Ok(packages::Entity::find()
        .filter(packages::Column::RepositoryId.eq(repository_id))
        .filter(packages::Column::Name.eq(name))
        .one(db)
        .await?)
}

pub async fn list(db: &impl ConnectionTrait, repository_id: Uuid) -> Result<Vec<packages::Model>> {
    Ok(packages::Entity::find()
        .filter(packages::Column::RepositoryId.eq(repository_id))
        .order_by_asc(packages::Column::Name)
        .all(db)
        .await?)
}

/// The packages of a repository the caller may list: all of them, or those of a
/// package-limited token.
pub async fn list_for(
    db: &impl ConnectionTrait,
    access: &Access,
    repository: &repositories::Model,
) -> Result<Vec<packages::Model>> {
    access.check(repository, PackageScope::Repository, &[Permission::List])?;
    Ok(list(db, repository.id)
        .await?
        .into_iter()
        .filter(|p| {
            access
                .permissions(repository, PackageScope::Package(&p.name))
                .contains(Permission::List)
        })
        .collect())
}

pub async fn versions(
    db: &impl ConnectionTrait,
    package_id: Uuid,
) -> Result<Vec<package_versions::Model>> {
    Ok(package_versions::Entity::find()
        .filter(package_versions::Column::PackageId.eq(package_id))
        .all(db)
        .await?)
}

pub async fn versions_of(
    db: &impl ConnectionTrait,
    package_ids: &[Uuid],
) -> Result<Vec<package_versions::Model>> {
    let mut versions = Vec::new();
    for chunk in package_ids.chunks(crate::db::IN_CHUNK) {
        versions.extend(
            package_versions::Entity::find()
                .filter(package_versions::Column::PackageId.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(versions)
}

/// Each package's versions as (package, version, normalized version), without their
/// metadata: enough to count them and find the latest.
pub async fn version_names_of(
    db: &impl ConnectionTrait,
    package_ids: &[Uuid],
) -> Result<Vec<(Uuid, String, String)>> {
    let mut versions = Vec::new();
    for chunk in package_ids.chunks(crate::db::IN_CHUNK) {
        let rows: Vec<(Uuid, String, String)> = package_versions::Entity::find()
            .select_only()
            .column(package_versions::Column::PackageId)
            .column(package_versions::Column::Version)
            .column(package_versions::Column::VersionNormalized)
            .filter(package_versions::Column::PackageId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        versions.extend(rows);
    }
    Ok(versions)
}

pub async fn files_of(
    db: &impl ConnectionTrait,
    version_ids: &[Uuid],
) -> Result<Vec<(version_files::Model, Option<blobs::Model>)>> {
    let mut files = Vec::new();
    for chunk in version_ids.chunks(crate::db::IN_CHUNK) {
        files.extend(
            version_files::Entity::find()
                .filter(version_files::Column::VersionId.is_in(chunk.iter().copied()))
                .find_also_related(blobs::Entity)
                .all(db)
                .await?,
        );
    }
    Ok(files)
}

/// A version about to be published, with its one file already staged and verified.
pub struct NewVersion<'a> {
    pub package_name: &'a str,
    pub description: String,
    pub version: String,
    pub version_normalized: String,
    pub metadata: serde_json::Value,
    pub readme: Option<String>,
    pub file_name: String,
    pub media_type: &'static str,
    pub file: &'a Staged,
    /// Replace an existing version of the same name (administrators only).
    pub overwrite: bool,
}

/// Publish a version: the blob is committed under its digest first (so no row ever points
/// to a missing blob), then package, version and file rows are written in one transaction.
/// The same version again is a conflict unless `overwrite` is set by an administrator.
pub async fn publish(
    db: &DatabaseConnection,
    blob_store: &BlobStore,
    actor: &Actor,
    access: &Access,
    repository: &repositories::Model,
    new: NewVersion<'_>,
) -> Result<(packages::Model, package_versions::Model)> {
    access.check(
        repository,
        PackageScope::Package(new.package_name),
        &[Permission::Upload],
    )?;
    if new.overwrite {
        access.check(
            repository,
            PackageScope::Package(new.package_name),
            &[Permission::Administer],
        )?;
    }
    publish_checked(db, blob_store, actor, repository, new).await
}

/// [`publish`] without the permission checks, for work the repository's administrators set
/// up beforehand (imports from a source).
pub async fn publish_checked(
    db: &DatabaseConnection,
    blob_store: &BlobStore,
    actor: &Actor,
    repository: &repositories::Model,
    new: NewVersion<'_>,
) -> Result<(packages::Model, package_versions::Model)> {
    {
        let _turn = write_turn(db).await;
        store_blob(db, blob_store, new.file).await?;
    }

    let _turn = write_turn(db).await;
    let now = Utc::now();
    let repository_id = repository.id;
    let txn = db.begin().await?;
    let written = async {
        ensure_blob(&txn, new.file, now).await?;
        ensure_package(&txn, repository_id, new.package_name, &new.description, now).await?;
        let package = find(&txn, repository_id, new.package_name)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("package row vanished")))?;

        let previous = package_versions::Entity::find()
            .filter(package_versions::Column::PackageId.eq(package.id))
            .filter(package_versions::Column::Version.eq(new.version.as_str()))
            .one(&txn)
            .await?;
        let replaced = previous.is_some();
        if let Some(previous) = previous {
            if !new.overwrite {
                return Err(Error::conflict(format!(
                    "{} {} already exists; versions are immutable \
                     (an administrator may overwrite it)",
                    new.package_name, new.version
                )));
            }
            package_versions::Entity::delete_by_id(previous.id)
                .exec(&txn)
                .await?;
        }
        let version = package_versions::ActiveModel {
            id: Set(Uuid::new_v4()),
            package_id: Set(package.id),
            version: Set(new.version.clone()),
            version_normalized: Set(new.version_normalized.clone()),
            metadata: Set(new.metadata.clone()),
            readme: Set(new.readme.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|err| {
            if crate::error::is_unique_violation(&err) {
                Error::conflict(format!(
                    "{} {} already exists; versions are immutable",
                    new.package_name, new.version
                ))
            } else {
                err.into()
            }
        })?;
        version_files::ActiveModel {
            id: Set(Uuid::new_v4()),
            version_id: Set(version.id),
            name: Set(new.file_name.clone()),
            blob_digest: Set(new.file.sha256.clone()),
            size: Set(new.file.size as i64),
            media_type: Set(new.media_type.to_owned()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let mut touched: packages::ActiveModel = package.into();
        touched.updated_at = Set(now);
        if repository.format() == Some(packistry_shared::Format::Composer) {
            let kind = new.metadata.get("type").and_then(serde_json::Value::as_str);
            touched.kind = Set(Some(kind.unwrap_or("library").to_owned()));
        }
        if !new.description.is_empty() {
            touched.description = Set(new.description.clone());
        }
        let package = touched.update(&txn).await?;
        Ok::<_, Error>((package, version, replaced))
    }
    .await;
    let (package, version, replaced) = match written {
        Ok(written) => {
            txn.commit().await?;
            written
        }
        Err(err) => {
            txn.rollback().await.ok();
            return Err(err);
        }
    };
    audit::record(
        db,
        actor,
        if replaced {
            "version.overwrite"
        } else {
            "version.publish"
        },
        Target {
            kind: "package",
            id: Some(package.id.to_string()),
            name: &package.name,
        },
        serde_json::json!({
            "repository": repository.name,
            "version": version.version,
            "sha256": new.file.sha256,
            "size": new.file.size,
        }),
    )
    .await?;
    Ok((package, version))
}

/// Store a verified staged file as a blob: its row first (marking it freshly committed, so
/// garbage collection, which spares recent blobs, cannot remove it under this upload),
/// then its bytes (written again if a collection removed them meanwhile).
pub async fn store_blob(
    db: &impl ConnectionTrait,
    blob_store: &BlobStore,
    file: &Staged,
) -> Result<()> {
    ensure_blob(db, file, Utc::now()).await?;
    blob_store.commit(file).await.map_err(Error::internal)
}

/// The blob row of a staged file, its commit time renewed when it is already known.
pub async fn ensure_blob(
    txn: &impl ConnectionTrait,
    file: &Staged,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    upsert_blob(
        txn,
        blobs::ActiveModel {
            digest: Set(file.sha256.clone()),
            size: Set(file.size as i64),
            sha1: Set(Some(file.sha1.clone()).filter(|h| !h.is_empty())),
            md5: Set(Some(file.md5.clone()).filter(|h| !h.is_empty())),
            sha512: Set(Some(file.sha512.clone()).filter(|h| !h.is_empty())),
            created_at: Set(now),
        },
    )
    .await
}

/// The blob row of content known by its SHA-256 and size only (a promoted upload part).
pub async fn ensure_blob_digest(txn: &impl ConnectionTrait, sha256: &str, size: i64) -> Result<()> {
    upsert_blob(
        txn,
        blobs::ActiveModel {
            digest: Set(sha256.to_owned()),
            size: Set(size),
            sha1: Set(None),
            md5: Set(None),
            sha512: Set(None),
            created_at: Set(Utc::now()),
        },
    )
    .await
}

async fn upsert_blob(txn: &impl ConnectionTrait, row: blobs::ActiveModel) -> Result<()> {
    blobs::Entity::insert(row)
        .on_conflict(
            // Renew the commit time (garbage collection spares recent blobs); keep checksums an
            // earlier upload computed.
            OnConflict::column(blobs::Column::Digest)
                .update_column(blobs::Column::CreatedAt)
                .value(
                    blobs::Column::Sha1,
                    Expr::cust("COALESCE(excluded.sha1, blobs.sha1)"),
                )
                .value(
                    blobs::Column::Md5,
                    Expr::cust("COALESCE(excluded.md5, blobs.md5)"),
                )
                .value(
                    blobs::Column::Sha512,
                    Expr::cust("COALESCE(excluded.sha512, blobs.sha512)"),
                )
                .to_owned(),
        )
        .exec(txn)
        .await?;
    Ok(())
}

/// The package row, created when missing (concurrent creators agree on one row).
pub async fn ensure_package(
    txn: &impl ConnectionTrait,
    repository_id: Uuid,
    name: &str,
    description: &str,
    now: chrono::DateTime<Utc>,
) -> Result<()> {
    packages::Entity::insert(packages::ActiveModel {
        id: Set(Uuid::new_v4()),
        repository_id: Set(repository_id),
        name: Set(name.to_owned()),
        description: Set(description.to_owned()),
        source_id: Set(None),
        source_project: Set(None),
        kind: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([packages::Column::RepositoryId, packages::Column::Name])
            .do_nothing()
            .to_owned(),
    )
    .do_nothing()
    .exec(txn)
    .await?;
    Ok(())
}

/// What to do when a file of the same name already exists in the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenExists {
    /// Refuse with a conflict (immutable releases).
    Conflict,
    /// Replace it (snapshots, or an administrator's explicit overwrite).
    Replace,
}

/// One file added to a version, creating package and version as needed.
pub struct NewFile<'a> {
    pub package_name: &'a str,
    pub version: &'a str,
    pub version_normalized: &'a str,
    /// Keys merged into the version's metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub file_name: &'a str,
    pub media_type: &'a str,
    pub file: &'a Staged,
    pub when_exists: WhenExists,
}

/// Add a file to a version (Maven's one-file-at-a-time deploys). The blob is committed
/// first, then the rows in one transaction. The caller has checked the permissions.
pub async fn put_file(
    db: &DatabaseConnection,
    blob_store: &BlobStore,
    actor: &Actor,
    repository: &repositories::Model,
    new: NewFile<'_>,
) -> Result<(packages::Model, package_versions::Model, bool)> {
    {
        let _turn = write_turn(db).await;
        store_blob(db, blob_store, new.file).await?;
    }
    let _turn = write_turn(db).await;
    let now = Utc::now();
    let txn = db.begin().await?;
    let written = async {
        ensure_blob(&txn, new.file, now).await?;
        ensure_package(&txn, repository.id, new.package_name, "", now).await?;
        let package = find(&txn, repository.id, new.package_name)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("package row vanished")))?;
        package_versions::Entity::insert(package_versions::ActiveModel {
            id: Set(Uuid::new_v4()),
            package_id: Set(package.id),
            version: Set(new.version.to_owned()),
            version_normalized: Set(new.version_normalized.to_owned()),
            metadata: Set(serde_json::Value::Object(Default::default())),
            readme: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                package_versions::Column::PackageId,
                package_versions::Column::Version,
            ])
            .do_nothing()
            .to_owned(),
        )
        .do_nothing()
        .exec(&txn)
        .await?;
        let version = package_versions::Entity::find()
            .filter(package_versions::Column::PackageId.eq(package.id))
            .filter(package_versions::Column::Version.eq(new.version))
            .one(&txn)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("version row vanished")))?;
        let existing = version_files::Entity::find()
            .filter(version_files::Column::VersionId.eq(version.id))
            .filter(version_files::Column::Name.eq(new.file_name))
            .one(&txn)
            .await?;
        let replaced = existing.is_some();
        if let Some(existing) = existing {
            if new.when_exists == WhenExists::Conflict {
                return Err(Error::conflict(format!(
                    "{} already exists in {} {}; releases are immutable \
                     (an administrator may overwrite it)",
                    new.file_name, new.package_name, new.version
                )));
            }
            version_files::Entity::delete_by_id(existing.id)
                .exec(&txn)
                .await?;
        }
        version_files::ActiveModel {
            id: Set(Uuid::new_v4()),
            version_id: Set(version.id),
            name: Set(new.file_name.to_owned()),
            blob_digest: Set(new.file.sha256.clone()),
            size: Set(new.file.size as i64),
            media_type: Set(new.media_type.to_owned()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|err| {
            if crate::error::is_unique_violation(&err) {
                Error::conflict(format!("{} was uploaded at the same time", new.file_name))
            } else {
                err.into()
            }
        })?;
        let mut metadata = match &version.metadata {
            serde_json::Value::Object(map) => map.clone(),
            _ => Default::default(),
        };
        metadata.extend(new.metadata.clone());
        let mut touched: package_versions::ActiveModel = version.into();
        touched.metadata = Set(serde_json::Value::Object(metadata));
        touched.updated_at = Set(now);
        let version = touched.update(&txn).await?;
        let mut touched: packages::ActiveModel = package.into();
        touched.updated_at = Set(now);
        let package = touched.update(&txn).await?;
        Ok::<_, Error>((package, version, replaced))
    }
    .await;
    let (package, version, replaced) = match written {
        Ok(written) => {
            txn.commit().await?;
            written
        }
        Err(err) => {
            txn.rollback().await.ok();
            return Err(err);
        }
    };
    audit::record(
        db,
        actor,
        if replaced {
            "file.overwrite"
        } else {
            "file.upload"
        },
        Target {
            kind: "package",
            id: Some(package.id.to_string()),
            name: &package.name,
        },
        serde_json::json!({
            "repository": repository.name,
            "version": version.version,
            "file": new.file_name,
            "sha256": new.file.sha256,
            "size": new.file.size,
        }),
    )
    .await?;
    Ok((package, version, replaced))
}

/// Remove files of a version by name (snapshot retention); the version goes when empty.
pub async fn remove_files(
    db: &DatabaseConnection,
    version: &package_versions::Model,
    names: &[String],
) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let _turn = write_turn(db).await;
    version_files::Entity::delete_many()
        .filter(version_files::Column::VersionId.eq(version.id))
        .filter(version_files::Column::Name.is_in(names.iter().cloned()))
        .exec(db)
        .await?;
    let mut touched: package_versions::ActiveModel = version.clone().into();
    touched.updated_at = Set(Utc::now());
    touched.update(db).await?;
    Ok(())
}

/// Delete one version (administrators); the package's metadata changes at once.
pub async fn delete_version(
    db: &DatabaseConnection,
    actor: &Actor,
    access: &Access,
    repository: &repositories::Model,
    package: &packages::Model,
    version: &str,
) -> Result<()> {
    access.check(
        repository,
        PackageScope::Package(&package.name),
        &[Permission::Administer],
    )?;
    delete_version_checked(db, actor, repository, package, version).await
}

/// [`delete_version`] without the permission check (an import removing a deleted ref).
pub async fn delete_version_checked(
    db: &DatabaseConnection,
    actor: &Actor,
    repository: &repositories::Model,
    package: &packages::Model,
    version: &str,
) -> Result<()> {
    let _turn = write_turn(db).await;
    let txn = db.begin().await?;
    let deleted = package_versions::Entity::delete_many()
        .filter(package_versions::Column::PackageId.eq(package.id))
        .filter(package_versions::Column::Version.eq(version))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::not_found(format!(
            "{} has no version {version}",
            package.name
        )));
    }
    let mut touched: packages::ActiveModel = package.clone().into();
    touched.updated_at = Set(Utc::now());
    touched.update(&txn).await?;
    txn.commit().await?;
    audit::record(
        db,
        actor,
        "version.delete",
        Target {
            kind: "package",
            id: Some(package.id.to_string()),
            name: &package.name,
        },
        serde_json::json!({ "repository": repository.name, "version": version }),
    )
    .await
}

/// A container repository may forbid deletes of its images, manifests and tags.
pub fn deletes_allowed(repository: &repositories::Model) -> Result<()> {
    if repository.format() == Some(packistry_shared::Format::Container) && !repository.allow_deletes
    {
        return Err(Error::forbidden(format!(
            "deletes are disabled on repository {}; its administrators may allow them",
            repository.name
        )));
    }
    Ok(())
}

/// Delete a package with all its versions (administrators).
pub async fn delete_package(
    db: &DatabaseConnection,
    actor: &Actor,
    access: &Access,
    repository: &repositories::Model,
    package: &packages::Model,
) -> Result<()> {
    access.check(
        repository,
        PackageScope::Package(&package.name),
        &[Permission::Administer],
    )?;
    deletes_allowed(repository)?;
    let _turn = write_turn(db).await;
    packages::Entity::delete_by_id(package.id).exec(db).await?;
    audit::record(
        db,
        actor,
        "package.delete",
        Target {
            kind: "package",
            id: Some(package.id.to_string()),
            name: &package.name,
        },
        serde_json::json!({ "repository": repository.name }),
    )
    .await
}
