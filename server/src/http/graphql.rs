//! `/graphql`: POST executes, GET serves GraphiQL.

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use subtle::ConstantTimeEq;

use crate::auth::principal::UserPrincipal;
use crate::auth::session::{self, CSRF_HEADER, SESSION_COOKIE};
use crate::auth::Principal;
use crate::error::Error;
use crate::graphql::RequestContext;
use crate::http::TokenAuth;
use crate::state::SharedState;

pub async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
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
    // Cross-site forms cannot send application/json without a CORS preflight, which this
    // server never grants: requiring it closes login CSRF.
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return graphql_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send GraphQL requests as application/json",
        );
    }

    let request = match GraphQLRequest::<GraphQLRejection>::from_request(request, &state).await {
        Ok(request) => request,
        Err(rejection) => {
            return graphql_error(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("malformed GraphQL request: {}", rejection.0),
            )
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
        let request = request.into_inner().data(state.clone()).data(context);
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

    let request = request.into_inner().data(state.clone()).data(context);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}
