//! The Composer v2 repository: `packages.json`, `p2/{vendor}/{name}.json` and `~dev.json`
//! (minified `composer/2.0`), `search.json`, `list.json`, `notify-batch`, dist zips, and
//! uploads — under `/composer/{repo}/` and the Packistry-compatible `/r/{repo}/`.
//! Errors are plain text; anonymous callers of a private repository get a Basic challenge.

pub use crate::formats::composer::{archive, metadata, version};

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Multipart, Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, StatusCode};
use packistry_shared::permissions::Permission;
use packistry_shared::Format;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::db::entities::{package_versions, packages, repositories};
use crate::error::{Error, Result};
use crate::protocols::{
    conditional, encode_segment, etag_matches, etag_of, http_date, not_modified_response,
    principal, reader_principal, tagged, PlainError,
};
use crate::services::access::{Access, PackageScope};
use crate::services::audit::Actor;
use crate::services::catalog::{self, DocumentKey, Filter, Listed};
use crate::services::downloads::Downloader;
use crate::services::packages as package_service;
use crate::state::SharedState;
use crate::state::TokenAuth;
use crate::storage::StageError;

use self::metadata::{is_valid_package_name, minify, version_entry, Dist};

const JSON: &str = "application/json";

/// Which of the two URL prefixes a request came through; metadata URLs keep to it.
#[derive(Debug, Clone, Copy)]
struct Mount(&'static str);

pub use crate::cache::{new_metadata_cache as new_cache, MetadataAnswer, MetadataCache};

pub fn router() -> Router<SharedState> {
    let mut router = Router::new();
    for prefix in ["composer", "r"] {
        let mount = Mount(prefix);
        let routes = Router::new()
            .route(
                &format!("/{prefix}/{{repo}}/packages.json"),
                get(packages_json),
            )
            .route(
                &format!("/{prefix}/{{repo}}/p2/{{vendor}}/{{file}}"),
                get(p2),
            )
            .route(&format!("/{prefix}/{{repo}}/search.json"), get(search))
            .route(&format!("/{prefix}/{{repo}}/list.json"), get(list))
            .route(&format!("/{prefix}/{{repo}}/downloads"), post(notify_batch))
            .route(
                &format!("/{prefix}/{{repo}}/dists/{{vendor}}/{{name}}/{{file}}"),
                get(dist),
            )
            .route(
                &format!("/{prefix}/{{repo}}/{{vendor}}/{{name}}"),
                post(upload),
            )
            .layer(Extension(mount));
        router = router.merge(routes);
    }
    router
}

/// Composer errors are plain text, with a Basic challenge on 401.
type ComposerError = PlainError;

type Answer = std::result::Result<Response, ComposerError>;

/// The caller and the Composer repository they name, which they may at least download from.
async fn open(
    state: &SharedState,
    auth: TokenAuth,
    headers: &HeaderMap,
    name: &str,
) -> Result<(Access, repositories::Model)> {
    let access = state
        .protocol_access(reader_principal(state, auth, headers).await?)
        .await?;
    let repository = state
        .protocol_repository(name)
        .await?
        .filter(|r| r.format() == Some(Format::Composer))
        .ok_or_else(|| access.unknown_repository(name))?;
    access.check(
        &repository,
        PackageScope::Repository,
        &[Permission::Download],
    )?;
    Ok((access, repository))
}

fn package_not_found(repository: &str, package: &str) -> Error {
    Error::not_found(format!("no package {package} in repository {repository}"))
}

/// A package the caller may download, by name; the same 404 whether it does not exist or
/// lies outside the caller's package limit.
async fn readable_package(
    state: &SharedState,
    access: &Access,
    repository: &repositories::Model,
    name: &str,
) -> Result<packages::Model> {
    let not_found = || package_not_found(&repository.name, name);
    if !is_valid_package_name(name) {
        return Err(not_found());
    }
    let package = state
        .protocol_package(repository.id, name)
        .await?
        .ok_or_else(not_found)?;
    match access.check(
        repository,
        PackageScope::Package(&package.name),
        &[Permission::Download],
    ) {
        Err(Error::NotFound(_)) => Err(not_found()),
        other => other.map(|()| package),
    }
}

fn repository_url(state: &SharedState, mount: Mount, repository: &str) -> String {
    format!(
        "{}/{}/{}",
        state.base_url,
        mount.0,
        encode_segment(repository)
    )
}

/// The absolute URL of a version's dist zip under a prefix (`composer` or `r`).
pub fn dist_url(
    state: &SharedState,
    prefix: &'static str,
    repository: &str,
    package: &str,
    version: &str,
) -> String {
    let (vendor, name) = package.split_once('/').unwrap_or((package, ""));
    let mount = Mount(prefix);
    format!(
        "{}/dists/{}/{}/{}.zip",
        repository_url(state, mount, repository),
        encode_segment(vendor),
        encode_segment(name),
        encode_segment(version)
    )
}

/// The p2 entries of some versions of a package, newest first.
async fn entries(
    state: &SharedState,
    mount: Mount,
    repository: &repositories::Model,
    package: &packages::Model,
    mut versions: Vec<package_versions::Model>,
) -> Result<Vec<Map<String, Value>>> {
    versions
        .sort_by(|a, b| version::compare_normalized(&a.version_normalized, &b.version_normalized));
    let ids: Vec<Uuid> = versions.iter().map(|v| v.id).collect();
    let files = package_service::files_of(&state.db, &ids).await?;
    Ok(versions
        .iter()
        .map(|v| {
            let dist = files
                .iter()
                .find(|(file, _)| file.version_id == v.id)
                .map(|(_, blob)| Dist {
                    url: dist_url(state, mount.0, &repository.name, &package.name, &v.version),
                    sha1: blob
                        .as_ref()
                        .and_then(|b| b.sha1.clone())
                        .unwrap_or_default(),
                });
            version_entry(&package.name, v, dist)
        })
        .collect())
}

async fn packages_json(
    State(state): State<SharedState>,
    Extension(mount): Extension<Mount>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    auth: TokenAuth,
) -> Answer {
    let (access, repository) = open(&state, auth, &headers, &repo).await?;
    let listed = access
        .permissions(&repository, PackageScope::Repository)
        .contains(Permission::List)
        .then(|| catalog::listed(&access, &repository))
        .transpose()?;
    let revision = catalog::revision(&state.db, repository.id).await?;
    let key = DocumentKey::new(
        repository.id,
        revision,
        listed.as_ref().unwrap_or(&Listed::All),
        &[
            "packages.json",
            mount.0,
            if listed.is_some() { "listed" } else { "" },
        ],
    );
    kept_document(&state, &headers, key, async {
        let base = repository_url(&state, mount, &repository.name);
        let available = match &listed {
            Some(listed) => Some(
                catalog::names_json(&state.db, repository.id, listed, &Filter::default()).await?,
            ),
            None => None,
        };
        let document = PackagesJson {
            packages: [],
            metadata_url: format!("{base}/p2/%package%.json"),
            notify_batch: format!("{base}/downloads"),
            search: listed
                .is_some()
                .then(|| format!("{base}/search.json?q=%query%&type=%type%")),
            list: listed.is_some().then(|| format!("{base}/list.json")),
            available_packages: available.as_deref(),
        };
        Ok(Bytes::from(
            serde_json::to_vec(&document).map_err(Error::internal)?,
        ))
    })
    .await
}

/// The root document: where metadata lives, and every package name the caller may list.
#[derive(serde::Serialize)]
struct PackagesJson<'a> {
    packages: [(); 0],
    #[serde(rename = "metadata-url")]
    metadata_url: String,
    #[serde(rename = "notify-batch")]
    notify_batch: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    list: Option<String>,
    #[serde(rename = "available-packages", skip_serializing_if = "Option::is_none")]
    available_packages: Option<&'a serde_json::value::RawValue>,
}

/// A document naming every package the caller may list: `304` when the client holds the
/// current one (known from the repository's revision, before any work), else the kept
/// copy, built once per change of the repository.
async fn kept_document(
    state: &SharedState,
    headers: &HeaderMap,
    key: DocumentKey,
    build: impl std::future::Future<Output = Result<Bytes>>,
) -> Answer {
    let etag = key.etag();
    if etag_matches(headers, &etag) {
        return Ok(not_modified_response(&etag));
    }
    let kept = catalog::document(&state.documents, key, build).await?;
    Ok(conditional(headers, JSON, kept.body, &etag, kept.built))
}

/// The request a p2 answer is kept by, or `None` when it is not kept: one carrying a browser
/// session (whose end this replica is not told of) is always looked at afresh.
fn answer_key(headers: &HeaderMap, uri: &http::Uri) -> Option<String> {
    if headers.contains_key(http::header::COOKIE) {
        return None;
    }
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    Some(crate::protocols::request_key(&[
        auth,
        uri.path().as_bytes(),
    ]))
}

/// The p2 document of a package: its released versions, or its dev versions (`~dev.json`).
async fn p2(
    State(state): State<SharedState>,
    Extension(mount): Extension<Mount>,
    Path((repo, vendor, file)): Path<(String, String, String)>,
    uri: http::Uri,
    headers: HeaderMap,
) -> Answer {
    let answer_key = answer_key(&headers, &uri);
    if let Some(key) = &answer_key {
        if let Some(answer) = state.metadata_answers.get(key).await {
            if answer.valid_until.is_none_or(|at| at > chrono::Utc::now()) {
                return Ok(conditional(
                    &headers,
                    JSON,
                    answer.body.clone(),
                    &answer.etag,
                    answer.updated_at,
                ));
            }
        }
    }
    let auth = TokenAuth::from_headers(&state, &headers).await;
    let (access, repository) = open(&state, auth, &headers, &repo).await?;
    let (stem, dev) = match file.strip_suffix("~dev.json") {
        Some(stem) => (stem, true),
        None => match file.strip_suffix(".json") {
            Some(stem) => (stem, false),
            None => {
                return Err(package_not_found(&repository.name, &format!("{vendor}/{file}")).into())
            }
        },
    };
    let name = format!("{vendor}/{stem}");
    let package = readable_package(&state, &access, &repository, &name).await?;
    let key = (
        package.id,
        package.updated_at.timestamp_micros(),
        dev,
        mount.0,
    );
    let (body, etag) = match state.composer_cache.get(&key).await {
        Some(hit) => hit,
        None => {
            let versions: Vec<_> = package_service::versions(&state.db, package.id)
                .await?
                .into_iter()
                .filter(|v| version::is_dev(&v.version_normalized) == dev)
                .collect();
            let entries = entries(&state, mount, &repository, &package, versions).await?;
            let document = json!({
                "packages": { &package.name: minify(entries) },
                "minified": "composer/2.0",
            });
            let body = Bytes::from(serde_json::to_vec(&document).map_err(Error::internal)?);
            let etag = etag_of(&body);
            state
                .composer_cache
                .insert(key, (body.clone(), etag.clone()))
                .await;
            (body, etag)
        }
    };
    if let Some(key) = answer_key {
        let answer = MetadataAnswer {
            body: body.clone(),
            etag: etag.clone(),
            updated_at: package.updated_at,
            valid_until: access.principal.token().and_then(|t| t.expires_at),
        };
        state
            .metadata_answers
            .insert(key, std::sync::Arc::new(answer))
            .await;
    }
    Ok(conditional(&headers, JSON, body, &etag, package.updated_at))
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default, rename = "type")]
    package_type: String,
    page: Option<u64>,
    per_page: Option<u64>,
}

/// Results per page of `search.json` unless asked otherwise, and the most one may ask for.
const SEARCH_PAGE: u64 = 15;
const SEARCH_PAGE_MAX: u64 = 100;
/// The longest search and filter accepted.
const MAX_QUERY: usize = 200;
const MAX_FILTER: usize = 255;
const MAX_WILDCARDS: usize = 8;

/// `search.json`: a page of the packages whose name or description holds every word of `q`
/// (any type, or `type`), by name, with `total` and the URL of the `next` page.
async fn search(
    State(state): State<SharedState>,
    Extension(mount): Extension<Mount>,
    Path(repo): Path<String>,
    Query(query): Query<SearchQuery>,
    headers: HeaderMap,
    auth: TokenAuth,
) -> Answer {
    let (access, repository) = open(&state, auth, &headers, &repo).await?;
    let listed = catalog::listed(&access, &repository)?;
    if query.q.chars().count() > MAX_QUERY || query.package_type.len() > MAX_FILTER {
        return Err(Error::bad_input(format!(
            "q: a search is at most {MAX_QUERY} characters, type at most {MAX_FILTER}"
        ))
        .into());
    }
    let per_page = query
        .per_page
        .unwrap_or(SEARCH_PAGE)
        .clamp(1, SEARCH_PAGE_MAX);
    let page = query.page.unwrap_or(1).max(1);
    let offset = (page - 1).saturating_mul(per_page);
    let filter = Filter {
        search: Some(query.q.trim()).filter(|q| !q.is_empty()),
        kind: Some(query.package_type.trim()).filter(|t| !t.is_empty()),
        ..Filter::default()
    };
    let (found, total) = catalog::search(
        &state.db,
        &state.search_counts,
        repository.id,
        &listed,
        &filter,
        catalog::Start::Offset(offset),
        per_page,
    )
    .await?;
    let ids: Vec<Uuid> = found.iter().map(|p| p.id).collect();
    let downloads = crate::services::downloads::package_totals(&state.db, &ids).await?;
    let results: Vec<Value> = found
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "description": p.description,
                "url": format!("{}/repositories/{}/packages/{}", state.base_url, encode_segment(&repository.name), p.name),
                "repository": "",
                "downloads": downloads.get(&p.id).copied().unwrap_or(0),
                "favers": 0,
            })
        })
        .collect();
    let mut document = json!({ "results": results, "total": total });
    if offset + per_page < total && offset + per_page <= catalog::MAX_OFFSET {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        next.append_pair("q", &query.q);
        if !query.package_type.is_empty() {
            next.append_pair("type", &query.package_type);
        }
        next.append_pair("per_page", &per_page.to_string());
        next.append_pair("page", &(page + 1).to_string());
        document["next"] = format!(
            "{}/search.json?{}",
            repository_url(&state, mount, &repository.name),
            next.finish()
        )
        .into();
    }
    let body = Bytes::from(serde_json::to_vec(&document).map_err(Error::internal)?);
    let etag = etag_of(&body);
    if etag_matches(&headers, &etag) {
        return Ok(not_modified_response(&etag));
    }
    let length = body.len() as u64;
    Ok(tagged(JSON, Body::from(body), Some(length), &etag))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    filter: String,
    #[serde(default, rename = "type")]
    package_type: String,
}

/// `list.json`: the names the caller may list, all or those matching `filter` (`*` is a
/// wildcard) and `type`; kept per change of the repository, as `packages.json`.
async fn list(
    State(state): State<SharedState>,
    Extension(mount): Extension<Mount>,
    Path(repo): Path<String>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
    auth: TokenAuth,
) -> Answer {
    let (access, repository) = open(&state, auth, &headers, &repo).await?;
    let listed = catalog::listed(&access, &repository)?;
    if query.filter.len() > MAX_FILTER || query.package_type.len() > MAX_FILTER {
        return Err(Error::bad_input(format!(
            "filter: a filter or type is at most {MAX_FILTER} characters"
        ))
        .into());
    }
    // Each `*` may try every position of a name against the rest of the pattern.
    if query.filter.matches('*').count() > MAX_WILDCARDS {
        return Err(
            Error::bad_input(format!("filter: at most {MAX_WILDCARDS} wildcards (*)")).into(),
        );
    }
    let revision = catalog::revision(&state.db, repository.id).await?;
    let key = DocumentKey::new(
        repository.id,
        revision,
        &listed,
        &["list.json", mount.0, &query.filter, &query.package_type],
    );
    kept_document(&state, &headers, key, async {
        let filter = Filter {
            search: None,
            kind: Some(query.package_type.trim()).filter(|t| !t.is_empty()),
            name_wildcard: Some(query.filter.trim()).filter(|f| !f.is_empty()),
            ..Filter::default()
        };
        let names = catalog::names_json(&state.db, repository.id, &listed, &filter).await?;
        let mut body = Vec::with_capacity(names.get().len() + 20);
        body.extend_from_slice(b"{\"packageNames\":");
        body.extend_from_slice(names.get().as_bytes());
        body.push(b'}');
        Ok(Bytes::from(body))
    })
    .await
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    downloads: Vec<NotifiedDownload>,
}

#[derive(Deserialize)]
struct NotifiedDownload {
    name: String,
    version: String,
}

/// Composer's `notify-batch`: installs it reports, counted unless the same caller's dist
/// download of that version was just counted.
async fn notify_batch(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(repo): Path<String>,
    auth: TokenAuth,
    body: Body,
) -> Answer {
    let (access, repository) = open(&state, auth, &HeaderMap::new(), &repo).await?;
    // Read only once the caller may download here, and only a small body.
    let body = crate::protocols::small_body(body).await?;
    let notification: Notification = serde_json::from_slice(&body).map_err(|err| {
        Error::bad_input(format!(
            "expected {{\"downloads\":[{{\"name\":…,\"version\":…}}]}}: {err}"
        ))
    })?;
    let who = Downloader::new(&access.principal, Some(peer.ip().to_string()));
    for reported in notification.downloads.iter().take(1000) {
        let Ok(package) = readable_package(&state, &access, &repository, &reported.name).await
        else {
            continue;
        };
        let versions = package_service::versions(&state.db, package.id).await?;
        if let Some(found) = versions
            .iter()
            .find(|v| v.version_normalized == reported.version || v.version == reported.version)
        {
            state.downloads.notified(found.id, &who);
        }
    }
    Ok((
        StatusCode::OK,
        [(CONTENT_TYPE, JSON)],
        r#"{"status":"success"}"#,
    )
        .into_response())
}

async fn dist(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((repo, vendor, name, file)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    auth: TokenAuth,
) -> Answer {
    let (access, repository) = open(&state, auth, &headers, &repo).await?;
    let package_name = format!("{vendor}/{name}");
    let package = readable_package(&state, &access, &repository, &package_name).await?;
    let missing = || Error::not_found(format!("{package_name} has no version {file}"));
    let wanted = file.strip_suffix(".zip").ok_or_else(missing)?;
    let version = package_service::versions(&state.db, package.id)
        .await?
        .into_iter()
        .find(|v| v.version == wanted)
        .ok_or_else(missing)?;
    let (file_row, blob) = package_service::files_of(&state.db, &[version.id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(missing)?;
    let etag = format!("\"{}\"", file_row.blob_digest);
    let last_modified = version.updated_at;
    if crate::protocols::not_modified(&headers, &etag, last_modified) {
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(ETAG, etag), (LAST_MODIFIED, http_date(last_modified))],
        )
            .into_response());
    }
    let stream = state
        .blobs
        .read(&file_row.blob_digest)
        .await
        .map_err(Error::internal)?;
    state.downloads.dist(
        version.id,
        &Downloader::new(&access.principal, Some(peer.ip().to_string())),
    );
    let size = blob.map(|b| b.size).unwrap_or(file_row.size);
    let filename = format!(
        "{}-{}.zip",
        package_name.replace('/', "-"),
        version.version.replace(['/', '"', '\\'], "-")
    );
    let mut response = Response::new(Body::from_stream(stream));
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    h.insert(CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&http_date(last_modified)) {
        h.insert(LAST_MODIFIED, value);
    }
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// What an upload carried besides the archive.
#[derive(Default)]
struct UploadFields {
    version: Option<String>,
    overwrite: bool,
}

async fn upload(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(mount): Extension<Mount>,
    Path((repo, vendor, name)): Path<(String, String, String)>,
    auth: TokenAuth,
    multipart: std::result::Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Answer {
    let access = state.protocol_access(principal(auth)?).await?;
    let repository = state
        .protocol_repository(&repo)
        .await?
        .filter(|r| r.format() == Some(Format::Composer))
        .ok_or_else(|| access.unknown_repository(&repo))?;
    let package_name = format!("{vendor}/{name}");
    // Refuse before reading the body when the caller may not upload here at all.
    access.check(
        &repository,
        PackageScope::Package(&package_name),
        &[Permission::Upload],
    )?;
    if !is_valid_package_name(&package_name) {
        return Err(Error::bad_input(format!(
            "\"{package_name}\" is not a valid package name: use lowercase vendor/name"
        ))
        .into());
    }
    let mut multipart = multipart.map_err(|err| {
        Error::bad_input(format!(
            "send the package as multipart/form-data with a field \"file\": {err}"
        ))
    })?;
    let published = receive(
        &state,
        &access,
        &repository,
        &package_name,
        &mut multipart,
        peer,
    )
    .await?;
    let (package, version) = published;
    let entry = entries(&state, mount, &repository, &package, vec![version]).await?;
    let body = serde_json::to_vec(&json!({ "packages": { &package.name: entry } }))
        .map_err(Error::internal)?;
    Ok((StatusCode::CREATED, [(CONTENT_TYPE, JSON)], body).into_response())
}

/// Longest text field of an upload form (a version, a flag).
const TEXT_FIELD_LIMIT: usize = 1024;

/// A text field of an upload form, refused past [`TEXT_FIELD_LIMIT`] bytes instead of being
/// read whole into memory.
async fn text_field(mut field: axum::extract::multipart::Field<'_>) -> Result<String> {
    let name = field.name().unwrap_or("").to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > TEXT_FIELD_LIMIT {
            return Err(Error::bad_input(format!(
                "the field {name} may be at most {TEXT_FIELD_LIMIT} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| Error::bad_input(format!("the field {name} is not UTF-8")))
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> Error {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::PayloadTooLarge(format!("the upload is too large: {}", err.body_text()))
    } else {
        Error::bad_input(format!("malformed multipart body: {}", err.body_text()))
    }
}

async fn receive(
    state: &SharedState,
    access: &Access,
    repository: &repositories::Model,
    package_name: &str,
    multipart: &mut Multipart,
    peer: SocketAddr,
) -> Result<(packages::Model, package_versions::Model)> {
    let mut fields = UploadFields::default();
    let mut staged = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name().unwrap_or("") {
            "file" => {
                let mut staging = state
                    .blobs
                    .stage(state.config.max_body_size)
                    .await
                    .map_err(Error::internal)?;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    staging.write(&chunk).await.map_err(|err| match err {
                        StageError::TooLarge(limit) => Error::PayloadTooLarge(format!(
                            "the upload is larger than the limit of {limit} bytes"
                        )),
                        StageError::Io(err) => Error::internal(err),
                    })?;
                }
                staged = Some(staging.finish().await.map_err(Error::internal)?);
            }
            "version" => {
                let text = text_field(field).await?;
                let text = text.trim();
                if !text.is_empty() {
                    fields.version = Some(text.to_owned());
                }
            }
            "overwrite" => {
                let text = text_field(field).await?;
                fields.overwrite = matches!(text.trim(), "1" | "true" | "yes" | "on");
            }
            _ => {}
        }
    }
    let staged = staged.ok_or_else(|| {
        Error::bad_input("no package archive: send the zip in the multipart field \"file\"")
    })?;
    let path = staged.path().to_owned();
    let contents =
        tokio::task::spawn_blocking(move || archive::inspect(&path, archive::Limits::default()))
            .await
            .map_err(Error::internal)?
            .map_err(|err| Error::bad_input(err.to_string()))?;
    let new = crate::services::composer::prepare(
        package_name,
        contents,
        fields.version,
        &staged,
        fields.overwrite,
    )?;
    let actor = Actor::from_principal(&access.principal, Some(peer.ip().to_string()));
    let published =
        package_service::publish(&state.db, &state.blobs, &actor, access, repository, new).await;
    state.forget_packages();
    published
}
