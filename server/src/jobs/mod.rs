//! Background jobs in the database, shared by every replica: claimed with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL (in-process, one claim at a time, on SQLite), held
//! under a lease (a job whose worker died is claimed again once the lease runs out), retried
//! with exponential backoff when the failure may pass (an unreachable host).
//!
//! The recurring maintenance job has its own row and claim (see
//! [`crate::jobs::maintenance`]); this queue runs everything else.

pub mod import;
pub mod maintenance;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::Value;
use uuid::Uuid;

use crate::db::entities::jobs;
use crate::error::Result;
use crate::state::SharedState;

/// A claim not renewed for this long belongs to a dead worker (a live one renews it every
/// quarter of it while the job runs).
pub const LEASE: Duration = Duration::from_secs(2 * 60);
/// Runs before a job that keeps failing with retryable errors is given up.
pub const MAX_ATTEMPTS: i32 = 5;

/// Why a job did not succeed.
#[derive(Debug)]
pub struct JobFailure {
    pub message: String,
    /// The failure may pass (unreachable host, rate limit): run again later.
    pub retry: bool,
    /// Wait at least this long before the next run (a provider's `Retry-After`).
    pub retry_after: Option<Duration>,
}

impl JobFailure {
    pub fn permanent(message: impl Into<String>) -> Self {
        JobFailure {
            message: message.into(),
            retry: false,
            retry_after: None,
        }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        JobFailure {
            message: message.into(),
            retry: true,
            retry_after: None,
        }
    }
}

/// The wait before run `attempts + 1`: 5 s, 10 s, 20 s, … up to 10 minutes.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 8) - 1).unwrap_or(0);
    Duration::from_secs((5u64 << exponent).min(600))
}

/// Queue a job; a worker on any replica picks it up (this one at once).
pub async fn enqueue(
    state: &SharedState,
    kind: &str,
    subject_id: Option<Uuid>,
    payload: Value,
) -> Result<jobs::Model> {
    let job = enqueue_in(&state.db, kind, subject_id, payload).await?;
    state.jobs_wake.notify_one();
    Ok(job)
}

/// Queue a job from outside a server (the command line); workers find it within a second.
pub async fn enqueue_in(
    db: &impl ConnectionTrait,
    kind: &str,
    subject_id: Option<Uuid>,
    payload: Value,
) -> Result<jobs::Model> {
    let now = Utc::now();
    let job = jobs::ActiveModel {
        id: Set(Uuid::new_v4()),
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        status: Set("queued".into()),
        attempts: Set(0),
        progress: Set(0),
        error: Set(None),
        run_at: Set(now),
        locked_at: Set(None),
        locked_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        subject_id: Set(subject_id),
        result: Set(None),
    }
    .insert(db)
    .await?;
    Ok(job)
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<jobs::Model>> {
    Ok(jobs::Entity::find_by_id(id).one(db).await?)
}

/// The newest jobs about a subject, newest first.
pub async fn of_subject(
    db: &impl ConnectionTrait,
    subject_id: Uuid,
    limit: u64,
) -> Result<Vec<jobs::Model>> {
    Ok(jobs::Entity::find()
        .filter(jobs::Column::SubjectId.eq(subject_id))
        .order_by_desc(jobs::Column::CreatedAt)
        .limit(limit)
        .all(db)
        .await?)
}

/// Claim the next due job for `worker`, if any. A job whose workers stopped (crashed, or
/// were killed) while running it [`MAX_ATTEMPTS`] times is not claimed again: it fails,
/// visibly, instead of taking down one replica's worker after another.
pub async fn claim(state: &SharedState, worker: &str) -> Result<Option<jobs::Model>> {
    let db = &state.db;
    let now = Utc::now();
    let stale = now - chrono::Duration::from_std(LEASE).unwrap_or_default();
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value("failed"))
        .col_expr(
            jobs::Column::Error,
            Expr::value(format!(
                "its worker stopped while running it {MAX_ATTEMPTS} times; not tried again"
            )),
        )
        .col_expr(
            jobs::Column::LockedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(jobs::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Kind.ne("maintenance"))
        .filter(jobs::Column::Status.eq("running"))
        .filter(jobs::Column::LockedAt.lt(stale))
        .filter(jobs::Column::Attempts.gte(MAX_ATTEMPTS))
        .exec(db)
        .await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        let sql = "UPDATE jobs SET status = 'running', locked_at = $1, locked_by = $2, \
                   attempts = attempts + 1, updated_at = $1 \
                   WHERE id = (SELECT id FROM jobs WHERE kind <> 'maintenance' \
                     AND ((status = 'queued' AND run_at <= $1) \
                       OR (status = 'running' AND locked_at < $3)) \
                     ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
                   RETURNING *";
        let statement = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            sql,
            [now.into(), worker.into(), stale.into()],
        );
        return Ok(jobs::Entity::find().from_raw_sql(statement).one(db).await?);
    }
    // SQLite has one writer: claims are taken one at a time in this process, and the
    // conditional update below still refuses a job someone else took meanwhile.
    let _turn = state.jobs_claim.lock().await;
    let due = jobs::Entity::find()
        .filter(jobs::Column::Kind.ne("maintenance"))
        .filter(
            sea_orm::Condition::any()
                .add(
                    sea_orm::Condition::all()
                        .add(jobs::Column::Status.eq("queued"))
                        .add(jobs::Column::RunAt.lte(now)),
                )
                .add(
                    sea_orm::Condition::all()
                        .add(jobs::Column::Status.eq("running"))
                        .add(jobs::Column::LockedAt.lt(stale)),
                ),
        )
        .order_by_asc(jobs::Column::RunAt)
        .one(db)
        .await?;
    let Some(due) = due else { return Ok(None) };
    let claimed = jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value("running"))
        .col_expr(jobs::Column::LockedAt, Expr::value(now))
        .col_expr(jobs::Column::LockedBy, Expr::value(worker))
        .col_expr(
            jobs::Column::Attempts,
            Expr::col(jobs::Column::Attempts).add(1),
        )
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(due.id))
        .filter(jobs::Column::Status.eq(due.status.clone()))
        .filter(jobs::Column::UpdatedAt.eq(due.updated_at))
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    get(db, due.id).await
}

/// Record progress (0–100) and what was done so far.
pub async fn progress(
    db: &impl ConnectionTrait,
    id: Uuid,
    progress: i32,
    result: &Value,
) -> Result<()> {
    jobs::Entity::update_many()
        .col_expr(jobs::Column::Progress, Expr::value(progress.clamp(0, 100)))
        .col_expr(jobs::Column::Result, Expr::value(result.clone()))
        .col_expr(jobs::Column::LockedAt, Expr::value(Utc::now()))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(jobs::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Keep a running job's lease while its worker is alive, so a long import is not claimed
/// by a second worker; only the worker holding the job renews it.
async fn renew_lease(db: sea_orm::DatabaseConnection, id: Uuid, worker: String) {
    let mut tick = tokio::time::interval(LEASE / 4);
    tick.tick().await;
    loop {
        tick.tick().await;
        let renewed = jobs::Entity::update_many()
            .col_expr(jobs::Column::LockedAt, Expr::value(Utc::now()))
            .filter(jobs::Column::Id.eq(id))
            .filter(jobs::Column::Status.eq("running"))
            .filter(jobs::Column::LockedBy.eq(worker.as_str()))
            .exec(&db)
            .await;
        if let Err(err) = renewed {
            tracing::warn!(job = %id, error = %err, "renewing a job's lease failed");
        }
    }
}

/// Close a run: succeeded, queued again after a backoff, or failed for good. Only the
/// worker still holding the job records its end (one whose lease ran out and was claimed
/// by another leaves it to that one).
async fn finish(
    db: &impl ConnectionTrait,
    job: &jobs::Model,
    worker: &str,
    outcome: std::result::Result<Value, (JobFailure, Value)>,
) -> Result<()> {
    let now = Utc::now();
    let (status, error, result, run_at, progress): (
        &str,
        Option<String>,
        Value,
        DateTime<Utc>,
        i32,
    ) = match outcome {
        Ok(result) => ("succeeded", None, result, now, 100),
        Err((failure, result)) if failure.retry && job.attempts < MAX_ATTEMPTS => {
            let wait = failure
                .retry_after
                .unwrap_or_else(|| backoff(job.attempts))
                .max(backoff(job.attempts));
            let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
            tracing::info!(job = %job.id, kind = job.kind, attempts = job.attempts, error = failure.message, "job will be retried");
            ("queued", Some(failure.message), result, next, job.progress)
        }
        Err((failure, result)) => {
            tracing::warn!(job = %job.id, kind = job.kind, error = failure.message, "job failed");
            ("failed", Some(failure.message), result, now, 100)
        }
    };
    let done = jobs::Entity::update_many()
        .col_expr(jobs::Column::Status, Expr::value(status))
        .col_expr(jobs::Column::Error, Expr::value(error))
        .col_expr(jobs::Column::Result, Expr::value(result))
        .col_expr(jobs::Column::Progress, Expr::value(progress))
        .col_expr(jobs::Column::RunAt, Expr::value(run_at))
        .col_expr(
            jobs::Column::LockedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(jobs::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
        .filter(jobs::Column::Id.eq(job.id))
        .filter(jobs::Column::Status.eq("running"))
        .filter(jobs::Column::LockedBy.eq(worker))
        .exec(db)
        .await?;
    if done.rows_affected == 0 {
        tracing::warn!(job = %job.id, kind = job.kind, "another worker holds this job now; its end here is not recorded");
    }
    Ok(())
}

/// Run a job; a panic in it is a failure of that job (retried with backoff up to
/// [`MAX_ATTEMPTS`]), never the end of the worker.
async fn run_caught(
    state: &SharedState,
    job: &jobs::Model,
) -> std::result::Result<Value, (JobFailure, Value)> {
    use futures_util::FutureExt as _;
    match std::panic::AssertUnwindSafe(run(state, job))
        .catch_unwind()
        .await
    {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".into());
            tracing::error!(job = %job.id, kind = job.kind, panic = message, "a job panicked");
            Err((
                JobFailure::transient(format!("the job stopped on an internal error: {message}")),
                Value::Null,
            ))
        }
    }
}

async fn run(
    state: &SharedState,
    job: &jobs::Model,
) -> std::result::Result<Value, (JobFailure, Value)> {
    match job.kind.as_str() {
        import::KIND => import::run(state, job).await,
        other => Err((
            JobFailure::permanent(format!("no worker knows jobs of kind {other}")),
            Value::Null,
        )),
    }
}

/// Claim and run jobs until the process ends; sleeps when there is nothing to do, and wakes
/// at once when this replica queues one.
pub async fn run_forever(state: SharedState) {
    let worker = format!("{}-{}", std::process::id(), Uuid::new_v4().simple());
    loop {
        match claim(&state, &worker).await {
            Ok(Some(job)) => {
                let lease = tokio::spawn(renew_lease(state.db.clone(), job.id, worker.clone()));
                let outcome = run_caught(&state, &job).await;
                lease.abort();
                if let Err(err) = finish(&state.db, &job, &worker, outcome).await {
                    tracing::error!(job = %job.id, error = ?err, "recording the end of a job failed");
                }
                continue;
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(error = ?err, "claiming a job failed"),
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), state.jobs_wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(20));
        assert_eq!(backoff(20), Duration::from_secs(600));
    }
}
