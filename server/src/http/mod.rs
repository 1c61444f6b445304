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

/// The token a request carries, authenticated: `None` without an `Authorization` header;
/// otherwise the caller, or why the credentials were refused (unknown, expired, revoked,
/// deactivated owner, not a token). The one way every route learns who sends a token;
/// each protocol answers a refusal in its own wire format.
pub struct TokenAuth(pub Option<crate::error::Result<crate::auth::Principal>>);

impl axum::extract::FromRequestParts<crate::state::SharedState> for TokenAuth {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &crate::state::SharedState,
    ) -> Result<Self, Self::Rejection> {
        Ok(TokenAuth::from_headers(state, &parts.headers).await)
    }
}

impl TokenAuth {
    /// The token of a request's headers, authenticated (for handlers that look at a cache
    /// before they need to know who asks).
    pub async fn from_headers(
        state: &crate::state::SharedState,
        headers: &http::HeaderMap,
    ) -> Self {
        let Some(secret) = crate::auth::token::secret_from_headers(headers) else {
            return TokenAuth(None);
        };
        TokenAuth(Some(match secret {
            Ok(secret) => state.tokens.authenticate(&state.db, &secret).await,
            Err(err) => Err(err),
        }))
    }
}
