//! Liveness and readiness.

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
    let database = match state.db.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            "unreachable".to_owned()
        }
    };
    let storage = match state.blobs.probe().await {
        Ok(()) => "ok".to_owned(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: blob storage unreachable");
            "unreachable".to_owned()
        }
    };
    let ready = database == "ok" && storage == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "ready": ready, "database": database, "storage": storage })),
    )
}
