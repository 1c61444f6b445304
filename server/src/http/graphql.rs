//! `/graphql`: POST executes, GET serves GraphiQL.

use async_graphql::http::{GraphiQLSource, MultipartOptions};
use async_graphql::ParseRequestError;
use async_graphql_axum::GraphQLResponse;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use futures_util::TryStreamExt;
use subtle::ConstantTimeEq;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::auth::principal::UserPrincipal;
use crate::auth::session::{self, CSRF_HEADER, SESSION_COOKIE};
use crate::auth::Principal;
use crate::error::Error;
use crate::graphql::RequestContext;
use crate::http::TokenAuth;
use crate::state::SharedState;

/// Largest JSON GraphQL request body.
const GRAPHQL_BODY_LIMIT: usize = 1024 * 1024;

/// GraphiQL loads its scripts and styles from unpkg; nothing else may load or frame it.
const GRAPHIQL_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline' https://unpkg.com; \
     style-src 'unsafe-inline' https://unpkg.com; img-src 'self' data: https://unpkg.com; \
     font-src data: https://unpkg.com; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

pub async fn graphiql() -> axum::response::Response {
    let mut response = Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    super::spa::page_headers(response.headers_mut(), GRAPHIQL_POLICY);
    response
}

/// The peer address, when known.
pub struct ClientAddress(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(super::client_address(&parts.extensions)))
    }
}

fn graphql_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({
            "errors": [{ "message": message, "extensions": { "code": code } }]
        })),
    )
        .into_response()
}

pub async fn execute(
    State(state): State<SharedState>,
    ClientAddress(address): ClientAddress,
    token: TokenAuth,
    request: Request,
) -> Response {
    let headers = request.headers().clone();
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    // Cross-site forms cannot send application/json without a CORS preflight, which this
    // server never grants: requiring it closes login CSRF. Multipart requests (file uploads)
    // are what a form can send, so they must carry a header no form can set: a token, or
    // the session's CSRF header.
    let is_json = content_type.starts_with("application/json");
    let is_multipart = content_type.starts_with("multipart/form-data");
    if !is_json && !is_multipart {
        return graphql_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send GraphQL requests as application/json (or multipart/form-data for uploads)",
        );
    }
    if is_multipart && !headers.contains_key(AUTHORIZATION) && !headers.contains_key(CSRF_HEADER) {
        return graphql_error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "multipart GraphQL requests need an Authorization or x-csrf-token header",
        );
    }

    let body = request.into_body();
    let request: async_graphql::Request = if is_json {
        let bytes = match axum::body::to_bytes(body, GRAPHQL_BODY_LIMIT).await {
            Ok(bytes) => bytes,
            Err(_) => {
                return graphql_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "BAD_USER_INPUT",
                    &format!("GraphQL requests are limited to {GRAPHQL_BODY_LIMIT} bytes"),
                )
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(request) => request,
            Err(err) => {
                return graphql_error(
                    StatusCode::BAD_REQUEST,
                    "BAD_USER_INPUT",
                    &format!("malformed GraphQL request: {err}"),
                )
            }
        }
    } else {
        let stream = body.into_data_stream().map_err(std::io::Error::other);
        let reader = tokio_util::io::StreamReader::new(stream).compat();
        let options = MultipartOptions::default()
            .max_num_files(1)
            .max_file_size(usize::try_from(state.config.max_body_size).unwrap_or(usize::MAX));
        match async_graphql::http::receive_body(Some(&content_type), reader, options).await {
            Ok(request) => request,
            Err(err) => {
                let status = match err {
                    ParseRequestError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                    _ => StatusCode::BAD_REQUEST,
                };
                return graphql_error(
                    status,
                    "BAD_USER_INPUT",
                    &format!("malformed GraphQL request: {err}"),
                );
            }
        }
    };

    let mut context = RequestContext {
        principal: Principal::Anonymous,
        address,
        cookie_authenticated: false,
        csrf_verified: false,
    };
    if let TokenAuth(Some(principal)) = token {
        match principal {
            Ok(principal) => context.principal = principal,
            Err(Error::Internal(err)) => {
                tracing::error!(error = ?err, "token lookup failed");
                return graphql_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "internal error",
                );
            }
            Err(err) => {
                return graphql_error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    &err.to_string(),
                )
            }
        }
        let request = request.data(state.clone()).data(context);
        return GraphQLResponse::from(state.schema.execute(request).await).into_response();
    }
    let cookie_header = headers.get(COOKIE).and_then(|v| v.to_str().ok());
    if let Some(value) = cookie_header.and_then(|h| session::cookie_value(h, SESSION_COOKIE)) {
        match session::find(&state.db, value).await {
            Ok(Some((found, user))) => {
                let sent = headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                context.csrf_verified =
                    bool::from(sent.as_bytes().ct_eq(found.csrf_token.as_bytes()));
                context.cookie_authenticated = true;
                context.principal = Principal::Session {
                    user: UserPrincipal::from(&user),
                    session_id: found.id,
                };
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = ?err, "session lookup failed");
                return graphql_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "internal error",
                );
            }
        }
    }

    let request = request.data(state.clone()).data(context);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}
