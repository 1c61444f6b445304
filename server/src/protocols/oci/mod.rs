//! Containers: the OCI distribution specification v1.1 under `/v2/`, with Docker token
//! authentication. An image name's first segment is the Packistry repository, the rest the
//! image inside it (`/v2/acme/team/app/manifests/v1`). Errors are
//! `{"errors":[{"code","message","detail"}]}` with the specification's codes.

pub mod auth;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use bytes::Bytes;
use chrono::Utc;
use futures_util::StreamExt;
use http::header::{
    CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use packistry_shared::permissions::Permission;
use packistry_shared::Format;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::entities::{
    blobs, oci_blobs, oci_manifests, oci_tags, oci_uploads, packages, repositories,
};
use crate::error::Error;
use crate::services::access::{Access, PackageScope};
use crate::services::audit::{self, Actor, Target};
use crate::services::catalog::{self, Filter, Listed};
use crate::services::downloads::Downloader;
use crate::services::packages as package_service;
use crate::state::SharedState;
use crate::storage::{Hashes, StageError, Staged};

const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*rest}", any(dispatch))
}

/// An error in the distribution specification's format.
#[derive(Debug)]
pub struct OciError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// For 401: the scope to name in the challenge.
    scope: Option<String>,
}

impl OciError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        OciError {
            status,
            code,
            message: message.into(),
            scope: None,
        }
    }
}

/// Map a service error to the specification's codes.
fn from_error(err: Error, not_found_code: &'static str, scope: Option<String>) -> OciError {
    crate::protocols::log_internal(&err);
    let message = err.to_string();
    match err {
        Error::Unauthenticated(_) => OciError {
            status: StatusCode::UNAUTHORIZED,
            code: "UNAUTHORIZED",
            message,
            scope,
        },
        Error::Forbidden(_) => OciError::new(StatusCode::FORBIDDEN, "DENIED", message),
        Error::NotFound(_) => OciError::new(StatusCode::NOT_FOUND, not_found_code, message),
        Error::BadUserInput(_) => OciError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", message),
        Error::Conflict(_) => OciError::new(StatusCode::CONFLICT, "DENIED", message),
        Error::PayloadTooLarge(_) => {
            OciError::new(StatusCode::PAYLOAD_TOO_LARGE, "SIZE_INVALID", message)
        }
        Error::RequestTimeout(_) => {
            OciError::new(StatusCode::REQUEST_TIMEOUT, "BLOB_UPLOAD_INVALID", message)
        }
        Error::Unavailable(_) => {
            OciError::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", message)
        }
        Error::InsufficientStorage(_) => {
            OciError::new(StatusCode::INSUFFICIENT_STORAGE, "UNKNOWN", message)
        }
        Error::Internal(_) => OciError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "internal error",
        ),
    }
}

impl From<sea_orm::DbErr> for OciError {
    fn from(err: sea_orm::DbErr) -> Self {
        from_error(err.into(), "UNKNOWN", None)
    }
}

struct Ctx {
    state: SharedState,
    base: String,
}

impl OciError {
    fn into_response_with(self, ctx: &Ctx) -> Response {
        let body =
            json!({ "errors": [{ "code": self.code, "message": self.message, "detail": {} }] });
        let mut response = (
            self.status,
            [(CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        response.headers_mut().insert(
            "Docker-Distribution-API-Version",
            HeaderValue::from_static("registry/2.0"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            let mut challenge = format!(
                "Bearer realm=\"{}/v2/token\",service=\"{}\"",
                ctx.base,
                auth::service(&ctx.state)
            );
            if let Some(scope) = self.scope {
                challenge.push_str(&format!(",scope=\"{scope}\""));
            }
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

type Outcome = Result<Response, OciError>;

static NAME_COMPONENT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$").expect("name pattern")
});
static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("tag pattern")
});

/// `sha256:…` or `sha512:…` with the right length of lowercase hex.
fn valid_digest(digest: &str) -> bool {
    match digest.split_once(':') {
        Some(("sha256", hex)) => {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        Some(("sha512", hex)) => {
            hex.len() == 128
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        _ => false,
    }
}

fn digest_of(staged: &Staged, algorithm: &str) -> String {
    match algorithm {
        "sha512" => format!("sha512:{}", staged.sha512),
        _ => format!("sha256:{}", staged.sha256),
    }
}

/// What a `/v2/…` path asks for.
#[derive(Debug)]
enum Route {
    Base,
    Token,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    Uploads(String),
    Upload(String, String),
    Referrers(String, String),
}

fn parse_route(rest: &str) -> Option<Route> {
    if rest.is_empty() {
        return Some(Route::Base);
    }
    if rest == "token" {
        return Some(Route::Token);
    }
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.to_owned()));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::Uploads(name.to_owned()));
    }
    for (marker, kind) in [
        ("/manifests/", 0),
        ("/blobs/uploads/", 1),
        ("/blobs/", 2),
        ("/referrers/", 3),
    ] {
        if let Some(at) = rest.rfind(marker) {
            let name = rest[..at].to_owned();
            let reference = rest[at + marker.len()..].to_owned();
            if reference.is_empty() || reference.contains('/') {
                continue;
            }
            return Some(match kind {
                0 => Route::Manifest(name, reference),
                1 => Route::Upload(name, reference),
                2 => Route::Blob(name, reference),
                _ => Route::Referrers(name, reference),
            });
        }
    }
    None
}

async fn dispatch(State(state): State<SharedState>, request: Request) -> Response {
    let base = state.base_url.clone();
    let ctx = Ctx { state, base };
    let path = request.uri().path().to_owned();
    let rest = path
        .strip_prefix("/v2")
        .unwrap_or("")
        .trim_start_matches('/')
        .to_owned();
    let answer = match parse_route(&rest) {
        None => Err(OciError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("no such endpoint: {path}"),
        )),
        Some(route) => handle(&ctx, route, request).await,
    };
    let mut response = answer.unwrap_or_else(|err| err.into_response_with(&ctx));
    response.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}

/// The repository and image of a name, and the caller's access.
struct ImageName {
    repository: repositories::Model,
    image: String,
    name: String,
}

/// The image a name points to. A repository that does not exist answers exactly as one the
/// caller may not see: 401 with the challenge for anonymous callers, else the same 404.
async fn resolve(
    ctx: &Ctx,
    access: &Access,
    name: &str,
    method: &Method,
) -> Result<ImageName, OciError> {
    let invalid = || {
        OciError::new(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            format!("invalid repository name {name}"),
        )
    };
    if name.len() > 255 || name.split('/').any(|c| !NAME_COMPONENT.is_match(c)) {
        return Err(invalid());
    }
    let (repository, image) = name.split_once('/').ok_or_else(|| {
        OciError::new(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("{name}: name an image inside a repository, e.g. {name}/app"),
        )
    })?;
    let repository = ctx
        .state
        .protocol_repository(repository)
        .await
        .map_err(|e| from_error(e, "NAME_UNKNOWN", None))?
        .filter(|r| r.format() == Some(Format::Container))
        .ok_or_else(|| match access.unknown_repository(repository) {
            Error::NotFound(_) => name_unknown(name),
            err => from_error(err, "NAME_UNKNOWN", Some(scope_for(name, method))),
        })?;
    Ok(ImageName {
        repository,
        image: image.to_owned(),
        name: name.to_owned(),
    })
}

fn scope_for(name: &str, method: &Method) -> String {
    match *method {
        Method::GET | Method::HEAD => format!("repository:{name}:pull"),
        Method::DELETE => format!("repository:{name}:delete"),
        _ => format!("repository:{name}:pull,push"),
    }
}

async fn image_package(ctx: &Ctx, target: &ImageName) -> Result<Option<packages::Model>, OciError> {
    ctx.state
        .protocol_package(target.repository.id, &target.image)
        .await
        .map_err(|e| from_error(e, "NAME_UNKNOWN", None))
}

/// Check a permission on the image, answering 401 (with this name's scope), 403, or 404.
fn check(
    access: &Access,
    target: &ImageName,
    needed: Permission,
    method: &Method,
) -> Result<(), OciError> {
    access
        .check(
            &target.repository,
            PackageScope::Package(&target.image),
            &[needed],
        )
        .map_err(|err| match err {
            Error::NotFound(_) => name_unknown(&target.name),
            err => from_error(err, "NAME_UNKNOWN", Some(scope_for(&target.name, method))),
        })
}

/// The one answer for an image that does not exist, lies in a repository the caller may not
/// see, or lies outside the caller's package limit.
fn name_unknown(name: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "NAME_UNKNOWN",
        format!("repository name not known to registry: {name}"),
    )
}

async fn handle(ctx: &Ctx, route: Route, request: Request) -> Outcome {
    let (parts, body) = request.into_parts();
    let (method, headers) = (parts.method, parts.headers);
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    // A manifest asked again with the same credentials: the answer of a moment ago.
    let answer_key = match (&route, &method) {
        (Route::Manifest(..), &Method::GET | &Method::HEAD) => {
            Some(answer_key(&headers, parts.uri.path()))
        }
        _ => None,
    };
    if let (Some(key), Route::Manifest(_, reference)) = (&answer_key, &route) {
        if let Some(answer) = ctx.state.manifest_answers.get(key).await {
            if answer.valid_until.is_none_or(|at| at > Utc::now()) {
                let head = method == Method::HEAD;
                if !head {
                    answer.count_pull(ctx, reference, peer);
                }
                return Ok(answer.response(head));
            }
        }
    }
    if let Route::Token = route {
        return token(ctx, &headers, parts.uri.query().unwrap_or("")).await;
    }
    let principal = auth::caller(&ctx.state, &headers)
        .await
        .map_err(|err| from_error(err, "UNAUTHORIZED", None))?;
    let access = ctx
        .state
        .protocol_access(principal)
        .await
        .map_err(|e| from_error(e, "UNKNOWN", None))?;
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| url_pairs(q).into_iter().collect())
        .unwrap_or_default();
    match route {
        Route::Token => unreachable!("answered above"),
        Route::Base => {
            if matches!(access.principal, Principal::Anonymous) {
                return Err(OciError::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "authentication required",
                ));
            }
            Ok((StatusCode::OK, [(CONTENT_TYPE, "application/json")], "{}").into_response())
        }
        Route::Catalog => catalog(ctx, &access, &query).await,
        Route::Tags(name) => {
            let target = resolve(ctx, &access, &name, &method).await?;
            check(&access, &target, Permission::Download, &method)?;
            let package = image_package(ctx, &target).await?;
            tags_list(ctx, &target, package, &query).await
        }
        Route::Manifest(name, reference) => {
            let target = resolve(ctx, &access, &name, &method).await?;
            let package = image_package(ctx, &target).await?;
            match method {
                Method::GET | Method::HEAD => {
                    check(&access, &target, Permission::Download, &method)?;
                    let head = method == Method::HEAD;
                    let package = package.ok_or_else(|| manifest_unknown(&reference))?;
                    let who = Downloader::new(&access.principal, None);
                    let answer =
                        get_manifest(ctx, &package, &reference, &headers, head, who).await?;
                    if !head {
                        answer.count_pull(ctx, &reference, peer);
                        if let Some(key) = answer_key {
                            let mut answer = answer.clone();
                            answer.valid_until =
                                access.principal.token().and_then(|t| t.expires_at);
                            ctx.state
                                .manifest_answers
                                .insert(key, std::sync::Arc::new(answer))
                                .await;
                        }
                    }
                    Ok(answer.response(head))
                }
                Method::PUT => {
                    check(&access, &target, Permission::Upload, &method)?;
                    put_manifest(ctx, &access, &target, &reference, &headers, body).await
                }
                Method::DELETE => {
                    check(&access, &target, Permission::Administer, &method)?;
                    deletes_allowed(&target)?;
                    delete_manifest(ctx, &access, &target, package, &reference).await
                }
                _ => Err(unsupported_method()),
            }
        }
        Route::Blob(name, digest) => {
            let target = resolve(ctx, &access, &name, &method).await?;
            let package = image_package(ctx, &target).await?;
            match method {
                Method::GET | Method::HEAD => {
                    check(&access, &target, Permission::Download, &method)?;
                    get_blob(ctx, package, &digest, &headers, method == Method::HEAD).await
                }
                Method::DELETE => {
                    check(&access, &target, Permission::Administer, &method)?;
                    deletes_allowed(&target)?;
                    delete_blob(ctx, package, &digest).await
                }
                _ => Err(unsupported_method()),
            }
        }
        Route::Uploads(name) => {
            let target = resolve(ctx, &access, &name, &method).await?;
            if method != Method::POST {
                return Err(unsupported_method());
            }
            check(&access, &target, Permission::Upload, &method)?;
            start_upload(ctx, &access, &target, &query, body).await
        }
        Route::Upload(name, id) => {
            let target = resolve(ctx, &access, &name, &method).await?;
            check(&access, &target, Permission::Upload, &method)?;
            let upload = find_upload(ctx, &target, &id).await?;
            match method {
                Method::GET => upload_status(&target, &upload),
                Method::PATCH => patch_upload(ctx, &target, upload, &headers, body).await,
                Method::PUT => finish_upload(ctx, &target, upload, &query, &headers, body).await,
                Method::DELETE => cancel_upload(ctx, upload).await,
                _ => Err(unsupported_method()),
            }
        }
        Route::Referrers(name, digest) => {
            let target = resolve(ctx, &access, &name, &method).await?;
            let package = image_package(ctx, &target).await?;
            check(&access, &target, Permission::Download, &method)?;
            referrers(ctx, package, &digest, &query).await
        }
    }
}

/// 405 where the repository forbids deletes.
fn deletes_allowed(target: &ImageName) -> Result<(), OciError> {
    if target.repository.allow_deletes {
        Ok(())
    } else {
        Err(OciError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            format!(
                "deletes are disabled on repository {}",
                target.repository.name
            ),
        ))
    }
}

fn unsupported_method() -> OciError {
    OciError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "UNSUPPORTED",
        "this method is not supported here",
    )
}

/// `a=b&c=d`, percent-decoded.
/// A query string's pairs, decoded as a form (`+` is a space, `%XX` a byte); any input,
/// however malformed, decodes to something.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `GET /v2/token?service=…&scope=repository:acme/app:pull,push…`
async fn token(ctx: &Ctx, headers: &HeaderMap, query: &str) -> Outcome {
    let pairs = url_pairs(query);
    let (principal, hash) = match auth::basic_token_hash(headers) {
        Some(hash) => (
            ctx.state
                .tokens
                .authenticate_hash(&ctx.state.db, &hash)
                .await
                .map_err(|err| from_error(err, "UNAUTHORIZED", None))?,
            Some(hash),
        ),
        None => match auth::caller(&ctx.state, headers).await {
            Ok(principal) => (principal, None),
            Err(err) => return Err(from_error(err, "UNAUTHORIZED", None)),
        },
    };
    // A bearer Packistry token (not Basic) also identifies its holder.
    let hash = hash.or_else(|| {
        crate::auth::token::secret_from_headers(headers)
            .and_then(|r| r.ok())
            .map(|secret| crate::auth::hash_secret(&secret))
    });
    let access = ctx
        .state
        .protocol_access(principal.clone())
        .await
        .map_err(|e| from_error(e, "UNKNOWN", None))?;
    let mut granted = Vec::new();
    for scope in pairs.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v) {
        for one in scope.split(' ') {
            let mut parts = one.splitn(3, ':');
            let (Some(kind), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            if kind == "registry" && name == "catalog" {
                granted.push(auth::AccessEntry {
                    kind: kind.into(),
                    name: name.into(),
                    actions: vec!["*".into()],
                });
                continue;
            }
            if kind != "repository" {
                continue;
            }
            let mut actions = Vec::new();
            if let Ok(target) = resolve(ctx, &access, name, &Method::GET).await {
                let permissions =
                    access.permissions(&target.repository, PackageScope::Package(&target.image));
                if permissions.contains(Permission::Download) {
                    actions.push("pull".to_owned());
                }
                if permissions.contains(Permission::Upload) {
                    actions.push("push".to_owned());
                }
                if permissions.contains(Permission::Administer) {
                    actions.push("delete".to_owned());
                }
            }
            granted.push(auth::AccessEntry {
                kind: kind.into(),
                name: name.into(),
                actions,
            });
        }
    }
    let subject = match &principal {
        Principal::Anonymous => String::new(),
        other => other.display_name(),
    };
    let (token, issued) = auth::issue(
        &ctx.state,
        &subject,
        hash.filter(|_| !matches!(principal, Principal::Anonymous)),
        granted,
    )?;
    let issued_at = chrono::DateTime::from_timestamp(issued, 0)
        .unwrap_or_else(Utc::now)
        .to_rfc3339();
    Ok(axum::Json(json!({
        "token": token,
        "access_token": token,
        "expires_in": auth::TOKEN_SECONDS,
        "issued_at": issued_at,
    }))
    .into_response())
}

impl From<Error> for OciError {
    fn from(err: Error) -> Self {
        from_error(err, "UNKNOWN", None)
    }
}

/// `n` and `last` of a paginated list, and the `Link` to the next page.
fn paginate(
    mut items: Vec<String>,
    query: &HashMap<String, String>,
    path: &str,
) -> Result<(Vec<String>, Option<String>), OciError> {
    items.sort();
    items.dedup();
    if let Some(last) = query.get("last") {
        items.retain(|i| i.as_str() > last.as_str());
    }
    let n = match query.get("n") {
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            OciError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", "n must be a number")
        })?),
        None => None,
    };
    match n {
        Some(n) if items.len() > n => {
            items.truncate(n);
            let last = items.last().cloned().unwrap_or_default();
            Ok((
                items,
                Some(format!(
                    "<{path}?n={n}&last={}>; rel=\"next\"",
                    crate::protocols::encode_segment(&last)
                )),
            ))
        }
        _ => Ok((items, None)),
    }
}

/// Names per `_catalog` page unless `n` asks otherwise, and the most `n` may ask for.
const CATALOG_PAGE: u64 = 100;
const CATALOG_PAGE_MAX: u64 = 1000;

/// `_catalog`: the images the caller may list, `repository/image` in order, a page at a
/// time after `last` (each repository's images read by name, from the index, only as far
/// as the page needs).
async fn catalog(ctx: &Ctx, access: &Access, query: &HashMap<String, String>) -> Outcome {
    let n = match query.get("n") {
        Some(n) => n.parse::<u64>().map_err(|_| {
            OciError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED", "n must be a number")
        })?,
        None => CATALOG_PAGE,
    }
    .min(CATALOG_PAGE_MAX);
    let last = query.get("last").map(String::as_str);
    let mut repositories: Vec<(String, repositories::Model, Listed)> = Vec::new();
    for repository in crate::services::repositories::list_visible(&ctx.state.db, access).await? {
        if repository.format() != Some(Format::Container)
            || !access
                .permissions(&repository, PackageScope::Repository)
                .contains(Permission::List)
        {
            continue;
        }
        let listed = catalog::listed(access, &repository)?;
        repositories.push((format!("{}/", repository.name), repository, listed));
    }
    repositories.sort_by(|a, b| a.0.cmp(&b.0));
    let mut names: Vec<String> = Vec::new();
    for (prefix, repository, listed) in &repositories {
        if names.len() as u64 > n {
            break;
        }
        let after = match last {
            Some(last) => match last.strip_prefix(prefix.as_str()) {
                Some(image) => Some(image),
                // Every name of this repository sorts before `last`.
                None if prefix.as_str() < last => continue,
                None => None,
            },
            None => None,
        };
        let wanted = n + 1 - names.len() as u64;
        for package in catalog::page(
            &ctx.state.db,
            repository.id,
            listed,
            &Filter::default(),
            after,
            wanted,
        )
        .await?
        {
            names.push(format!("{prefix}{}", package.name));
        }
    }
    let link = if names.len() as u64 > n {
        names.truncate(n as usize);
        names.last().map(|last| {
            format!(
                "</v2/_catalog?n={n}&last={}>; rel=\"next\"",
                crate::protocols::encode_segment(last)
            )
        })
    } else {
        None
    };
    let mut response = axum::Json(json!({ "repositories": names })).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("Link", link);
    }
    Ok(response)
}

async fn tags_list(
    ctx: &Ctx,
    target: &ImageName,
    package: Option<packages::Model>,
    query: &HashMap<String, String>,
) -> Outcome {
    let package = package.ok_or_else(|| name_unknown(&target.name))?;
    let tags: Vec<String> = oci_tags::Entity::find()
        .filter(oci_tags::Column::PackageId.eq(package.id))
        .all(&ctx.state.db)
        .await?
        .into_iter()
        .map(|t| t.name)
        .collect();
    let (tags, link) = paginate(tags, query, &format!("/v2/{}/tags/list", target.name))?;
    let mut response = axum::Json(json!({ "name": target.name, "tags": tags })).into_response();
    if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("Link", link);
    }
    Ok(response)
}

fn manifest_unknown(reference: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "MANIFEST_UNKNOWN",
        format!("manifest unknown: {reference}"),
    )
}

/// A manifest by tag or digest (cached briefly; writes through this replica invalidate).
async fn find_manifest(
    ctx: &Ctx,
    package: &packages::Model,
    reference: &str,
) -> Result<Option<oci_manifests::Model>, OciError> {
    let key = (package.id, reference.to_owned());
    if let Some(found) = ctx.state.manifest_cache.get(&key).await {
        return Ok(found);
    }
    let found = find_manifest_uncached(ctx, package, reference).await?;
    ctx.state.manifest_cache.insert(key, found.clone()).await;
    Ok(found)
}

async fn find_manifest_uncached(
    ctx: &Ctx,
    package: &packages::Model,
    reference: &str,
) -> Result<Option<oci_manifests::Model>, OciError> {
    let digest = if valid_digest(reference) {
        reference.to_owned()
    } else {
        match oci_tags::Entity::find()
            .filter(oci_tags::Column::PackageId.eq(package.id))
            .filter(oci_tags::Column::Name.eq(reference))
            .one(&ctx.state.db)
            .await?
        {
            Some(tag) => tag.manifest_digest,
            None => return Ok(None),
        }
    };
    Ok(oci_manifests::Entity::find()
        .filter(oci_manifests::Column::PackageId.eq(package.id))
        .filter(oci_manifests::Column::Digest.eq(digest))
        .one(&ctx.state.db)
        .await?)
}

async fn read_all(ctx: &Ctx, sha256: &str) -> Result<Bytes, OciError> {
    let mut stream = ctx
        .state
        .blobs
        .read(sha256)
        .await
        .map_err(Error::internal)?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.map_err(Error::internal)?);
    }
    Ok(Bytes::from(bytes))
}

/// Whether the request's `Accept` admits `media_type`: no `Accept` (or an empty one)
/// admits anything; otherwise a listed type, `type/*` or `*/*` without `q=0`.
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    let mut ranges = headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|r| !r.trim().is_empty())
        .peekable();
    if ranges.peek().is_none() {
        return true;
    }
    let wanted = media_type.to_ascii_lowercase();
    let kind = wanted.split('/').next().unwrap_or("");
    ranges.any(|range| {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && (name == wanted
                || name == "*/*"
                || name.strip_suffix("/*").is_some_and(|k| k == kind))
    })
}

pub use crate::cache::ManifestAnswer;

impl ManifestAnswer {
    /// A GET of the manifest by `reference`, from `peer`: a pull of the image.
    fn count_pull(&self, ctx: &Ctx, reference: &str, peer: Option<String>) {
        let who = Downloader {
            address: peer,
            ..self.who.clone()
        };
        ctx.state
            .downloads
            .image_pull(self.package_id, reference, valid_digest(reference), &who);
    }

    fn response(&self, head: bool) -> Response {
        let body = if head {
            Body::empty()
        } else {
            Body::from(self.body.clone())
        };
        let mut response = Response::new(body);
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, self.media_type.clone());
        h.insert(CONTENT_LENGTH, HeaderValue::from(self.size));
        h.insert("Docker-Content-Digest", self.digest.clone());
        h.insert(http::header::ETAG, self.etag.clone());
        response
    }
}

/// The request a manifest answer is kept by: credentials, path and `Accept`.
fn answer_key(headers: &HeaderMap, path: &str) -> String {
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let mut parts = vec![auth, path.as_bytes()];
    parts.extend(
        headers
            .get_all(http::header::ACCEPT)
            .iter()
            .map(|v| v.as_bytes()),
    );
    crate::protocols::request_key(&parts)
}

async fn get_manifest(
    ctx: &Ctx,
    package: &packages::Model,
    reference: &str,
    headers: &HeaderMap,
    head: bool,
    who: Downloader,
) -> Result<ManifestAnswer, OciError> {
    let manifest = find_manifest(ctx, package, reference)
        .await?
        .ok_or_else(|| manifest_unknown(reference))?;
    if !accepts(headers, &manifest.media_type) {
        // As the reference registry: no conversion between formats, and a client that
        // cannot read the stored one is told the manifest is unknown to it.
        return Err(OciError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            format!(
                "manifest {reference} is {}, which the Accept header does not include",
                manifest.media_type
            ),
        ));
    }
    let body = if head {
        Bytes::new()
    } else if let Some(bytes) = ctx.state.manifest_bytes.get(&manifest.blob_sha256).await {
        bytes
    } else {
        let bytes = read_all(ctx, &manifest.blob_sha256).await?;
        ctx.state
            .manifest_bytes
            .insert(manifest.blob_sha256.clone(), bytes.clone())
            .await;
        bytes
    };
    let invalid = |_| Error::internal(anyhow::anyhow!("a stored manifest's header is not valid"));
    Ok(ManifestAnswer {
        media_type: HeaderValue::from_str(&manifest.media_type).map_err(invalid)?,
        digest: HeaderValue::from_str(&manifest.digest).map_err(invalid)?,
        etag: HeaderValue::from_str(&format!("\"{}\"", manifest.digest)).map_err(invalid)?,
        size: manifest.size as u64,
        body,
        package_id: package.id,
        who,
        valid_until: None,
    })
}

/// The digests to compute for content named by `digest` (`sha256:` or `sha512:`).
fn hashes_for(digest: &str) -> Hashes {
    if digest.starts_with("sha512:") {
        Hashes::Sha256AndSha512
    } else {
        Hashes::Sha256
    }
}

async fn stage_body(ctx: &Ctx, body: Body, limit: u64, hashes: Hashes) -> Result<Staged, OciError> {
    let mut staging = ctx
        .state
        .blobs
        .stage_hashing(limit, hashes)
        .await
        .map_err(Error::internal)?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|err| match Error::body(&err) {
            Error::RequestTimeout(message) => {
                OciError::new(StatusCode::REQUEST_TIMEOUT, "BLOB_UPLOAD_INVALID", message)
            }
            other => OciError::new(
                StatusCode::BAD_REQUEST,
                "BLOB_UPLOAD_INVALID",
                other.to_string(),
            ),
        })?;
        staging.write(&chunk).await.map_err(|err| match err {
            StageError::TooLarge(limit) => OciError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "SIZE_INVALID",
                format!("larger than the limit of {limit} bytes"),
            ),
            StageError::Io(err) => from_error(Error::internal(err), "UNKNOWN", None),
        })?;
    }
    Ok(staging.finish().await.map_err(Error::internal)?)
}

async fn ensure_image(ctx: &Ctx, target: &ImageName) -> Result<packages::Model, OciError> {
    let now = Utc::now();
    package_service::ensure_package(&ctx.state.db, target.repository.id, &target.image, "", now)
        .await?;
    // A reader may have cached "no such image" a moment ago.
    ctx.state.forget_packages();
    Ok(
        package_service::find(&ctx.state.db, target.repository.id, &target.image)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("image row vanished")))?,
    )
}

/// Record that an image holds a committed blob.
async fn hold_blob(
    ctx: &Ctx,
    package: &packages::Model,
    digest: &str,
    staged_sha256: &str,
    size: i64,
) -> Result<(), OciError> {
    oci_blobs::Entity::insert(oci_blobs::ActiveModel {
        id: Set(Uuid::new_v4()),
        package_id: Set(package.id),
        digest: Set(digest.to_owned()),
        blob_sha256: Set(staged_sha256.to_owned()),
        size: Set(size),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        // Held already: the time is renewed, so a collection running now spares it.
        OnConflict::columns([oci_blobs::Column::PackageId, oci_blobs::Column::Digest])
            .update_column(oci_blobs::Column::CreatedAt)
            .to_owned(),
    )
    .exec(&ctx.state.db)
    .await?;
    Ok(())
}

async fn commit_blob(ctx: &Ctx, staged: &Staged) -> Result<(), OciError> {
    let _turn = package_service::write_turn(&ctx.state.db).await;
    package_service::store_blob(&ctx.state.db, &ctx.state.blobs, staged).await?;
    Ok(())
}

/// Renew the commit time of a stored blob, if there is one: true when it is stored. A
/// garbage collection that has not yet removed it will then spare it (it removes only
/// blobs older than its grace period, each with one conditional delete).
async fn renew_blob(ctx: &Ctx, sha256: &str) -> Result<bool, OciError> {
    let _turn = package_service::write_turn(&ctx.state.db).await;
    let renewed = blobs::Entity::update_many()
        .col_expr(
            blobs::Column::CreatedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(blobs::Column::Digest.eq(sha256))
        .exec(&ctx.state.db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// Renew the time of the image's links to `digests` (see [`renew_blob`]).
async fn renew_held(
    ctx: &Ctx,
    package: &packages::Model,
    digests: &[String],
) -> Result<(), OciError> {
    let _turn = package_service::write_turn(&ctx.state.db).await;
    for batch in digests.chunks(500) {
        oci_blobs::Entity::update_many()
            .col_expr(
                oci_blobs::Column::CreatedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(oci_blobs::Column::PackageId.eq(package.id))
            .filter(oci_blobs::Column::Digest.is_in(batch.iter().cloned()))
            .exec(&ctx.state.db)
            .await?;
    }
    Ok(())
}

/// Which of `digests` the image holds, in one query per few hundred.
async fn held_among(
    ctx: &Ctx,
    package: &packages::Model,
    digests: &[String],
) -> Result<std::collections::HashSet<String>, OciError> {
    use sea_orm::QuerySelect;
    let mut held = std::collections::HashSet::new();
    for batch in digests.chunks(500) {
        let found: Vec<String> = oci_blobs::Entity::find()
            .select_only()
            .column(oci_blobs::Column::Digest)
            .filter(oci_blobs::Column::PackageId.eq(package.id))
            .filter(oci_blobs::Column::Digest.is_in(batch.iter().cloned()))
            .into_tuple()
            .all(&ctx.state.db)
            .await?;
        held.extend(found);
    }
    Ok(held)
}

async fn find_held(
    ctx: &Ctx,
    package: &packages::Model,
    digest: &str,
) -> Result<Option<oci_blobs::Model>, OciError> {
    Ok(oci_blobs::Entity::find()
        .filter(oci_blobs::Column::PackageId.eq(package.id))
        .filter(oci_blobs::Column::Digest.eq(digest))
        .one(&ctx.state.db)
        .await?)
}

/// A non-distributable layer fetched from its own `urls` (Windows base layers): clients
/// never push it, so a manifest naming one is accepted without it, as the reference
/// registries do. Other layers must have been pushed.
fn is_foreign(layer: &Value) -> bool {
    let media_type = layer.get("mediaType").and_then(Value::as_str).unwrap_or("");
    let non_distributable = media_type
        .starts_with("application/vnd.oci.image.layer.nondistributable.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.foreign.");
    let has_urls = layer
        .get("urls")
        .and_then(Value::as_array)
        .is_some_and(|urls| {
            urls.iter()
                .any(|u| u.as_str().is_some_and(|u| !u.is_empty()))
        });
    non_distributable && has_urls
}

fn descriptor_digests(manifest: &Value) -> (Vec<String>, Vec<String>) {
    let mut blobs = Vec::new();
    let mut children = Vec::new();
    if let Some(config) = manifest
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(Value::as_str)
    {
        blobs.push(config.to_owned());
    }
    for layer in manifest
        .get("layers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if is_foreign(layer) {
            continue;
        }
        if let Some(d) = layer.get("digest").and_then(Value::as_str) {
            blobs.push(d.to_owned());
        }
    }
    for child in manifest
        .get("manifests")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(d) = child.get("digest").and_then(Value::as_str) {
            children.push(d.to_owned());
        }
    }
    (blobs, children)
}

async fn put_manifest(
    ctx: &Ctx,
    access: &Access,
    target: &ImageName,
    reference: &str,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    let invalid =
        |message: String| OciError::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", message);
    let is_digest = valid_digest(reference);
    if !is_digest && !TAG.is_match(reference) {
        // The specification's codes only: a malformed digest is DIGEST_INVALID, a
        // malformed tag makes the manifest's reference invalid.
        return Err(if reference.contains(':') {
            OciError::new(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                format!("invalid digest {reference}"),
            )
        } else {
            invalid(format!(
                "invalid tag {reference}: up to 128 of [A-Za-z0-9_.-], not starting with . or -"
            ))
        });
    }
    let bytes = axum::body::to_bytes(body, MANIFEST_LIMIT)
        .await
        .map_err(|err| {
            if crate::protocols::body_too_large(&err) {
                OciError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "MANIFEST_INVALID",
                    format!("manifests are limited to {MANIFEST_LIMIT} bytes"),
                )
            } else {
                from_error(Error::body(&err), "MANIFEST_INVALID", None)
            }
        })?;
    let manifest: Value = serde_json::from_slice(&bytes)
        .map_err(|err| invalid(format!("the manifest is not JSON: {err}")))?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
    let media_type = content_type
        .or_else(|| {
            manifest
                .get("mediaType")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| invalid("no media type: send Content-Type or mediaType".into()))?;
    if !MANIFEST_TYPES.contains(&media_type.as_str()) {
        return Err(invalid(format!(
            "unsupported manifest media type {media_type}"
        )));
    }
    if let Some(inner) = manifest.get("mediaType").and_then(Value::as_str) {
        if inner != media_type {
            return Err(invalid(format!(
                "Content-Type {media_type} differs from mediaType {inner}"
            )));
        }
    }
    if manifest.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
        return Err(invalid("schemaVersion must be 2".into()));
    }
    let package = ensure_image(ctx, target).await?;
    let (blobs, children) = descriptor_digests(&manifest);
    if (media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST)
        && manifest.get("config").is_none()
    {
        return Err(invalid("an image manifest needs a config".into()));
    }
    // Renewed before they are checked: a collection that has not removed them yet will not.
    renew_held(ctx, &package, &blobs).await?;
    let held = held_among(ctx, &package, &blobs).await?;
    for digest in &blobs {
        if !valid_digest(digest) || !held.contains(digest) {
            return Err(OciError::new(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                format!("blob unknown to registry: {digest}"),
            ));
        }
    }
    for digest in &children {
        if !valid_digest(digest) || find_manifest(ctx, &package, digest).await?.is_none() {
            return Err(OciError::new(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                format!("manifest unknown to registry: {digest}"),
            ));
        }
    }
    // The exact bytes, named by their digest: refused before anything is written when the
    // reference is a digest they do not have.
    use sha2::Digest as _;
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let digest = if is_digest && reference.starts_with("sha512:") {
        format!("sha512:{}", hex::encode(sha2::Sha512::digest(&bytes)))
    } else {
        format!("sha256:{sha256}")
    };
    if is_digest && digest != reference {
        return Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("the manifest's digest is {digest}, not {reference}"),
        ));
    }
    // Stored already (a re-push, another tag): the blob's time is renewed, which keeps it
    // from garbage collection as a new commit would, and nothing is written again.
    if !renew_blob(ctx, &sha256).await? {
        let mut staging = ctx
            .state
            .blobs
            .stage_hashing(MANIFEST_LIMIT as u64, Hashes::Sha256)
            .await
            .map_err(Error::internal)?;
        staging
            .write(&bytes)
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!(e.to_string())))?;
        let staged = staging.finish().await.map_err(Error::internal)?;
        commit_blob(ctx, &staged).await?;
    }
    let subject = manifest
        .get("subject")
        .and_then(|s| s.get("digest"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let artifact_type = manifest
        .get("artifactType")
        .and_then(Value::as_str)
        .or_else(|| {
            manifest
                .get("config")
                .and_then(|c| c.get("mediaType"))
                .and_then(Value::as_str)
        })
        .map(str::to_owned);
    let _turn = package_service::write_turn(&ctx.state.db).await;
    oci_manifests::Entity::insert(oci_manifests::ActiveModel {
        id: Set(Uuid::new_v4()),
        package_id: Set(package.id),
        digest: Set(digest.clone()),
        media_type: Set(media_type.clone()),
        blob_sha256: Set(sha256),
        size: Set(bytes.len() as i64),
        subject_digest: Set(subject.clone()),
        artifact_type: Set(artifact_type),
        annotations: Set(manifest.get("annotations").cloned()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        // Pushed again: the time is renewed, so a collection running now spares it.
        OnConflict::columns([
            oci_manifests::Column::PackageId,
            oci_manifests::Column::Digest,
        ])
        .update_column(oci_manifests::Column::CreatedAt)
        .to_owned(),
    )
    .exec(&ctx.state.db)
    .await?;
    if !is_digest {
        oci_tags::Entity::insert(oci_tags::ActiveModel {
            id: Set(Uuid::new_v4()),
            package_id: Set(package.id),
            name: Set(reference.to_owned()),
            manifest_digest: Set(digest.clone()),
            updated_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::columns([oci_tags::Column::PackageId, oci_tags::Column::Name])
                .update_columns([
                    oci_tags::Column::ManifestDigest,
                    oci_tags::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&ctx.state.db)
        .await?;
    }
    let mut touched: packages::ActiveModel = package.clone().into();
    touched.updated_at = Set(Utc::now());
    touched.update(&ctx.state.db).await?;
    drop(_turn);
    ctx.state.forget_packages();
    audit::record(
        &ctx.state.db,
        &Actor::from_principal(&access.principal, None),
        "manifest.push",
        Target {
            kind: "image",
            id: Some(package.id.to_string()),
            name: &target.name,
        },
        json!({ "reference": reference, "digest": digest }),
    )
    .await?;
    let mut response = StatusCode::CREATED.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{}/manifests/{digest}", target.name)) {
        h.insert(LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&digest) {
        h.insert("Docker-Content-Digest", v);
    }
    if let Some(subject) = subject.and_then(|s| HeaderValue::from_str(&s).ok()) {
        h.insert("OCI-Subject", subject);
    }
    Ok(response)
}

async fn delete_manifest(
    ctx: &Ctx,
    access: &Access,
    target: &ImageName,
    package: Option<packages::Model>,
    reference: &str,
) -> Outcome {
    let package = package.ok_or_else(|| manifest_unknown(reference))?;
    let _turn = package_service::write_turn(&ctx.state.db).await;
    if valid_digest(reference) {
        let deleted = oci_manifests::Entity::delete_many()
            .filter(oci_manifests::Column::PackageId.eq(package.id))
            .filter(oci_manifests::Column::Digest.eq(reference))
            .exec(&ctx.state.db)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(manifest_unknown(reference));
        }
        oci_tags::Entity::delete_many()
            .filter(oci_tags::Column::PackageId.eq(package.id))
            .filter(oci_tags::Column::ManifestDigest.eq(reference))
            .exec(&ctx.state.db)
            .await?;
    } else {
        let deleted = oci_tags::Entity::delete_many()
            .filter(oci_tags::Column::PackageId.eq(package.id))
            .filter(oci_tags::Column::Name.eq(reference))
            .exec(&ctx.state.db)
            .await?;
        if deleted.rows_affected == 0 {
            return Err(manifest_unknown(reference));
        }
    }
    let mut touched: packages::ActiveModel = package.clone().into();
    touched.updated_at = Set(Utc::now());
    touched.update(&ctx.state.db).await?;
    drop(_turn);
    ctx.state.forget_packages();
    audit::record(
        &ctx.state.db,
        &Actor::from_principal(&access.principal, None),
        "manifest.delete",
        Target {
            kind: "image",
            id: Some(package.id.to_string()),
            name: &target.name,
        },
        json!({ "reference": reference }),
    )
    .await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

fn blob_unknown(digest: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "BLOB_UNKNOWN",
        format!("blob unknown to registry: {digest}"),
    )
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` within `size`.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.saturating_sub(n), size.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && end < size).then_some((start, end))
}

async fn get_blob(
    ctx: &Ctx,
    package: Option<packages::Model>,
    digest: &str,
    headers: &HeaderMap,
    head: bool,
) -> Outcome {
    if !valid_digest(digest) {
        return Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("invalid digest {digest}"),
        ));
    }
    let package = package.ok_or_else(|| blob_unknown(digest))?;
    let held = match find_held(ctx, &package, digest).await? {
        Some(held) => held,
        // Manifests are blobs too.
        None => {
            let manifest = find_manifest(ctx, &package, digest)
                .await?
                .ok_or_else(|| blob_unknown(digest))?;
            oci_blobs::Model {
                id: manifest.id,
                package_id: package.id,
                digest: manifest.digest,
                blob_sha256: manifest.blob_sha256,
                size: manifest.size,
                created_at: manifest.created_at,
            }
        }
    };
    let size = held.size as u64;
    let range = headers.get(RANGE).and_then(|v| v.to_str().ok());
    let mut response = match range {
        Some(value) if !head => {
            let Some((start, end)) = parse_range(value, size) else {
                let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(CONTENT_RANGE, v);
                }
                return Ok(response);
            };
            let stream = ctx
                .state
                .blobs
                .read_range(&held.blob_sha256, start, end - start + 1)
                .await
                .map_err(Error::internal)?;
            let mut response = Response::new(Body::from_stream(stream));
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = response.headers_mut();
            h.insert(CONTENT_LENGTH, HeaderValue::from(end - start + 1));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{size}")) {
                h.insert(CONTENT_RANGE, v);
            }
            response
        }
        _ => {
            let body = if head {
                Body::empty()
            } else {
                Body::from_stream(
                    ctx.state
                        .blobs
                        .read(&held.blob_sha256)
                        .await
                        .map_err(Error::internal)?,
                )
            };
            let mut response = Response::new(body);
            response
                .headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(size));
            response
        }
    };
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert("Accept-Ranges", HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(digest) {
        h.insert("Docker-Content-Digest", v);
    }
    Ok(response)
}

async fn delete_blob(ctx: &Ctx, package: Option<packages::Model>, digest: &str) -> Outcome {
    if !valid_digest(digest) {
        return Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("invalid digest {digest}"),
        ));
    }
    let package = package.ok_or_else(|| blob_unknown(digest))?;
    let deleted = oci_blobs::Entity::delete_many()
        .filter(oci_blobs::Column::PackageId.eq(package.id))
        .filter(oci_blobs::Column::Digest.eq(digest))
        .exec(&ctx.state.db)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(blob_unknown(digest));
    }
    ctx.state.forget_packages();
    Ok(StatusCode::ACCEPTED.into_response())
}

fn upload_location(target: &ImageName, id: Uuid) -> String {
    format!("/v2/{}/blobs/uploads/{id}", target.name)
}

fn upload_headers(response: &mut Response, target: &ImageName, upload: &oci_uploads::Model) {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&upload_location(target, upload.id)) {
        h.insert(LOCATION, v);
    }
    let end = (upload.size - 1).max(0);
    if let Ok(v) = HeaderValue::from_str(&format!("0-{end}")) {
        h.insert(RANGE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&upload.id.to_string()) {
        h.insert("Docker-Upload-UUID", v);
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(0));
}

async fn blob_created(target: &ImageName, digest: &str) -> Outcome {
    let mut response = StatusCode::CREATED.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("/v2/{}/blobs/{digest}", target.name)) {
        h.insert(LOCATION, v);
    }
    if let Ok(v) = HeaderValue::from_str(digest) {
        h.insert("Docker-Content-Digest", v);
    }
    Ok(response)
}

async fn start_upload(
    ctx: &Ctx,
    access: &Access,
    target: &ImageName,
    query: &HashMap<String, String>,
    body: Body,
) -> Outcome {
    // Cross-repository mount, when the caller may read the source; else a normal upload.
    if let (Some(digest), Some(from)) = (query.get("mount"), query.get("from")) {
        if valid_digest(digest) {
            if let Ok(source) = resolve(ctx, access, from, &Method::GET).await {
                if let Some(source_package) = image_package(ctx, &source).await? {
                    let readable = access
                        .permissions(
                            &source.repository,
                            PackageScope::Package(&source_package.name),
                        )
                        .contains(Permission::Download);
                    if readable {
                        if let Some(held) = find_held(ctx, &source_package, digest).await? {
                            let package = ensure_image(ctx, target).await?;
                            hold_blob(ctx, &package, digest, &held.blob_sha256, held.size).await?;
                            return blob_created(target, digest).await;
                        }
                    }
                }
            }
        }
    }
    if let Some(digest) = query.get("digest") {
        // Monolithic upload in a single POST.
        let algorithm = digest.split(':').next().unwrap_or("");
        if !valid_digest(digest) {
            return Err(OciError::new(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                format!("invalid digest {digest}"),
            ));
        }
        let staged = stage_body(
            ctx,
            body,
            ctx.state.config.max_body_size,
            hashes_for(digest),
        )
        .await?;
        let actual = digest_of(&staged, algorithm);
        if &actual != digest {
            return Err(digest_mismatch(&actual, digest));
        }
        commit_blob(ctx, &staged).await?;
        let package = ensure_image(ctx, target).await?;
        hold_blob(ctx, &package, digest, &staged.sha256, staged.size as i64).await?;
        return blob_created(target, digest).await;
    }
    let now = Utc::now();
    let upload = oci_uploads::ActiveModel {
        id: Set(Uuid::new_v4()),
        repository_id: Set(target.repository.id),
        image: Set(target.image.clone()),
        size: Set(0),
        parts: Set(0),
        single_part_sha256: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&ctx.state.db)
    .await?;
    let mut response = StatusCode::ACCEPTED.into_response();
    upload_headers(&mut response, target, &upload);
    Ok(response)
}

fn upload_unknown(id: &str) -> OciError {
    OciError::new(
        StatusCode::NOT_FOUND,
        "BLOB_UPLOAD_UNKNOWN",
        format!("blob upload unknown to registry: {id}"),
    )
}

async fn find_upload(
    ctx: &Ctx,
    target: &ImageName,
    id: &str,
) -> Result<oci_uploads::Model, OciError> {
    let uuid = Uuid::parse_str(id).map_err(|_| upload_unknown(id))?;
    oci_uploads::Entity::find_by_id(uuid)
        .one(&ctx.state.db)
        .await?
        .filter(|u| u.repository_id == target.repository.id && u.image == target.image)
        .ok_or_else(|| upload_unknown(id))
}

fn upload_status(target: &ImageName, upload: &oci_uploads::Model) -> Outcome {
    let mut response = StatusCode::NO_CONTENT.into_response();
    upload_headers(&mut response, target, upload);
    Ok(response)
}

fn part_key(upload: Uuid, index: i32) -> String {
    format!("uploads/{upload}/{index:08}")
}

/// Append a chunk as the next part of an upload; `expected_start` from Content-Range.
async fn append_part(
    ctx: &Ctx,
    upload: oci_uploads::Model,
    body: Body,
) -> Result<oci_uploads::Model, OciError> {
    let remaining = ctx
        .state
        .config
        .max_body_size
        .saturating_sub(upload.size as u64);
    // The first part is hashed as it arrives: most clients send a blob in one PATCH, and
    // the closing PUT then needs no second pass over the bytes.
    let first = upload.parts == 0;
    let hashes = if first { Hashes::Sha256 } else { Hashes::None };
    let staged = stage_body(ctx, body, remaining, hashes).await?;
    if staged.size == 0 {
        return Ok(upload);
    }
    // Claim this part's place: only the one request that moves the upload on from the
    // state it read wins; a chunk sent at the same time loses and is refused, so a part's
    // bytes and the digest recorded for them always come from the same request.
    let (size, parts) = (upload.size + staged.size as i64, upload.parts + 1);
    let single_part_sha256 = first.then(|| staged.sha256.clone());
    let now = Utc::now();
    let claimed = oci_uploads::Entity::update_many()
        .col_expr(oci_uploads::Column::Size, Expr::value(size))
        .col_expr(oci_uploads::Column::Parts, Expr::value(parts))
        .col_expr(
            oci_uploads::Column::SinglePartSha256,
            Expr::value(single_part_sha256.clone()),
        )
        .col_expr(oci_uploads::Column::UpdatedAt, Expr::value(now))
        .filter(oci_uploads::Column::Id.eq(upload.id))
        .filter(oci_uploads::Column::Parts.eq(upload.parts))
        .filter(oci_uploads::Column::Size.eq(upload.size))
        .exec(&ctx.state.db)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(OciError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "BLOB_UPLOAD_INVALID",
            "another chunk of this upload arrived at the same time; ask for the upload's \
             state (GET) and send what follows it",
        ));
    }
    let key = part_key(upload.id, upload.parts);
    if let Err(err) = ctx.state.blobs.commit_as(&staged, &key).await {
        // Give the place back, so the client may send the chunk again.
        let _ = oci_uploads::Entity::update_many()
            .col_expr(oci_uploads::Column::Size, Expr::value(upload.size))
            .col_expr(oci_uploads::Column::Parts, Expr::value(upload.parts))
            .col_expr(
                oci_uploads::Column::SinglePartSha256,
                Expr::value(upload.single_part_sha256.clone()),
            )
            .filter(oci_uploads::Column::Id.eq(upload.id))
            .filter(oci_uploads::Column::Parts.eq(parts))
            .exec(&ctx.state.db)
            .await;
        return Err(Error::internal(err).into());
    }
    Ok(oci_uploads::Model {
        size,
        parts,
        single_part_sha256,
        updated_at: now,
        ..upload
    })
}

async fn patch_upload(
    ctx: &Ctx,
    target: &ImageName,
    upload: oci_uploads::Model,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    if let Some(refused) = out_of_order(target, &upload, headers) {
        return Ok(refused);
    }
    let upload = append_part(ctx, upload, body).await?;
    let mut response = StatusCode::ACCEPTED.into_response();
    upload_headers(&mut response, target, &upload);
    Ok(response)
}

/// 416 for a chunk whose `Content-Range` does not continue the upload where it stands.
fn out_of_order(
    target: &ImageName,
    upload: &oci_uploads::Model,
    headers: &HeaderMap,
) -> Option<Response> {
    let range = headers.get(CONTENT_RANGE)?.to_str().ok();
    let start = range.and_then(|range| {
        range
            .trim()
            .trim_start_matches("bytes ")
            .split('-')
            .next()
            .and_then(|s| s.trim().parse::<i64>().ok())
    });
    if start == Some(upload.size) {
        return None;
    }
    let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
    upload_headers(&mut response, target, upload);
    let body = json!({ "errors": [{ "code": "BLOB_UPLOAD_INVALID", "message": format!("chunk out of order: the upload has {} bytes", upload.size), "detail": {} }] });
    *response.body_mut() = Body::from(body.to_string());
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().remove(CONTENT_LENGTH);
    Some(response)
}

async fn finish_upload(
    ctx: &Ctx,
    target: &ImageName,
    upload: oci_uploads::Model,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Outcome {
    // A closing chunk must continue the upload too (distribution-spec: 416 otherwise).
    if let Some(refused) = out_of_order(target, &upload, headers) {
        return Ok(refused);
    }
    let digest = query
        .get("digest")
        .filter(|d| valid_digest(d))
        .ok_or_else(|| {
            OciError::new(
                StatusCode::BAD_REQUEST,
                "DIGEST_INVALID",
                "give the blob's digest: ?digest=sha256:…",
            )
        })?
        .clone();
    let staged = if upload.parts == 0 {
        // The whole blob in this request (POST, then PUT): stage and hash it directly.
        stage_body(
            ctx,
            body,
            ctx.state.config.max_body_size,
            hashes_for(&digest),
        )
        .await?
    } else {
        let upload = append_part(ctx, upload.clone(), body).await?;
        if let (1, Some(sha256), Some(wanted)) = (
            upload.parts,
            upload.single_part_sha256.as_deref(),
            digest.strip_prefix("sha256:"),
        ) {
            // One part, hashed when it arrived: verify and promote it as it is.
            if sha256 != wanted {
                return Err(digest_mismatch(&format!("sha256:{sha256}"), &digest));
            }
            {
                let _turn = package_service::write_turn(&ctx.state.db).await;
                package_service::ensure_blob_digest(&ctx.state.db, sha256, upload.size).await?;
                ctx.state
                    .blobs
                    .promote(&part_key(upload.id, 0), sha256, upload.size as u64)
                    .await
                    .map_err(Error::internal)?;
            }
            let package = ensure_image(ctx, target).await?;
            hold_blob(ctx, &package, &digest, sha256, upload.size).await?;
            return close_upload(ctx, target, &upload, &digest).await;
        }
        assemble(ctx, &upload, hashes_for(&digest)).await?
    };
    let actual = digest_of(&staged, digest.split(':').next().unwrap_or("sha256"));
    if actual != digest {
        return Err(digest_mismatch(&actual, &digest));
    }
    commit_blob(ctx, &staged).await?;
    let package = ensure_image(ctx, target).await?;
    hold_blob(ctx, &package, &digest, &staged.sha256, staged.size as i64).await?;
    close_upload(ctx, target, &upload, &digest).await
}

/// An upload whose content is not what the client named.
fn digest_mismatch(actual: &str, named: &str) -> OciError {
    OciError::new(
        StatusCode::BAD_REQUEST,
        "DIGEST_INVALID",
        format!("the content's digest is {actual}, not {named}"),
    )
}

/// The upload became a blob: forget the session and its parts.
async fn close_upload(
    ctx: &Ctx,
    target: &ImageName,
    upload: &oci_uploads::Model,
    digest: &str,
) -> Outcome {
    oci_uploads::Entity::delete_by_id(upload.id)
        .exec(&ctx.state.db)
        .await?;
    ctx.state
        .blobs
        .delete_prefix(&format!("uploads/{}", upload.id))
        .await
        .map_err(Error::internal)?;
    blob_created(target, digest).await
}

/// The parts of an upload, in order, hashed into one staged file.
async fn assemble(
    ctx: &Ctx,
    upload: &oci_uploads::Model,
    hashes: Hashes,
) -> Result<Staged, OciError> {
    let mut staging = ctx
        .state
        .blobs
        .stage_hashing(ctx.state.config.max_body_size, hashes)
        .await
        .map_err(Error::internal)?;
    for index in 0..upload.parts {
        let mut stream = ctx
            .state
            .blobs
            .read_key(&part_key(upload.id, index))
            .await
            .map_err(Error::internal)?;
        while let Some(chunk) = stream.next().await {
            staging
                .write(&chunk.map_err(Error::internal)?)
                .await
                .map_err(|e| {
                    from_error(
                        Error::internal(anyhow::anyhow!(e.to_string())),
                        "UNKNOWN",
                        None,
                    )
                })?;
        }
    }
    Ok(staging.finish().await.map_err(Error::internal)?)
}

async fn cancel_upload(ctx: &Ctx, upload: oci_uploads::Model) -> Outcome {
    oci_uploads::Entity::delete_by_id(upload.id)
        .exec(&ctx.state.db)
        .await?;
    ctx.state
        .blobs
        .delete_prefix(&format!("uploads/{}", upload.id))
        .await
        .map_err(Error::internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn referrers(
    ctx: &Ctx,
    package: Option<packages::Model>,
    digest: &str,
    query: &HashMap<String, String>,
) -> Outcome {
    if !valid_digest(digest) {
        return Err(OciError::new(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("invalid digest {digest}"),
        ));
    }
    let mut manifests = Vec::new();
    if let Some(package) = package {
        let mut select = oci_manifests::Entity::find()
            .filter(oci_manifests::Column::PackageId.eq(package.id))
            .filter(oci_manifests::Column::SubjectDigest.eq(digest));
        if let Some(kind) = query.get("artifactType") {
            select = select.filter(oci_manifests::Column::ArtifactType.eq(kind.as_str()));
        }
        for m in select
            .order_by_asc(oci_manifests::Column::CreatedAt)
            .all(&ctx.state.db)
            .await?
        {
            let mut descriptor =
                json!({ "mediaType": m.media_type, "digest": m.digest, "size": m.size });
            if let Some(kind) = m.artifact_type {
                descriptor["artifactType"] = kind.into();
            }
            if let Some(annotations) = m.annotations {
                descriptor["annotations"] = annotations;
            }
            manifests.push(descriptor);
        }
    }
    let body = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests });
    let mut response = (
        StatusCode::OK,
        [(CONTENT_TYPE, OCI_INDEX)],
        body.to_string(),
    )
        .into_response();
    if query.contains_key("artifactType") {
        response.headers_mut().insert(
            "OCI-Filters-Applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(response)
}

/// The registry's parsers of caller input, for the fuzz targets in `fuzz/`: any input must
/// come back without a panic.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    pub fn parse_anything(input: &str) {
        let _ = parse_route(input);
        let _ = parse_range(input, input.len() as u64);
        let _ = url_pairs(input);
        let _ = valid_digest(input);
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(input) {
            headers.insert(http::header::ACCEPT, value);
        }
        let _ = accepts(&headers, OCI_MANIFEST);
        if let Ok(value) = serde_json::from_str::<Value>(input) {
            let _ = descriptor_digests(&value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any path under /v2/: a route or none, never a panic.
            #[test]
            fn any_route_is_parsed_or_refused(rest in "([a-z0-9._\\-]{0,8}/){0,5}(manifests|blobs|tags|uploads|referrers)?/?\\PC{0,20}") {
                let _ = parse_route(&rest);
            }

            #[test]
            fn any_range_is_parsed_or_refused(value in "\\PC{0,30}", size in 0u64..10_000) {
                if let Some((start, end)) = parse_range(&value, size) {
                    prop_assert!(start <= end && end < size);
                }
            }

            #[test]
            fn any_query_decodes(query in "\\PC{0,60}") {
                let _ = url_pairs(&query);
            }

            #[test]
            fn digests_are_checked_not_trusted(digest in "\\PC{0,80}") {
                if valid_digest(&digest) {
                    let (algorithm, hex) = digest.split_once(':').unwrap();
                    prop_assert!(matches!(algorithm, "sha256" | "sha512"));
                    prop_assert!(hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                }
            }

            #[test]
            fn any_accept_header_is_judged(accept in "[ -~]{0,80}", media_type in "[a-z./+\\-]{0,40}") {
                let mut headers = HeaderMap::new();
                if let Ok(value) = HeaderValue::from_str(&accept) {
                    headers.insert(http::header::ACCEPT, value);
                }
                let _ = accepts(&headers, &media_type);
            }

            #[test]
            fn any_manifest_json_is_read(json in "\\PC{0,200}") {
                if let Ok(value) = serde_json::from_str::<Value>(&json) {
                    let _ = descriptor_digests(&value);
                }
            }
        }
    }

    #[test]
    fn accept_negotiation() {
        let with = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append(http::header::ACCEPT, HeaderValue::from_str(v).unwrap());
            }
            headers
        };
        let docker = "application/vnd.docker.distribution.manifest.v2+json";
        assert!(accepts(&with(&[]), OCI_MANIFEST));
        assert!(accepts(&with(&[""]), OCI_MANIFEST));
        assert!(accepts(&with(&["*/*"]), OCI_MANIFEST));
        assert!(accepts(&with(&["application/*"]), OCI_MANIFEST));
        assert!(accepts(&with(&[docker, OCI_MANIFEST]), OCI_MANIFEST));
        assert!(accepts(
            &with(&[&format!("{docker}, {OCI_MANIFEST}; q=0.5")]),
            OCI_MANIFEST
        ));
        assert!(!accepts(&with(&[docker]), OCI_MANIFEST));
        assert!(!accepts(&with(&["text/*"]), OCI_MANIFEST));
        assert!(!accepts(
            &with(&[&format!("{OCI_MANIFEST};q=0")]),
            OCI_MANIFEST
        ));
    }

    #[test]
    fn routes_nested_names() {
        assert!(
            matches!(parse_route("acme/team/app/manifests/v1"), Some(Route::Manifest(n, r)) if n == "acme/team/app" && r == "v1")
        );
        assert!(
            matches!(parse_route("acme/app/blobs/uploads/"), Some(Route::Uploads(n)) if n == "acme/app")
        );
        assert!(
            matches!(parse_route("acme/app/blobs/uploads/abc"), Some(Route::Upload(n, id)) if n == "acme/app" && id == "abc")
        );
        assert!(
            matches!(parse_route("acme/app/blobs/sha256:00"), Some(Route::Blob(n, _)) if n == "acme/app")
        );
        assert!(
            matches!(parse_route("acme/app/tags/list"), Some(Route::Tags(n)) if n == "acme/app")
        );
        assert!(matches!(
            parse_route("acme/app/referrers/sha256:00"),
            Some(Route::Referrers(..))
        ));
        assert!(matches!(parse_route(""), Some(Route::Base)));
        assert!(matches!(parse_route("_catalog"), Some(Route::Catalog)));
    }

    #[test]
    fn ranges_and_digests() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert!(valid_digest(&format!("sha256:{}", "a".repeat(64))));
        assert!(!valid_digest(&format!("sha256:{}", "A".repeat(64))));
        assert!(!valid_digest("md5:abc"));
        assert_eq!(
            url_pairs("scope=repository%3Aacme%2Fapp%3Apull&service=x+y"),
            vec![
                ("scope".to_owned(), "repository:acme/app:pull".to_owned()),
                ("service".to_owned(), "x y".to_owned()),
            ]
        );
        // Malformed escapes and non-ASCII next to them decode without a panic.
        for query in ["a=%", "a=%é9", "%%%", "a=%4", "é=%ü1&b", "=&=&", "a=%F0%9F"] {
            let _ = url_pairs(query);
        }
    }
}
