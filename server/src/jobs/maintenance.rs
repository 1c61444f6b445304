//! The maintenance job: abandoned uploads are removed, then garbage collection takes
//! untagged container manifests, the image blobs no manifest uses, and stored blobs nothing
//! references. It runs on one replica at a time: the job's row in `jobs` is claimed with a
//! conditional update and a lease, so a replica that dies mid-run is replaced after the lease.
//! Anything younger than the grace period is spared, so it is safe while pushes happen.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::Value;
use uuid::Uuid;

use crate::db::entities::{
    blobs, jobs, oci_blobs, oci_manifests, oci_tags, oci_uploads, version_files,
};
use crate::error::{Error, Result};
use crate::state::SharedState;

/// The one row of the recurring maintenance job.
pub const JOB_ID: Uuid = Uuid::from_u128(0x7061_636b_6973_7472_795f_6d61_696e_7400);
const KIND: &str = "maintenance";
/// A claim not renewed for this long is taken to belong to a dead replica (a live one
/// renews it every quarter of it while the pass runs), so a replica killed mid-pass holds
/// maintenance up for a minute at most.
const LEASE: Duration = Duration::from_secs(60);

/// What one run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub uploads: u64,
    pub manifests: u64,
    pub image_blobs: u64,
    pub blobs: u64,
    /// Stored files no row named (left by a crash), removed.
    pub orphans: u64,
    pub bytes: u64,
}

/// Run the job if it is due and no other replica holds it. `Ok(None)`: not this time.
pub async fn run_if_due(state: &SharedState, worker: &str) -> Result<Option<Report>> {
    let db = &state.db;
    let now = Utc::now();
    jobs::Entity::insert(jobs::ActiveModel {
        id: Set(JOB_ID),
        kind: Set(KIND.into()),
        payload: Set(Value::Object(Default::default())),
        status: Set("queued".into()),
        attempts: Set(0),
        progress: Set(0),
        error: Set(None),
        run_at: Set(now),
        locked_at: Set(None),
        locked_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        subject_id: Set(None),
        result: Set(None),
    })
    .on_conflict(OnConflict::column(jobs::Column::Id).do_nothing().to_owned())
    .do_nothing()
    .exec(db)
    .await?;
    let stale = now - chrono::Duration::from_std(LEASE).unwrap_or_default();
    let claimed = jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value("running"))
        .col_expr(jobs::Column::LockedAt, Expr::value(now))
        .col_expr(jobs::Column::LockedBy, Expr::value(worker))
        .col_expr(
            jobs::Column::Attempts,
            Expr::col(jobs::Column::Attempts).add(1),
        )
        .col_expr(jobs::Column::Progress, Expr::value(0))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(JOB_ID))
        .filter(jobs::Column::RunAt.lte(now))
        .filter(
            sea_orm::Condition::any()
                .add(jobs::Column::Status.ne("running"))
                .add(jobs::Column::LockedAt.lt(stale)),
        )
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    let lease = tokio::spawn(renew_lease(state.db.clone(), worker.to_owned()));
    let outcome = run(state).await;
    lease.abort();
    let next =
        Utc::now() + chrono::Duration::seconds(state.config.maintenance_interval_seconds as i64);
    let (status, error, payload) = match &outcome {
        Ok(report) => (
            "succeeded",
            None,
            serde_json::to_value(report).unwrap_or(Value::Null),
        ),
        Err(err) => {
            tracing::warn!(error = ?err, "maintenance failed");
            ("failed", Some(err.to_string()), Value::Null)
        }
    };
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value(status))
        .col_expr(jobs::Column::Error, Expr::value(error))
        .col_expr(jobs::Column::Payload, Expr::value(payload))
        .col_expr(jobs::Column::Progress, Expr::value(100))
        .col_expr(jobs::Column::RunAt, Expr::value(next))
        .col_expr(
            jobs::Column::LockedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(jobs::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(jobs::Column::Id.eq(JOB_ID))
        .exec(db)
        .await?;
    outcome.map(Some)
}

/// Keep the maintenance claim while this worker runs the pass.
async fn renew_lease(db: sea_orm::DatabaseConnection, worker: String) {
    let mut tick = tokio::time::interval(LEASE / 4);
    tick.tick().await;
    loop {
        tick.tick().await;
        let renewed = jobs::Entity::update_many()
            .col_expr(jobs::Column::LockedAt, Expr::value(Utc::now()))
            .filter(jobs::Column::Id.eq(JOB_ID))
            .filter(jobs::Column::Status.eq("running"))
            .filter(jobs::Column::LockedBy.eq(worker.as_str()))
            .exec(&db)
            .await;
        if let Err(err) = renewed {
            tracing::warn!(error = %err, "renewing the maintenance lease failed");
        }
    }
}

/// A kept manifest's body. Anything short of reading it whole as JSON is an error: the
/// pass then stops and deletes nothing, since it cannot prove what the manifest still uses
/// (one storage hiccup must not delete the layers of tagged images).
async fn json_of(state: &SharedState, sha256: &str) -> Result<Value> {
    let doubt = |why: String| {
        Error::internal(anyhow::anyhow!(
            "garbage collection stopped, nothing deleted: the manifest blob {sha256} {why}"
        ))
    };
    let mut stream = state
        .blobs
        .read(sha256)
        .await
        .map_err(|err| doubt(format!("cannot be read ({err})")))?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(|err| doubt(format!("cannot be read ({err})")))?);
        if bytes.len() > 4 * 1024 * 1024 {
            return Err(doubt("is larger than a manifest may be".into()));
        }
    }
    serde_json::from_slice(&bytes).map_err(|err| doubt(format!("is not JSON ({err})")))
}

fn digests_in(manifest: &Value, key: &str) -> Vec<String> {
    manifest
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("digest").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// One maintenance pass.
pub async fn run(state: &SharedState) -> Result<Report> {
    let db = &state.db;
    let mut report = Report::default();
    let now = Utc::now();
    let grace = now - chrono::Duration::seconds(state.config.gc_grace_seconds as i64);

    // 1. Abandoned uploads.
    let abandoned_before = now - chrono::Duration::seconds(state.config.upload_ttl_seconds as i64);
    for upload in oci_uploads::Entity::find()
        .filter(oci_uploads::Column::UpdatedAt.lt(abandoned_before))
        .all(db)
        .await?
    {
        state
            .blobs
            .delete_prefix(&format!("uploads/{}", upload.id))
            .await
            .map_err(Error::internal)?;
        oci_uploads::Entity::delete_by_id(upload.id)
            .exec(db)
            .await?;
        report.uploads += 1;
    }

    // 2 and 3, one image at a time (memory bounded by the largest image, not the registry):
    //    untagged manifests go unless tagged, a child of a kept index, or referring to a
    //    kept manifest, or younger than the grace period; then the image's blobs no
    //    remaining manifest uses.
    let mut images: std::collections::BTreeSet<Uuid> = oci_manifests::Entity::find()
        .select_only()
        .column(oci_manifests::Column::PackageId)
        .distinct()
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    images.extend(
        oci_blobs::Entity::find()
            .select_only()
            .column(oci_blobs::Column::PackageId)
            .distinct()
            .into_tuple::<Uuid>()
            .all(db)
            .await?,
    );
    tracing::debug!(images = images.len(), "maintenance: collecting garbage");
    for image in images {
        collect_image(state, image, grace, &mut report).await?;
    }

    // 4. Stored blobs nothing references. First, what an interrupted pass set aside goes
    //    back when a row names it, or goes.
    for (aside, digest) in state
        .blobs
        .set_aside_keys()
        .await
        .map_err(Error::internal)?
    {
        settle_aside(state, &aside, &digest).await?;
    }
    //    Then the stored blobs nothing references. One conditional DELETE per blob decides, so a
    //    blob committed again meanwhile (its time renewed) or referenced meanwhile stays.
    let mut after = String::new();
    loop {
        let page = blobs::Entity::find()
            .filter(blobs::Column::CreatedAt.lt(grace))
            .filter(blobs::Column::Digest.gt(after.clone()))
            .order_by_asc(blobs::Column::Digest)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.digest.clone();
        for blob in page {
            let unreferenced =
                |table: sea_orm::sea_query::DynIden, column: sea_orm::sea_query::DynIden| {
                    Expr::exists(
                        Query::select()
                            .expr(Expr::val(1))
                            .from(table)
                            .and_where(Expr::col(column).eq(blob.digest.clone()))
                            .to_owned(),
                    )
                    .not()
                };
            use sea_orm::sea_query::IntoIden;
            let deleted = blobs::Entity::delete_many()
                .filter(blobs::Column::Digest.eq(blob.digest.clone()))
                .filter(blobs::Column::CreatedAt.lt(grace))
                .filter(unreferenced(
                    version_files::Entity.into_iden(),
                    version_files::Column::BlobDigest.into_iden(),
                ))
                .filter(unreferenced(
                    oci_manifests::Entity.into_iden(),
                    oci_manifests::Column::BlobSha256.into_iden(),
                ))
                .filter(unreferenced(
                    oci_blobs::Entity.into_iden(),
                    oci_blobs::Column::BlobSha256.into_iden(),
                ))
                .exec(db)
                .await?;
            if deleted.rows_affected == 1 {
                // The file is set aside, not removed, until no row names it again: a push of the
                // same bytes may have written its row after the delete above and found the file
                // still there, and would lose it.
                if let Some(aside) = state
                    .blobs
                    .set_aside(&blob.digest)
                    .await
                    .map_err(Error::internal)?
                {
                    if settle_aside(state, &aside, &blob.digest).await? {
                        continue;
                    }
                }
                report.blobs += 1;
                report.bytes += blob.size as u64;
            }
        }
    }
    // 5. Orphans: files no row names (a crash between writing a file and its row), files
    //    cut off mid-commit, parts of uploads that no longer exist. Older than the grace
    //    period only; a blob file goes aside first and comes back if a row names it.
    sweep_orphans(state, grace, &mut report).await?;
    if report != Report::default() {
        tracing::info!(?report, "maintenance removed garbage");
    }
    Ok(report)
}

/// Garbage of one image: its unkept untagged manifests, then its blob links no remaining
/// manifest uses. A kept manifest that cannot be read stops the pass (see [`json_of`]).
async fn collect_image(
    state: &SharedState,
    image: Uuid,
    grace: chrono::DateTime<Utc>,
    report: &mut Report,
) -> Result<()> {
    let db = &state.db;
    let manifests = oci_manifests::Entity::find()
        .filter(oci_manifests::Column::PackageId.eq(image))
        .all(db)
        .await?;
    let mut keep: HashSet<String> = oci_tags::Entity::find()
        .filter(oci_tags::Column::PackageId.eq(image))
        .all(db)
        .await?
        .into_iter()
        .map(|t| t.manifest_digest)
        .collect();
    for m in manifests.iter().filter(|m| m.created_at >= grace) {
        keep.insert(m.digest.clone());
    }
    let mut bodies = std::collections::HashMap::new();
    loop {
        let before = keep.len();
        for m in &manifests {
            if keep.contains(&m.digest) {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    bodies.entry(m.digest.clone())
                {
                    let body = json_of(state, &m.blob_sha256).await?;
                    for child in digests_in(&body, "manifests") {
                        keep.insert(child);
                    }
                    slot.insert(body);
                }
            } else if let Some(subject) = &m.subject_digest {
                if keep.contains(subject) {
                    keep.insert(m.digest.clone());
                }
            }
        }
        if keep.len() == before {
            break;
        }
    }
    // Each delete is conditional on the time read above: a manifest pushed again meanwhile
    // (its time renewed before its tag is set) stays.
    for m in manifests.iter().filter(|m| !keep.contains(&m.digest)) {
        let deleted = oci_manifests::Entity::delete_many()
            .filter(oci_manifests::Column::Id.eq(m.id))
            .filter(oci_manifests::Column::CreatedAt.lt(grace))
            .exec(db)
            .await?;
        report.manifests += deleted.rows_affected;
    }
    let mut used: HashSet<String> = HashSet::new();
    for body in bodies.values() {
        if let Some(config) = body
            .get("config")
            .and_then(|c| c.get("digest"))
            .and_then(Value::as_str)
        {
            used.insert(config.to_owned());
        }
        used.extend(digests_in(body, "layers"));
    }
    for held in oci_blobs::Entity::find()
        .filter(oci_blobs::Column::PackageId.eq(image))
        .filter(oci_blobs::Column::CreatedAt.lt(grace))
        .all(db)
        .await?
    {
        if !used.contains(&held.digest) {
            // Conditional too: a manifest pushed meanwhile renews the links it names.
            let deleted = oci_blobs::Entity::delete_many()
                .filter(oci_blobs::Column::Id.eq(held.id))
                .filter(oci_blobs::Column::CreatedAt.lt(grace))
                .exec(db)
                .await?;
            report.image_blobs += deleted.rows_affected;
        }
    }
    Ok(())
}

async fn sweep_orphans(
    state: &SharedState,
    grace: chrono::DateTime<Utc>,
    report: &mut Report,
) -> Result<()> {
    let db = &state.db;
    const PAGE: usize = 500;
    let mut listing = state.blobs.older_than("sha256", grace);
    let mut done = false;
    while !done {
        let mut page: Vec<(String, u64)> = Vec::with_capacity(PAGE);
        while page.len() < PAGE {
            match listing.next().await {
                Some(entry) => page.push(entry.map_err(Error::internal)?),
                None => {
                    done = true;
                    break;
                }
            }
        }
        let digests: Vec<String> = page
            .iter()
            .filter_map(|(key, _)| key.rsplit('/').next())
            .filter(|name| is_sha256_hex(name))
            .map(str::to_owned)
            .collect();
        if page.is_empty() {
            break;
        }
        let named: HashSet<String> = blobs::Entity::find()
            .filter(blobs::Column::Digest.is_in(digests))
            .all(db)
            .await?
            .into_iter()
            .map(|b| b.digest)
            .collect();
        for (key, size) in page {
            let name = key.rsplit('/').next().unwrap_or("");
            if !is_sha256_hex(name) {
                // A copy cut off before its rename (`{digest}.part-{uuid}`).
                state
                    .blobs
                    .delete_key(&key)
                    .await
                    .map_err(Error::internal)?;
                report.orphans += 1;
                continue;
            }
            if named.contains(name) {
                continue;
            }
            if let Some(aside) = state.blobs.set_aside(name).await.map_err(Error::internal)? {
                if !settle_aside(state, &aside, name).await? {
                    report.orphans += 1;
                    report.bytes += size;
                }
            }
        }
    }
    // Parts of uploads whose row is gone.
    let mut parts = state.blobs.older_than("uploads", grace);
    let mut seen = HashSet::new();
    while let Some(entry) = parts.next().await {
        let (key, _) = entry.map_err(Error::internal)?;
        let Some(id) = key
            .strip_prefix("uploads/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        if oci_uploads::Entity::find_by_id(id).one(db).await?.is_none() {
            state
                .blobs
                .delete_prefix(&format!("uploads/{id}"))
                .await
                .map_err(Error::internal)?;
            report.orphans += 1;
        }
    }
    Ok(())
}

fn is_sha256_hex(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A blob's file set aside goes back when a row names the digest again, else it goes;
/// true when it went back.
async fn settle_aside(state: &SharedState, aside: &str, digest: &str) -> Result<bool> {
    let named = blobs::Entity::find_by_id(digest.to_owned())
        .one(&state.db)
        .await?
        .is_some();
    if named {
        state.blobs.put_back(aside, digest).await
    } else {
        state.blobs.delete_key(aside).await
    }
    .map_err(Error::internal)?;
    Ok(named)
}

/// Run maintenance whenever it is due, for as long as the server runs.
pub async fn run_forever(state: SharedState) {
    let worker = format!("{}-{}", std::process::id(), Uuid::new_v4());
    let tick = Duration::from_secs(state.config.maintenance_interval_seconds.clamp(1, 60));
    loop {
        if let Err(err) = run_if_due(&state, &worker).await {
            tracing::warn!(error = ?err, "maintenance could not run");
        }
        tokio::time::sleep(tick).await;
    }
}
