//! Package-manager protocols, each on its own routes and in its own wire format.

pub mod composer;
pub mod maven;
pub mod oci;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH,
    LAST_MODIFIED,
};
use http::{HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::state::TokenAuth;

/// The caller of a protocol route: anonymous without credentials, or the token's principal;
/// credentials that are present but not good are refused.
pub fn principal(auth: TokenAuth) -> Result<Principal> {
    match auth.0 {
        None => Ok(Principal::Anonymous),
        Some(result) => result,
    }
}

/// The caller of a read-only protocol route: as [`principal`], and without a token, the
/// browser's session cookie (so a signed-in person can download from the web interface).
/// Never used for writes: those take tokens only.
pub async fn reader_principal(
    state: &crate::state::SharedState,
    auth: TokenAuth,
    headers: &HeaderMap,
) -> Result<Principal> {
    if auth.0.is_some() {
        return principal(auth);
    }
    let cookie = headers
        .get(http::header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| crate::auth::session::cookie_value(h, crate::auth::session::SESSION_COOKIE));
    if let Some(value) = cookie {
        if let Some((session, user)) = crate::auth::session::find(&state.db, value).await? {
            return Ok(Principal::Session {
                user: crate::auth::principal::UserPrincipal::from(&user),
                session_id: session.id,
            });
        }
    }
    Ok(Principal::Anonymous)
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(time: DateTime<Utc>) -> String {
    time.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A strong validator for a body.
pub fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &hex::encode(Sha256::digest(body))[..32])
}

/// Whether the client's cached copy (named by `If-None-Match`, or else dated by
/// `If-Modified-Since`) is still current.
pub fn not_modified(headers: &HeaderMap, etag: &str, last_modified: DateTime<Utc>) -> bool {
    if headers.contains_key(IF_NONE_MATCH) {
        return etag_matches(headers, etag);
    }
    headers
        .get(IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .is_some_and(|since| last_modified.timestamp() <= since.timestamp())
}

/// A metadata document with `ETag` and `Last-Modified`, or `304 Not Modified`.
pub fn conditional(
    headers: &HeaderMap,
    content_type: &'static str,
    body: Bytes,
    etag: &str,
    last_modified: DateTime<Utc>,
) -> Response {
    let mut response = if not_modified(headers, etag, last_modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let length = body.len();
        let mut response = Response::new(Body::from(body));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
        response
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&http_date(last_modified)) {
        headers.insert(LAST_MODIFIED, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    response
}

/// Whether `If-None-Match` names `etag` (or `*`).
pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == "*" || tag == etag)
        })
}

/// `304 Not Modified` for a document whose ETag the client named.
pub fn not_modified_response(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    response
}

/// A document validated by its ETag alone (lists whose ETag is known before they are
/// built: see [`crate::services::catalog::DocumentKey::etag`]).
pub fn tagged(content_type: &'static str, body: Body, length: Option<u64>, etag: &str) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(length) = length {
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    response
}

/// Percent-encode one URL path segment.
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'+' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Log an internal error once, where it becomes a response.
pub fn log_internal(error: &Error) {
    match error {
        Error::Internal(source) => tracing::error!(error = ?source, "internal error"),
        Error::Unavailable(source) => tracing::warn!(error = %source, "database unavailable"),
        Error::InsufficientStorage(source) => {
            tracing::error!(error = %source, "storage full: a write was refused")
        }
        _ => {}
    }
}

/// An error for the protocols whose wire format is plain text (Composer, Maven): the message
/// and a newline, with `WWW-Authenticate: Basic` on 401 so clients send their credentials.
pub struct PlainError(pub Error);

impl From<Error> for PlainError {
    fn from(err: Error) -> Self {
        PlainError(err)
    }
}

impl From<sea_orm::DbErr> for PlainError {
    fn from(err: sea_orm::DbErr) -> Self {
        PlainError(err.into())
    }
}

impl IntoResponse for PlainError {
    fn into_response(self) -> Response {
        log_internal(&self.0);
        let status = self.0.status();
        let mut response = (
            status,
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.0),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Packistry\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Middleware: a request body that sends nothing for `PACKISTRY_UPLOAD_IDLE_SECONDS` fails
/// the request (as nginx's `client_body_timeout`), so a client that stops sending, or sends
/// fewer bytes than its `Content-Length`, cannot hold a staging file and a connection open.
pub async fn abandon_idle_uploads(
    axum::extract::State(state): axum::extract::State<crate::state::SharedState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Only methods that carry a body upload anything: the rest go by untouched.
    if !matches!(
        *request.method(),
        http::Method::PUT | http::Method::POST | http::Method::PATCH
    ) {
        return next.run(request).await;
    }
    let idle = std::time::Duration::from_secs(state.config.upload_idle_seconds);
    let request = request
        .map(|body| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(idle, body)));
    next.run(request).await
}

pub use crate::error::{body_too_large, body_went_idle};

/// The key an answer to a request is kept by: a SHA-256 of the parts that decide the
/// answer (credentials, path, `Accept`), so a key is 64 characters however long the caller
/// made them, and no credential is kept in memory as it was sent.
pub fn request_key(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// The largest body a protocol route reads into memory (checksums, notifications,
/// metadata): every larger upload streams to disk.
pub const SMALL_BODY: usize = 1024 * 1024;

/// A small request body read whole, once its caller has been allowed: 413 past
/// [`SMALL_BODY`] bytes.
pub async fn small_body(body: axum::body::Body) -> crate::error::Result<bytes::Bytes> {
    axum::body::to_bytes(body, SMALL_BODY).await.map_err(|err| {
        if body_too_large(&err) {
            crate::error::Error::PayloadTooLarge(format!(
                "this request's body may be at most {SMALL_BODY} bytes"
            ))
        } else {
            crate::error::Error::body(&err)
        }
    })
}

/// Middleware: an error answered to an upload (PUT, POST, PATCH) closes the connection.
/// The handler may answer before reading the body (a 401 challenge, a 403, a 409); a client
/// that sent `Expect: 100-continue` may then send the body anyway after its wait, and on a
/// kept-alive connection those bytes would be read as the next request.
pub async fn close_after_refused_upload(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let upload = matches!(
        *request.method(),
        http::Method::PUT | http::Method::POST | http::Method::PATCH
    );
    let mut response = next.run(request).await;
    if upload && (response.status().is_client_error() || response.status().is_server_error()) {
        response
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
