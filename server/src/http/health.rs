//! Liveness and readiness.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::state::SharedState;

/// The process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The database and the blob store are reachable.
pub async fn readyz(State(state): State<SharedState>) -> (StatusCode, Json<Value>) {
    // Probed at most once per PROBE_TTL however often asked: a flood of readiness checks
    // costs no database round trips or storage writes beyond that.
    static LAST: tokio::sync::Mutex<Option<(Instant, bool, Value)>> =
        tokio::sync::Mutex::const_new(None);
    let mut last = LAST.lock().await;
    let (ready, mut body) = match &*last {
        Some((at, ready, body)) if at.elapsed() < PROBE_TTL => (*ready, body.clone()),
        _ => {
            let (ready, body) = probe(&state).await;
            *last = Some((Instant::now(), ready, body.clone()));
            (ready, body)
        }
    };
    drop(last);
    body["tasks"] = state.tasks.report();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// How long a readiness probe's answer is reused.
const PROBE_TTL: Duration = Duration::from_secs(1);
/// How long a probe waits for the database or the store before calling it unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

async fn probe(state: &SharedState) -> (bool, Value) {
    let database = match tokio::time::timeout(PROBE_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            "unreachable".to_owned()
        }
        Err(_) => {
            tracing::warn!("readiness: the database did not answer in {PROBE_TIMEOUT:?}");
            "unreachable".to_owned()
        }
    };
    let storage = match tokio::time::timeout(PROBE_TIMEOUT, state.blobs.probe()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: blob storage unreachable");
            "unreachable".to_owned()
        }
        Err(_) => {
            tracing::warn!("readiness: blob storage did not answer in {PROBE_TIMEOUT:?}");
            "unreachable".to_owned()
        }
    };
    let ready = database == "ok" && storage == "ok";
    (
        ready,
        json!({ "ready": ready, "database": database, "storage": storage }),
    )
}
