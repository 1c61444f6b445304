//! HTTP: the router, middleware, and the routes that are not package protocols.

mod graphql;
mod health;
pub mod metrics;
mod spa;
mod sso;
mod webhooks;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, DefaultBodyLimit};
use axum::routing::get;
use axum::Router;

use crate::state::SharedState;

pub fn router(state: SharedState) -> Router {
    // Bodies are bounded inside the handler: 1 MiB of JSON, or an upload up to the limit.
    let graphql = Router::new().route("/graphql", get(graphql::graphiql).post(graphql::execute));

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::render))
        .merge(graphql)
        .merge(sso::router())
        .merge(webhooks::router())
        .merge(
            Router::new()
                .merge(crate::protocols::composer::router())
                .merge(crate::protocols::maven::router())
                .merge(crate::protocols::oci::router())
                .layer(axum::middleware::from_fn(
                    crate::protocols::close_after_refused_upload,
                )),
        )
        .fallback(spa::serve)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::protocols::abandon_idle_uploads,
        ))
        .layer(DefaultBodyLimit::max(
            usize::try_from(state.config.max_body_size).unwrap_or(usize::MAX),
        ))
        .layer(metrics::ObserveLayer)
        .with_state(state)
}

/// The peer address of a request, when the server knows it.
pub fn client_address(request_extensions: &http::Extensions) -> Option<IpAddr> {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

pub use crate::state::TokenAuth;
