//! Download counting without a database write on the download path: each download is queued
//! in memory and written in batches by the server's flush task. A Composer client that
//! installs from its own cache hits no dist URL but still reports through `notify-batch`;
//! a notification is counted only when no dist download by the same caller of the same
//! version was seen shortly before, so one install counts once.
//!
//! Container images have no versions: a pull is a GET of an image's manifest, kept in
//! `image_pulls`. A pull by tag always counts; a GET by digest counts only when the same
//! caller did not pull the same image just before, since clients resolve a tag (or an
//! index) and then fetch the manifest it names by digest, and that is one pull.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, Set, Statement};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::entities::{download_totals, downloads, image_pulls};
use crate::error::Result;

/// How long a dist download stands for the same caller's later notification.
const NOTIFY_WINDOW: Duration = Duration::from_secs(600);
/// How long an image pull stands for the same caller's following GETs by digest (from the
/// first pull of a busy caller: the window is not extended by every pull).
const PULL_WINDOW: Duration = Duration::from_secs(60);
/// Rows per INSERT statement when flushing.
const BATCH: usize = 500;

/// Who downloaded, as a download row records it.
#[derive(Debug, Clone)]
pub struct Downloader {
    pub user_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
    pub address: Option<String>,
}

impl Downloader {
    pub fn new(principal: &Principal, address: Option<String>) -> Self {
        Downloader {
            user_id: principal.user().map(|u| u.id),
            token_id: principal.token().map(|t| t.id),
            address,
        }
    }

    /// This caller and what they downloaded (a version, or an image).
    fn key(&self, subject: Uuid) -> String {
        match (self.token_id, self.user_id, &self.address) {
            (Some(token), _, _) => format!("{subject}/t/{token}"),
            (None, Some(user), _) => format!("{subject}/u/{user}"),
            (None, None, Some(address)) => format!("{subject}/a/{address}"),
            (None, None, None) => format!("{subject}/-"),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PullKey {
    package_id: Uuid,
    reference: String,
    user_id: Option<Uuid>,
    token_id: Option<Uuid>,
    address: Option<String>,
}

struct PendingPulls {
    first: DateTime<Utc>,
    count: i64,
}

pub struct DownloadRecorder {
    pending: Mutex<Vec<downloads::ActiveModel>>,
    recent_dist: moka::sync::Cache<String, ()>,
    /// Pulls since the last write, one entry per image, reference and caller.
    pending_pulls: Mutex<HashMap<PullKey, PendingPulls>>,
    recent_pulls: moka::sync::Cache<String, ()>,
}

impl Default for DownloadRecorder {
    fn default() -> Self {
        DownloadRecorder {
            pending: Mutex::new(Vec::new()),
            recent_dist: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(NOTIFY_WINDOW)
                .build(),
            pending_pulls: Mutex::new(HashMap::new()),
            recent_pulls: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(PULL_WINDOW)
                .build(),
        }
    }
}

impl DownloadRecorder {
    fn push(&self, version_id: Uuid, who: &Downloader) {
        let row = downloads::ActiveModel {
            id: Set(Uuid::new_v4()),
            version_id: Set(version_id),
            user_id: Set(who.user_id),
            token_id: Set(who.token_id),
            address: Set(who.address.clone()),
            created_at: Set(Utc::now()),
        };
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(row);
    }

    /// A file of a version was served.
    pub fn dist(&self, version_id: Uuid, who: &Downloader) {
        self.recent_dist.insert(who.key(version_id), ());
        self.push(version_id, who);
    }

    /// A client reported an install (Composer's `notify-batch`).
    pub fn notified(&self, version_id: Uuid, who: &Downloader) {
        let key = who.key(version_id);
        if self.recent_dist.contains_key(&key) {
            self.recent_dist.invalidate(&key);
        } else {
            self.push(version_id, who);
        }
    }

    /// An image's manifest was served by `reference` (a tag, or a digest).
    pub fn image_pull(&self, package_id: Uuid, reference: &str, by_digest: bool, who: &Downloader) {
        let key = who.key(package_id);
        if self.recent_pulls.contains_key(&key) {
            if by_digest {
                return;
            }
        } else {
            self.recent_pulls.insert(key, ());
        }
        let key = PullKey {
            package_id,
            reference: reference.to_owned(),
            user_id: who.user_id,
            token_id: who.token_id,
            address: who.address.clone(),
        };
        self.pending_pulls
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key)
            .or_insert_with(|| PendingPulls {
                first: Utc::now(),
                count: 0,
            })
            .count += 1;
    }

    /// Write what is queued. Rows whose version or image was deleted meanwhile are dropped.
    pub async fn flush(&self, db: &impl ConnectionTrait) {
        let rows = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        insert_batched::<downloads::Entity>(db, rows).await;
        let pulls = std::mem::take(
            &mut *self
                .pending_pulls
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        let pulls = pulls
            .into_iter()
            .map(|(key, pending)| image_pulls::ActiveModel {
                id: Set(Uuid::new_v4()),
                package_id: Set(key.package_id),
                reference: Set(key.reference),
                user_id: Set(key.user_id),
                token_id: Set(key.token_id),
                address: Set(key.address),
                count: Set(pending.count),
                created_at: Set(pending.first),
            })
            .collect();
        insert_batched::<image_pulls::Entity>(db, pulls).await;
    }
}

async fn insert_batched<E: EntityTrait>(db: &impl ConnectionTrait, rows: Vec<E::ActiveModel>)
where
    E::ActiveModel: Clone + Send,
{
    for chunk in rows.chunks(BATCH) {
        if let Err(err) = E::insert_many(chunk.to_vec()).exec(db).await {
            // One bad row (its version or image deleted meanwhile) must not lose the others.
            tracing::warn!(error = %err, table = E::default().table_name(), "writing downloads in a batch failed; retrying one by one");
            for row in chunk {
                let _ = E::insert(row.clone()).exec(db).await;
            }
        }
    }
}

/// Downloads on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    pub day: NaiveDate,
    pub count: i64,
}

#[derive(FromQueryResult)]
struct DayRow {
    day: String,
    count: i64,
}

/// Per-day download counts of the given versions since a time, oldest day first; days
/// without downloads are included with zero.
pub async fn per_day(
    db: &impl ConnectionTrait,
    version_ids: &[Uuid],
    since: DateTime<Utc>,
) -> Result<Vec<DayCount>> {
    per_day_of(
        db,
        "downloads",
        "COUNT(*)",
        "version_id",
        version_ids,
        since,
    )
    .await
}

/// Per-day pulls of the given images since a time, as [`per_day`].
pub async fn pulls_per_day(
    db: &impl ConnectionTrait,
    package_ids: &[Uuid],
    since: DateTime<Utc>,
) -> Result<Vec<DayCount>> {
    per_day_of(
        db,
        "image_pulls",
        "CAST(SUM(\"count\") AS BIGINT)",
        "package_id",
        package_ids,
        since,
    )
    .await
}

/// `tally` (what a row stands for) of rows of `table` per day, whose `column` is one of `ids`.
async fn per_day_of(
    db: &impl ConnectionTrait,
    table: &'static str,
    tally: &'static str,
    column: &'static str,
    ids: &[Uuid],
    since: DateTime<Utc>,
) -> Result<Vec<DayCount>> {
    let today = Utc::now().date_naive();
    let mut days: Vec<DayCount> = since
        .date_naive()
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|day| DayCount { day, count: 0 })
        .collect();
    if ids.is_empty() {
        return Ok(days);
    }
    let backend = db.get_database_backend();
    let (day_expr, placeholders): (&str, Vec<String>) = match backend {
        DatabaseBackend::Postgres => (
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            (2..ids.len() + 2).map(|i| format!("${i}")).collect(),
        ),
        _ => (
            "substr(created_at, 1, 10)",
            ids.iter().map(|_| "?".to_owned()).collect(),
        ),
    };
    let since_placeholder = if backend == DatabaseBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let sql = format!(
        "SELECT {day_expr} AS day, {tally} AS count FROM {table} \
         WHERE created_at >= {since_placeholder} AND {column} IN ({}) GROUP BY 1",
        placeholders.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![since.into()];
    values.extend(ids.iter().map(|id| sea_orm::Value::from(*id)));
    let rows = DayRow::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await?;
    for row in rows {
        if let Ok(day) = NaiveDate::parse_from_str(&row.day, "%Y-%m-%d") {
            if let Some(slot) = days.iter_mut().find(|d| d.day == day) {
                slot.count += row.count;
            }
        }
    }
    Ok(days)
}

/// Total downloads per version (kept by the database in `download_totals`).
pub async fn totals(
    db: &impl ConnectionTrait,
    version_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, i64>> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let mut totals = std::collections::HashMap::new();
    for chunk in version_ids.chunks(crate::db::IN_CHUNK) {
        let rows: Vec<(Uuid, i64)> = download_totals::Entity::find()
            .select_only()
            .column(download_totals::Column::VersionId)
            .column(download_totals::Column::Count)
            .filter(download_totals::Column::VersionId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        totals.extend(rows);
    }
    Ok(totals)
}

/// Total downloads per package, over all its versions, from the kept totals.
pub async fn package_totals(
    db: &impl ConnectionTrait,
    package_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, i64>> {
    #[derive(FromQueryResult)]
    struct Row {
        package_id: Uuid,
        count: i64,
    }
    use crate::db::entities::package_versions;
    use sea_orm::sea_query::{Alias, Expr, Query};
    let mut totals = std::collections::HashMap::new();
    for chunk in package_ids.chunks(crate::db::IN_CHUNK) {
        let mut query = Query::select();
        query
            .column((
                package_versions::Entity,
                package_versions::Column::PackageId,
            ))
            .expr_as(
                Expr::cust("CAST(SUM(download_totals.count) AS BIGINT)"),
                Alias::new("count"),
            )
            .from(download_totals::Entity)
            .inner_join(
                package_versions::Entity,
                Expr::col((package_versions::Entity, package_versions::Column::Id))
                    .equals((download_totals::Entity, download_totals::Column::VersionId)),
            )
            .and_where(
                Expr::col((
                    package_versions::Entity,
                    package_versions::Column::PackageId,
                ))
                .is_in(chunk.iter().copied()),
            )
            .group_by_col((
                package_versions::Entity,
                package_versions::Column::PackageId,
            ));
        let rows = Row::find_by_statement(db.get_database_backend().build(&query))
            .all(db)
            .await?;
        totals.extend(rows.into_iter().map(|r| (r.package_id, r.count)));
    }
    Ok(totals)
}

/// Total pulls per image.
pub async fn pull_totals(
    db: &impl ConnectionTrait,
    package_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, i64>> {
    #[derive(FromQueryResult)]
    struct Row {
        package_id: Uuid,
        count: i64,
    }
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let rows = image_pulls::Entity::find()
        .select_only()
        .column(image_pulls::Column::PackageId)
        .column_as(
            sea_orm::sea_query::Expr::cust("CAST(SUM(\"count\") AS BIGINT)"),
            "count",
        )
        .filter(image_pulls::Column::PackageId.is_in(package_ids.iter().copied()))
        .group_by(image_pulls::Column::PackageId)
        .into_model::<Row>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.package_id, r.count)).collect())
}
