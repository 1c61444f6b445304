//! Container images: their manifests, tags and the blobs they hold. Each write takes the
//! write turn and runs in one transaction with its audit event, so a kill or a failed
//! statement leaves the image as it was before the request, never half changed.

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::db::entities::{blobs, oci_blobs, oci_manifests, oci_tags, packages};
use crate::error::Result;
use crate::services::audit::{self, Actor, Target};
use crate::services::packages::write_turn;

/// Digests per query when a manifest's blobs are looked up or renewed together.
const DIGEST_BATCH: usize = 500;

/// Whether `reference` names a manifest by digest (else it is a tag).
pub fn is_digest(reference: &str) -> bool {
    crate::formats::oci::valid_digest(reference)
}

/// A manifest of the image by tag or digest.
pub async fn find_manifest(
    db: &impl ConnectionTrait,
    package_id: Uuid,
    reference: &str,
) -> Result<Option<oci_manifests::Model>> {
    let digest = if is_digest(reference) {
        reference.to_owned()
    } else {
        match oci_tags::Entity::find()
            .filter(oci_tags::Column::PackageId.eq(package_id))
            .filter(oci_tags::Column::Name.eq(reference))
            .one(db)
            .await?
        {
            Some(tag) => tag.manifest_digest,
            None => return Ok(None),
        }
    };
    Ok(oci_manifests::Entity::find()
        .filter(oci_manifests::Column::PackageId.eq(package_id))
        .filter(oci_manifests::Column::Digest.eq(digest))
        .one(db)
        .await?)
}

/// Up to `limit` tag names of the image after `after`, in order.
pub async fn tag_names(
    db: &impl ConnectionTrait,
    package_id: Uuid,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<String>> {
    let mut query = oci_tags::Entity::find()
        .select_only()
        .column(oci_tags::Column::Name)
        .filter(oci_tags::Column::PackageId.eq(package_id));
    if let Some(after) = after {
        query = query.filter(oci_tags::Column::Name.gt(after));
    }
    Ok(query
        .order_by_asc(oci_tags::Column::Name)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}

/// The image's tags, its manifests and the blobs it holds, for describing its tags.
pub async fn contents(
    db: &impl ConnectionTrait,
    package_id: Uuid,
) -> Result<(
    Vec<oci_tags::Model>,
    Vec<oci_manifests::Model>,
    Vec<oci_blobs::Model>,
)> {
    let tags = oci_tags::Entity::find()
        .filter(oci_tags::Column::PackageId.eq(package_id))
        .all(db)
        .await?;
    if tags.is_empty() {
        return Ok((tags, Vec::new(), Vec::new()));
    }
    let manifests = oci_manifests::Entity::find()
        .filter(oci_manifests::Column::PackageId.eq(package_id))
        .all(db)
        .await?;
    let blobs = oci_blobs::Entity::find()
        .filter(oci_blobs::Column::PackageId.eq(package_id))
        .all(db)
        .await?;
    Ok((tags, manifests, blobs))
}

/// The manifests of the image whose subject is `subject`, oldest first, optionally of one
/// artifact type.
pub async fn referrers(
    db: &impl ConnectionTrait,
    package_id: Uuid,
    subject: &str,
    artifact_type: Option<&str>,
) -> Result<Vec<oci_manifests::Model>> {
    let mut select = oci_manifests::Entity::find()
        .filter(oci_manifests::Column::PackageId.eq(package_id))
        .filter(oci_manifests::Column::SubjectDigest.eq(subject));
    if let Some(kind) = artifact_type {
        select = select.filter(oci_manifests::Column::ArtifactType.eq(kind));
    }
    Ok(select
        .order_by_asc(oci_manifests::Column::CreatedAt)
        .all(db)
        .await?)
}

/// The image's link to a blob, by the blob's digest.
pub async fn find_held(
    db: &impl ConnectionTrait,
    package_id: Uuid,
    digest: &str,
) -> Result<Option<oci_blobs::Model>> {
    Ok(oci_blobs::Entity::find()
        .filter(oci_blobs::Column::PackageId.eq(package_id))
        .filter(oci_blobs::Column::Digest.eq(digest))
        .one(db)
        .await?)
}

/// Which of `digests` the image holds.
pub async fn held_among(
    db: &impl ConnectionTrait,
    package_id: Uuid,
    digests: &[String],
) -> Result<HashSet<String>> {
    let mut held = HashSet::new();
    for batch in digests.chunks(DIGEST_BATCH) {
        let found: Vec<String> = oci_blobs::Entity::find()
            .select_only()
            .column(oci_blobs::Column::Digest)
            .filter(oci_blobs::Column::PackageId.eq(package_id))
            .filter(oci_blobs::Column::Digest.is_in(batch.iter().cloned()))
            .into_tuple()
            .all(db)
            .await?;
        held.extend(found);
    }
    Ok(held)
}

/// Record that the image holds a committed blob (renewing the link's time when it did
/// already, so a collection running now spares it).
pub async fn hold_blob(
    db: &DatabaseConnection,
    package_id: Uuid,
    digest: &str,
    blob_sha256: &str,
    size: i64,
) -> Result<()> {
    let _turn = write_turn(db).await;
    oci_blobs::Entity::insert(oci_blobs::ActiveModel {
        id: Set(Uuid::new_v4()),
        package_id: Set(package_id),
        digest: Set(digest.to_owned()),
        blob_sha256: Set(blob_sha256.to_owned()),
        size: Set(size),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([oci_blobs::Column::PackageId, oci_blobs::Column::Digest])
            .update_column(oci_blobs::Column::CreatedAt)
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

/// Renew the time of the image's links to `digests`, so a collection running now spares
/// the blobs a manifest being pushed names.
pub async fn renew_held(
    db: &DatabaseConnection,
    package_id: Uuid,
    digests: &[String],
) -> Result<()> {
    let _turn = write_turn(db).await;
    let txn = db.begin().await?;
    for batch in digests.chunks(DIGEST_BATCH) {
        oci_blobs::Entity::update_many()
            .col_expr(oci_blobs::Column::CreatedAt, Expr::value(Utc::now()))
            .filter(oci_blobs::Column::PackageId.eq(package_id))
            .filter(oci_blobs::Column::Digest.is_in(batch.iter().cloned()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Unlink a blob from the image: false when the image did not hold it.
pub async fn release_blob(db: &DatabaseConnection, package_id: Uuid, digest: &str) -> Result<bool> {
    let _turn = write_turn(db).await;
    let deleted = oci_blobs::Entity::delete_many()
        .filter(oci_blobs::Column::PackageId.eq(package_id))
        .filter(oci_blobs::Column::Digest.eq(digest))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected > 0)
}

/// Renew the commit time of a stored blob, if there is one: true when it is stored. A
/// garbage collection that has not yet removed it will then spare it (it removes only
/// blobs older than its grace period, each with one conditional delete).
pub async fn renew_stored(db: &DatabaseConnection, sha256: &str) -> Result<bool> {
    let _turn = write_turn(db).await;
    let renewed = blobs::Entity::update_many()
        .col_expr(blobs::Column::CreatedAt, Expr::value(Utc::now()))
        .filter(blobs::Column::Digest.eq(sha256))
        .exec(db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// A manifest about to be recorded: its bytes are stored already, as `blob_sha256`.
pub struct NewManifest<'a> {
    pub digest: &'a str,
    pub media_type: &'a str,
    pub blob_sha256: &'a str,
    pub size: i64,
    pub subject: Option<&'a str>,
    pub artifact_type: Option<&'a str>,
    pub annotations: Option<Value>,
}

/// Record a pushed manifest and, when pushed by tag, point the tag at it; the image's time
/// is renewed and the push audited, all in one transaction. A manifest pushed again keeps
/// its row with a renewed time (a collection running now spares it).
pub async fn put_manifest(
    db: &DatabaseConnection,
    package: &packages::Model,
    manifest: NewManifest<'_>,
    tag: Option<&str>,
    actor: &Actor,
    image_name: &str,
) -> Result<()> {
    let now = Utc::now();
    let _turn = write_turn(db).await;
    let txn = db.begin().await?;
    oci_manifests::Entity::insert(oci_manifests::ActiveModel {
        id: Set(Uuid::new_v4()),
        package_id: Set(package.id),
        digest: Set(manifest.digest.to_owned()),
        media_type: Set(manifest.media_type.to_owned()),
        blob_sha256: Set(manifest.blob_sha256.to_owned()),
        size: Set(manifest.size),
        subject_digest: Set(manifest.subject.map(str::to_owned)),
        artifact_type: Set(manifest.artifact_type.map(str::to_owned)),
        annotations: Set(manifest.annotations),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            oci_manifests::Column::PackageId,
            oci_manifests::Column::Digest,
        ])
        .update_column(oci_manifests::Column::CreatedAt)
        .to_owned(),
    )
    .exec(&txn)
    .await?;
    if let Some(tag) = tag {
        oci_tags::Entity::insert(oci_tags::ActiveModel {
            id: Set(Uuid::new_v4()),
            package_id: Set(package.id),
            name: Set(tag.to_owned()),
            manifest_digest: Set(manifest.digest.to_owned()),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([oci_tags::Column::PackageId, oci_tags::Column::Name])
                .update_columns([
                    oci_tags::Column::ManifestDigest,
                    oci_tags::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    }
    touch(&txn, package).await?;
    audit::record(
        &txn,
        actor,
        "manifest.push",
        image_target(package, image_name),
        json!({ "reference": tag.unwrap_or(manifest.digest), "digest": manifest.digest }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Delete a manifest by digest (with every tag naming it) or a tag by name, renew the
/// image's time and audit it, in one transaction: false when there was no such manifest
/// or tag.
pub async fn delete_manifest(
    db: &DatabaseConnection,
    package: &packages::Model,
    reference: &str,
    actor: &Actor,
    image_name: &str,
) -> Result<bool> {
    let _turn = write_turn(db).await;
    let txn = db.begin().await?;
    let deleted = if is_digest(reference) {
        let deleted = oci_manifests::Entity::delete_many()
            .filter(oci_manifests::Column::PackageId.eq(package.id))
            .filter(oci_manifests::Column::Digest.eq(reference))
            .exec(&txn)
            .await?;
        oci_tags::Entity::delete_many()
            .filter(oci_tags::Column::PackageId.eq(package.id))
            .filter(oci_tags::Column::ManifestDigest.eq(reference))
            .exec(&txn)
            .await?;
        deleted.rows_affected
    } else {
        delete_tag_in(&txn, package.id, reference).await?
    };
    if deleted == 0 {
        return Ok(false);
    }
    touch(&txn, package).await?;
    audit::record(
        &txn,
        actor,
        "manifest.delete",
        image_target(package, image_name),
        json!({ "reference": reference }),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Delete a tag of the image (the manifest stays, by digest) and audit it, in one
/// transaction: false when the image has no such tag.
pub async fn delete_tag(
    db: &DatabaseConnection,
    package: &packages::Model,
    tag: &str,
    actor: &Actor,
    repository_name: &str,
) -> Result<bool> {
    let _turn = write_turn(db).await;
    let txn = db.begin().await?;
    if delete_tag_in(&txn, package.id, tag).await? == 0 {
        return Ok(false);
    }
    audit::record(
        &txn,
        actor,
        "tag.delete",
        image_target(package, &package.name),
        json!({ "repository": repository_name, "tag": tag }),
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

async fn delete_tag_in(db: &impl ConnectionTrait, package_id: Uuid, tag: &str) -> Result<u64> {
    Ok(oci_tags::Entity::delete_many()
        .filter(oci_tags::Column::PackageId.eq(package_id))
        .filter(oci_tags::Column::Name.eq(tag))
        .exec(db)
        .await?
        .rows_affected)
}

/// The image's time is now (lists sort and show it by this).
async fn touch(db: &impl ConnectionTrait, package: &packages::Model) -> Result<()> {
    let mut touched: packages::ActiveModel = package.clone().into();
    touched.updated_at = Set(Utc::now());
    touched.update(db).await?;
    Ok(())
}

fn image_target<'a>(package: &packages::Model, name: &'a str) -> Target<'a> {
    Target {
        kind: "image",
        id: Some(package.id.to_string()),
        name,
    }
}
