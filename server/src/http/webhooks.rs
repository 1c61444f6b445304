//! `/incoming/{provider}/{source}`: pushes from Git hosts. The signature (or GitLab's token)
//! is checked against the source's webhook secret in constant time; a push queues an import
//! of the pushed ref for every package imported from that project, a deleted ref removes
//! its version. Other events are accepted and ignored.

use axum::body::{to_bytes, Body};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::jobs::{self, import};
use crate::services::sources::{self, Ignored, Provider};
use crate::state::SharedState;

/// Largest webhook body read.
const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub fn router() -> Router<SharedState> {
    Router::new().route("/incoming/{provider}/{source}", post(incoming))
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

async fn incoming(
    State(state): State<SharedState>,
    Path((provider, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A source that does not exist answers exactly as a bad signature: the webhook URL
    // tells nobody which sources exist.
    let refused = || {
        answer(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "the signature does not match the source's webhook secret" }),
        )
    };
    let Ok(body) = to_bytes(body, BODY_LIMIT).await else {
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "error": format!("webhook bodies are limited to {BODY_LIMIT} bytes") }),
        );
    };
    let Some(provider) = Provider::parse(&provider) else {
        return refused();
    };
    let source = match sources::find_by_name(&state.db, &name).await {
        Ok(Some(source)) if sources::provider_of(&source) == Some(provider) => source,
        Ok(_) => return refused(),
        Err(err) => {
            tracing::error!(error = ?err, "webhook: source lookup failed");
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": "internal error" }),
            );
        }
    };
    let secret = match sources::webhook_secret(&state.secret_key, &source) {
        Ok(secret) => secret,
        Err(err) => {
            tracing::error!(error = ?err, "webhook: the secret cannot be read");
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({ "error": "internal error" }),
            );
        }
    };
    if !sources::verify(provider, &secret, &headers, &body) {
        tracing::info!(source = source.name, "webhook refused: bad signature");
        return refused();
    }
    // A delivery seen already (a replayed request, or the host retrying) queues nothing.
    if let Some(delivery) = delivery_id(&headers) {
        static SEEN: std::sync::LazyLock<moka::sync::Cache<String, ()>> =
            std::sync::LazyLock::new(|| {
                moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(std::time::Duration::from_secs(24 * 3600))
                    .build()
            });
        let key = crate::protocols::request_key(&[&source.id.as_bytes()[..], delivery]);
        if SEEN.contains_key(&key) {
            return answer(StatusCode::OK, json!({ "duplicate": true, "queued": [] }));
        }
        SEEN.insert(key, ());
    }
    let pushes = match sources::parse_push(provider, &headers, &body) {
        Ok(pushes) => pushes,
        Err(Ignored::Event(event)) => {
            return answer(
                StatusCode::ACCEPTED,
                json!({ "ignored": event, "queued": [] }),
            )
        }
        Err(Ignored::Malformed(reason)) => {
            return answer(StatusCode::BAD_REQUEST, json!({ "error": reason }))
        }
        Err(Ignored::BadSignature) => return refused(),
    };
    let mut queued = Vec::new();
    for pushed in pushes {
        let packages = match sources::packages_of_push(&state.db, &source, &pushed).await {
            Ok(packages) => packages,
            Err(err) => {
                tracing::error!(error = ?err, "webhook: package lookup failed");
                return answer(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "error": "internal error" }),
                );
            }
        };
        for package in packages {
            let payload = import::Payload {
                git_ref: Some(pushed.git_ref.clone()),
                deleted: pushed.deleted,
            };
            match jobs::enqueue(
                &state,
                import::KIND,
                Some(package.id),
                serde_json::to_value(payload).unwrap_or_default(),
            )
            .await
            {
                Ok(job) => queued.push(job.id.to_string()),
                Err(err) => {
                    tracing::error!(error = ?err, "webhook: queueing failed");
                    return answer(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        json!({ "error": "internal error" }),
                    );
                }
            }
        }
    }
    answer(StatusCode::ACCEPTED, json!({ "queued": queued }))
}

/// The host's id of a webhook delivery (GitHub, Gitea, GitLab, Bitbucket), when it sends one.
fn delivery_id(headers: &HeaderMap) -> Option<&[u8]> {
    [
        "x-github-delivery",
        "x-gitea-delivery",
        "x-gitlab-event-uuid",
        "x-request-uuid",
    ]
    .iter()
    .find_map(|name| headers.get(*name))
    .map(|value| value.as_bytes())
    .filter(|id| !id.is_empty() && id.len() <= 128)
}
