//! Download counting without a database write on the download path: each download is queued
//! in memory and written in batches by the server's flush task. A Composer client that
//! installs from its own cache hits no dist URL but still reports through `notify-batch`;
//! a notification is counted only when no dist download by the same caller of the same
//! version was seen shortly before, so one install counts once.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, Set, Statement};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::entities::downloads;
use crate::error::Result;

/// How long a dist download stands for the same caller's later notification.
const NOTIFY_WINDOW: Duration = Duration::from_secs(600);
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

    fn key(&self, version_id: Uuid) -> String {
        match (self.token_id, self.user_id, &self.address) {
            (Some(token), _, _) => format!("{version_id}/t/{token}"),
            (None, Some(user), _) => format!("{version_id}/u/{user}"),
            (None, None, Some(address)) => format!("{version_id}/a/{address}"),
            (None, None, None) => format!("{version_id}/-"),
        }
    }
}

pub struct DownloadRecorder {
    pending: Mutex<Vec<downloads::ActiveModel>>,
    recent_dist: moka::sync::Cache<String, ()>,
}

impl Default for DownloadRecorder {
    fn default() -> Self {
        DownloadRecorder {
            pending: Mutex::new(Vec::new()),
            recent_dist: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(NOTIFY_WINDOW)
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

    /// Write what is queued. Rows whose version was deleted meanwhile are dropped.
    pub async fn flush(&self, db: &impl ConnectionTrait) {
        let rows = std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        for chunk in rows.chunks(BATCH) {
            if let Err(err) = downloads::Entity::insert_many(chunk.to_vec())
                .exec(db)
                .await
            {
                // One bad row (a version deleted meanwhile) must not lose the others.
                tracing::warn!(error = %err, "writing downloads in a batch failed; retrying one by one");
                for row in chunk {
                    let _ = downloads::Entity::insert(row.clone()).exec(db).await;
                }
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
    let today = Utc::now().date_naive();
    let mut days: Vec<DayCount> = since
        .date_naive()
        .iter_days()
        .take_while(|d| *d <= today)
        .map(|day| DayCount { day, count: 0 })
        .collect();
    if version_ids.is_empty() {
        return Ok(days);
    }
    let backend = db.get_database_backend();
    let (day_expr, placeholders): (&str, Vec<String>) = match backend {
        DatabaseBackend::Postgres => (
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            (2..version_ids.len() + 2)
                .map(|i| format!("${i}"))
                .collect(),
        ),
        _ => (
            "substr(created_at, 1, 10)",
            version_ids.iter().map(|_| "?".to_owned()).collect(),
        ),
    };
    let since_placeholder = if backend == DatabaseBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let sql = format!(
        "SELECT {day_expr} AS day, COUNT(*) AS count FROM downloads \
         WHERE created_at >= {since_placeholder} AND version_id IN ({}) GROUP BY 1",
        placeholders.join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![since.into()];
    values.extend(version_ids.iter().map(|id| sea_orm::Value::from(*id)));
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

/// Total downloads per version.
pub async fn totals(
    db: &impl ConnectionTrait,
    version_ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, i64>> {
    #[derive(FromQueryResult)]
    struct Row {
        version_id: Uuid,
        count: i64,
    }
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let rows = downloads::Entity::find()
        .select_only()
        .column(downloads::Column::VersionId)
        .column_as(downloads::Column::Id.count(), "count")
        .filter(downloads::Column::VersionId.is_in(version_ids.iter().copied()))
        .group_by(downloads::Column::VersionId)
        .into_model::<Row>()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.version_id, r.count)).collect())
}
