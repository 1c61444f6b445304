//! `/graphql`: POST executes, GET serves GraphiQL.

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::GraphQLResponse;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
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

    // Who is calling, before any of the body is read.
    let context = match caller(&state, address, token, &headers).await {
        Ok(context) => context,
        Err(refused) => return refused,
    };
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
        // Only uploads send multipart: a known caller (a token, or a session proving its
        // CSRF token) may send one; nobody else gets a byte of it read.
        if matches!(context.principal, Principal::Anonymous) {
            return graphql_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "sign in or send a token to upload",
            );
        }
        if context.cookie_authenticated && !context.csrf_verified {
            return graphql_error(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "the x-csrf-token header does not match this session",
            );
        }
        match receive_multipart(&content_type, body, state.config.max_body_size).await {
            Ok(request) => request,
            Err(refused) => return refused,
        }
    };
    let request = request.data(state.clone()).data(context);
    GraphQLResponse::from(crate::graphql::schema().execute(request).await).into_response()
}

/// The caller of a GraphQL request: a token, a browser session (with whether it proved its
/// CSRF token), or anonymous; or the answer refusing the credentials sent.
async fn caller(
    state: &SharedState,
    address: Option<std::net::IpAddr>,
    token: TokenAuth,
    headers: &axum::http::HeaderMap,
) -> Result<RequestContext, Response> {
    let mut context = RequestContext {
        principal: Principal::Anonymous,
        address,
        cookie_authenticated: false,
        csrf_verified: false,
    };
    if let TokenAuth(Some(principal)) = token {
        return match principal {
            Ok(principal) => {
                context.principal = principal;
                Ok(context)
            }
            Err(Error::Internal(err)) => {
                tracing::error!(error = ?err, "token lookup failed");
                Err(graphql_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "internal error",
                ))
            }
            Err(err) => Err(graphql_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                &err.to_string(),
            )),
        };
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
                return Err(graphql_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "INTERNAL",
                    "internal error",
                ));
            }
        }
    }
    Ok(context)
}

/// Largest `map` field of a multipart GraphQL request.
const MAP_LIMIT: u64 = 64 * 1024;

/// A GraphQL multipart request (the GraphQL multipart request specification), read with
/// small caps: `operations` up to the JSON body limit, `map` up to [`MAP_LIMIT`], and one
/// file streamed to a temporary file up to the upload limit.
async fn receive_multipart(
    content_type: &str,
    body: axum::body::Body,
    max_file: u64,
) -> Result<async_graphql::Request, Response> {
    use tokio::io::AsyncWriteExt;
    let bad = |message: String| {
        graphql_error(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!("malformed GraphQL request: {message}"),
        )
    };
    let too_large = |what: &str| {
        graphql_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BAD_USER_INPUT",
            &format!("{what} is too large"),
        )
    };
    let refused = |err: multer::Error| match err {
        multer::Error::FieldSizeExceeded { field_name, .. } => {
            too_large(&format!("the field {}", field_name.unwrap_or_default()))
        }
        multer::Error::StreamSizeExceeded { .. } => too_large("the request"),
        other => bad(other.to_string()),
    };
    let boundary = multer::parse_boundary(content_type).map_err(|err| bad(err.to_string()))?;
    let limits = multer::SizeLimit::new()
        .whole_stream(max_file.saturating_add(2 * GRAPHQL_BODY_LIMIT as u64))
        .for_field("operations", GRAPHQL_BODY_LIMIT as u64)
        .for_field("map", MAP_LIMIT);
    let mut multipart = multer::Multipart::with_constraints(
        body.into_data_stream(),
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let mut request: Option<async_graphql::Request> = None;
    let mut map: Option<std::collections::HashMap<String, Vec<String>>> = None;
    let mut files = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(refused)? {
        match field.name().unwrap_or("") {
            "operations" => {
                let bytes = field.bytes().await.map_err(refused)?;
                request = Some(serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?);
            }
            "map" => {
                let bytes = field.bytes().await.map_err(refused)?;
                map = Some(serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?);
            }
            name => {
                let (Some(request), Some(map)) = (request.as_mut(), map.as_ref()) else {
                    return Err(bad("operations and map come before the files".into()));
                };
                let Some(paths) = map.get(name) else {
                    return Err(bad(format!("the file {name} is not named in map")));
                };
                files += 1;
                if files > 1 {
                    return Err(bad("send one file per request".into()));
                }
                let filename = field.file_name().unwrap_or_default().to_owned();
                let file_type = field.content_type().map(|m| m.to_string());
                let internal = |err: std::io::Error| {
                    tracing::error!(error = %err, "cannot keep an uploaded file");
                    graphql_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "INTERNAL",
                        "internal error",
                    )
                };
                let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(internal)?);
                let mut written = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(refused)? {
                    written += chunk.len() as u64;
                    if written > max_file {
                        return Err(too_large("the file"));
                    }
                    file.write_all(&chunk).await.map_err(internal)?;
                }
                file.flush().await.map_err(internal)?;
                let mut content = file.into_std().await;
                std::io::Seek::rewind(&mut content).map_err(internal)?;
                for path in paths {
                    request.set_upload(
                        path,
                        async_graphql::UploadValue {
                            filename: filename.clone(),
                            content_type: file_type.clone(),
                            content: content.try_clone().map_err(internal)?,
                        },
                    );
                }
            }
        }
    }
    request.ok_or_else(|| bad("no operations field".into()))
}
