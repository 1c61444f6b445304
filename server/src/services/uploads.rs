//! Chunked blob upload sessions (container images): one row per session, moved on one
//! part at a time by compare-and-set, so parts sent at once cannot both win.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::db::entities::oci_uploads;
use crate::error::Result;

/// A new, empty session for an image of a repository.
pub async fn start(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    image: &str,
) -> Result<oci_uploads::Model> {
    let now = Utc::now();
    Ok(oci_uploads::ActiveModel {
        id: Set(Uuid::new_v4()),
        repository_id: Set(repository_id),
        image: Set(image.to_owned()),
        size: Set(0),
        parts: Set(0),
        single_part_sha256: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?)
}

/// The session `id` of this image of the repository.
pub async fn find(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    image: &str,
    id: Uuid,
) -> Result<Option<oci_uploads::Model>> {
    Ok(oci_uploads::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|u| u.repository_id == repository_id && u.image == image))
}

/// Move the session on from the state `upload` was read in by one part of `part_size`
/// bytes (`sha256` when it is the first, hashed as it arrived). `None` when another
/// request moved it first.
pub async fn claim_part(
    db: &impl ConnectionTrait,
    upload: &oci_uploads::Model,
    part_size: i64,
    sha256: Option<String>,
) -> Result<Option<oci_uploads::Model>> {
    let (size, parts) = (upload.size + part_size, upload.parts + 1);
    let now = Utc::now();
    let claimed = oci_uploads::Entity::update_many()
        .col_expr(oci_uploads::Column::Size, Expr::value(size))
        .col_expr(oci_uploads::Column::Parts, Expr::value(parts))
        .col_expr(
            oci_uploads::Column::SinglePartSha256,
            Expr::value(sha256.clone()),
        )
        .col_expr(oci_uploads::Column::UpdatedAt, Expr::value(now))
        .filter(oci_uploads::Column::Id.eq(upload.id))
        .filter(oci_uploads::Column::Parts.eq(upload.parts))
        .filter(oci_uploads::Column::Size.eq(upload.size))
        .exec(db)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(None);
    }
    Ok(Some(oci_uploads::Model {
        size,
        parts,
        single_part_sha256: sha256,
        updated_at: now,
        ..upload.clone()
    }))
}

/// Give back the part `claimed` took from `before` (its bytes could not be kept), so the
/// client may send it again.
pub async fn give_back(
    db: &impl ConnectionTrait,
    before: &oci_uploads::Model,
    claimed: &oci_uploads::Model,
) -> Result<()> {
    oci_uploads::Entity::update_many()
        .col_expr(oci_uploads::Column::Size, Expr::value(before.size))
        .col_expr(oci_uploads::Column::Parts, Expr::value(before.parts))
        .col_expr(
            oci_uploads::Column::SinglePartSha256,
            Expr::value(before.single_part_sha256.clone()),
        )
        .filter(oci_uploads::Column::Id.eq(before.id))
        .filter(oci_uploads::Column::Parts.eq(claimed.parts))
        .exec(db)
        .await?;
    Ok(())
}

/// Forget a session (its parts are the caller's to delete).
pub async fn forget(db: &impl ConnectionTrait, id: Uuid) -> Result<()> {
    oci_uploads::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}
