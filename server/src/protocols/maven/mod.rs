//! Maven repositories in the Maven 2 layout under `/maven/{repo}/`: GET, HEAD and PUT of
//! artifacts of any extension and classifier; checksums computed at upload and compared
//! with the client's; `maven-metadata.xml` generated from what is stored; folder indexes.
//! Errors are plain text; anonymous callers of a private repository get a Basic challenge
//! (Maven sends credentials only after one).

pub use crate::formats::maven::{metadata, path};

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::StreamExt;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use packistry_shared::permissions::Permission;
use packistry_shared::Format;
use serde::Deserialize;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use self::path::{is_snapshot, package_folders, Checksum, Coordinates, MavenPath, METADATA};
use crate::db::entities::{blobs, package_versions, packages, repositories, version_files};
use crate::error::{Error, Result};
use crate::protocols::{
    conditional, encode_segment, etag_of, http_date, reader_principal, PlainError,
};
use crate::services::access::{Access, PackageScope};
use crate::services::audit::Actor;
use crate::services::downloads::Downloader;
use crate::services::packages::{self as package_service, NewFile, WhenExists};
use crate::state::SharedState;
use crate::state::TokenAuth;
use crate::storage::StageError;

/// Largest checksum or client metadata body read.
/// Largest POM read for its packaging and name.
const POM_LIMIT: u64 = 16 * 1024 * 1024;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/maven/{repo}", get(root))
        .route("/maven/{repo}/", get(root))
        .route("/maven/{repo}/{*path}", get(read).put(write))
}

/// Maven errors are plain text, with a Basic challenge on 401 (Maven sends credentials
/// only after one).
type MavenError = PlainError;

type Answer = std::result::Result<Response, MavenError>;

/// A Maven repository by name; one that does not exist answers as one the caller may not see.
async fn repository(
    state: &SharedState,
    access: &Access,
    name: &str,
) -> Result<repositories::Model> {
    state
        .protocol_repository(name)
        .await?
        .filter(|r| r.format() == Some(Format::Maven))
        .ok_or_else(|| access.unknown_repository(name))
}

fn not_found(path: &str) -> Error {
    Error::not_found(format!("{path} does not exist"))
}

/// The part of the request path after `/maven/{repo}/`, still percent-encoded.
fn raw_rest(uri: &http::Uri) -> &str {
    let path = uri.path();
    let rest = path.strip_prefix("/maven/").unwrap_or(path);
    rest.split_once('/').map(|(_, rest)| rest).unwrap_or("")
}

async fn root(
    State(state): State<SharedState>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    auth: TokenAuth,
) -> Answer {
    let access = state
        .protocol_access(reader_principal(&state, auth, &headers).await?)
        .await?;
    let repository = repository(&state, &access, &repo).await?;
    Ok(folder(&state, &access, &repository, &[]).await?)
}

async fn read(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((repo, decoded)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    auth: TokenAuth,
    request: Request,
) -> Answer {
    let parsed =
        path::parse(raw_rest(request.uri()), &decoded).map_err(|err| Error::bad_input(err.0))?;
    let access = state
        .protocol_access(reader_principal(&state, auth, &headers).await?)
        .await?;
    let repository = repository(&state, &access, &repo).await?;
    access.check(
        &repository,
        PackageScope::Repository,
        &[Permission::Download],
    )?;
    match parsed {
        MavenPath::Folder(segments) => Ok(folder(&state, &access, &repository, &segments).await?),
        MavenPath::Metadata { folders, checksum } => {
            let (xml, updated) = generated_metadata(&state, &access, &repository, &folders)
                .await?
                .ok_or_else(|| not_found(&decoded))?;
            let body = match checksum {
                Some(checksum) => hash_hex(checksum, xml.as_bytes()),
                None => xml,
            };
            let body = Bytes::from(body);
            let etag = etag_of(&body);
            let content_type = if checksum.is_some() {
                "text/plain"
            } else {
                "application/xml"
            };
            Ok(conditional(&headers, content_type, body, &etag, updated))
        }
        MavenPath::File {
            coordinates,
            checksum,
        } => {
            let (_, version, file, blob) = stored_file(&state, &access, &repository, &coordinates)
                .await?
                .ok_or_else(|| not_found(&decoded))?;
            if let Some(checksum) = checksum {
                let value = stored_checksum(&blob, checksum).ok_or_else(|| not_found(&decoded))?;
                let body = Bytes::from(value);
                let etag = etag_of(&body);
                return Ok(conditional(
                    &headers,
                    "text/plain",
                    body,
                    &etag,
                    file.created_at,
                ));
            }
            let etag = format!("\"{}\"", file.blob_digest);
            if crate::protocols::not_modified(&headers, &etag, file.created_at) {
                return Ok((
                    StatusCode::NOT_MODIFIED,
                    [(ETAG, etag), (LAST_MODIFIED, http_date(file.created_at))],
                )
                    .into_response());
            }
            let body = if method == Method::HEAD {
                Body::empty()
            } else {
                if counts_as_download(&coordinates) {
                    state.downloads.dist(
                        version.id,
                        &Downloader::new(&access.principal, Some(peer.ip().to_string())),
                    );
                }
                Body::from_stream(
                    state
                        .blobs
                        .read(&file.blob_digest)
                        .await
                        .map_err(Error::internal)?,
                )
            };
            let mut response = Response::new(body);
            let h = response.headers_mut();
            let media = HeaderValue::from_str(&file.media_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            h.insert(CONTENT_TYPE, media);
            h.insert(CONTENT_LENGTH, HeaderValue::from(file.size));
            if let Ok(value) = HeaderValue::from_str(&etag) {
                h.insert(ETAG, value);
            }
            if let Ok(value) = HeaderValue::from_str(&http_date(file.created_at)) {
                h.insert(LAST_MODIFIED, value);
            }
            Ok(response)
        }
    }
}

fn counts_as_download(coordinates: &Coordinates) -> bool {
    !matches!(coordinates.extension.as_str(), "pom" | "asc" | "module")
        && !coordinates.extension.ends_with(".asc")
}

fn hash_hex(checksum: Checksum, bytes: &[u8]) -> String {
    match checksum {
        Checksum::Md5 => hex::encode(md5::Md5::digest(bytes)),
        Checksum::Sha1 => hex::encode(Sha1::digest(bytes)),
        Checksum::Sha256 => hex::encode(Sha256::digest(bytes)),
        Checksum::Sha512 => hex::encode(Sha512::digest(bytes)),
    }
}

fn stored_checksum(blob: &blobs::Model, checksum: Checksum) -> Option<String> {
    match checksum {
        Checksum::Md5 => blob.md5.clone(),
        Checksum::Sha1 => blob.sha1.clone(),
        Checksum::Sha256 => Some(blob.digest.clone()),
        Checksum::Sha512 => blob.sha512.clone(),
    }
}

/// A package the caller may read, by name; the same `None` whether missing or hidden.
async fn readable_package(
    state: &SharedState,
    access: &Access,
    repository: &repositories::Model,
    name: &str,
) -> Result<Option<packages::Model>> {
    let Some(package) = package_service::find(&state.db, repository.id, name).await? else {
        return Ok(None);
    };
    match access.check(
        repository,
        PackageScope::Package(&package.name),
        &[Permission::Download],
    ) {
        Ok(()) => Ok(Some(package)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(err) => Err(err),
    }
}

type StoredFile = (
    packages::Model,
    package_versions::Model,
    version_files::Model,
    blobs::Model,
);

async fn stored_file(
    state: &SharedState,
    access: &Access,
    repository: &repositories::Model,
    coordinates: &Coordinates,
) -> Result<Option<StoredFile>> {
    let Some(package) = readable_package(state, access, repository, &coordinates.package()).await?
    else {
        return Ok(None);
    };
    let Some(version) = package_service::versions(&state.db, package.id)
        .await?
        .into_iter()
        .find(|v| v.version == coordinates.version)
    else {
        return Ok(None);
    };
    let found = package_service::files_of(&state.db, &[version.id])
        .await?
        .into_iter()
        .find(|(f, _)| f.name == coordinates.file);
    Ok(match found {
        Some((file, Some(blob))) => Some((package, version, file, blob)),
        _ => None,
    })
}

/// The metadata at a folder: SNAPSHOT version level, artifact level, or group level (plugins),
/// whichever the stored packages make it; `None` when there is nothing to describe.
async fn generated_metadata(
    state: &SharedState,
    access: &Access,
    repository: &repositories::Model,
    folders: &[String],
) -> Result<Option<(String, chrono::DateTime<chrono::Utc>)>> {
    let n = folders.len();
    if n >= 3 && is_snapshot(&folders[n - 1]) {
        let group_id = folders[..n - 2].join(".");
        let artifact_id = &folders[n - 2];
        let name = format!("{group_id}:{artifact_id}");
        if let Some(package) = readable_package(state, access, repository, &name).await? {
            let versions = package_service::versions(&state.db, package.id).await?;
            if let Some(version) = versions.into_iter().find(|v| v.version == folders[n - 1]) {
                let files = package_service::files_of(&state.db, &[version.id]).await?;
                let snapshot_files: Vec<metadata::SnapshotFile> = files
                    .iter()
                    .filter_map(|(f, _)| {
                        let parsed = path::parse(
                            &format!("{}/{}", folders.join("/"), f.name),
                            &format!("{}/{}", folders.join("/"), f.name),
                        );
                        match parsed {
                            Ok(MavenPath::File {
                                coordinates,
                                checksum: None,
                            }) => Some(metadata::SnapshotFile {
                                classifier: coordinates.classifier,
                                extension: coordinates.extension,
                                build: coordinates.snapshot_build,
                            }),
                            _ => None,
                        }
                    })
                    .collect();
                return Ok(Some((
                    metadata::snapshot(
                        &group_id,
                        artifact_id,
                        &version.version,
                        &snapshot_files,
                        version.updated_at,
                    ),
                    version.updated_at,
                )));
            }
        }
        return Ok(None);
    }
    if n >= 2 {
        let group_id = folders[..n - 1].join(".");
        let artifact_id = &folders[n - 1];
        let name = format!("{group_id}:{artifact_id}");
        if let Some(package) = readable_package(state, access, repository, &name).await? {
            let versions: Vec<String> = package_service::versions(&state.db, package.id)
                .await?
                .into_iter()
                .map(|v| v.version)
                .collect();
            if versions.is_empty() {
                return Ok(None);
            }
            return Ok(Some((
                metadata::artifact(&group_id, artifact_id, &versions, package.updated_at),
                package.updated_at,
            )));
        }
    }
    // Group level: the plugins of this group.
    let group_id = folders.join(".");
    let prefix = format!("{group_id}:");
    // The group's artifacts only, by name prefix from the index; a package limit filters in
    // the query too.
    let listed = match access.principal.token() {
        Some(token) if !token.package_names.is_empty() => {
            crate::services::catalog::Listed::Only(token.package_names.clone())
        }
        _ => crate::services::catalog::Listed::All,
    };
    let filter = crate::services::catalog::Filter {
        name_prefix: Some(&prefix),
        ..Default::default()
    };
    let mut candidates: Vec<packages::Model> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = crate::services::catalog::page(
            &state.db,
            repository.id,
            &listed,
            &filter,
            crate::services::catalog::Start::After(after.as_deref()),
            crate::services::catalog::MAX_PAGE,
        )
        .await?;
        let full = page.len() as u64 == crate::services::catalog::MAX_PAGE;
        after = page.last().map(|p| p.name.clone());
        candidates.extend(page.into_iter().filter(|p| {
            p.name
                .strip_prefix(&prefix)
                .is_some_and(|a| !a.contains(':'))
        }));
        if !full {
            break;
        }
    }
    let ids: Vec<_> = candidates.iter().map(|p| p.id).collect();
    let versions = package_service::versions_of(&state.db, &ids).await?;
    let mut plugins = Vec::new();
    let mut updated = repository.updated_at;
    for package in &candidates {
        if !access
            .permissions(repository, PackageScope::Package(&package.name))
            .contains(Permission::Download)
        {
            continue;
        }
        let facts = versions
            .iter()
            .filter(|v| v.package_id == package.id)
            .max_by(|a, b| metadata::compare(&a.version, &b.version));
        let Some(latest) = facts else { continue };
        if latest.metadata.get("packaging").and_then(|p| p.as_str()) != Some("maven-plugin") {
            continue;
        }
        let artifact_id = package.name[prefix.len()..].to_owned();
        updated = updated.max(package.updated_at);
        plugins.push(metadata::Plugin {
            name: latest
                .metadata
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or(&artifact_id)
                .to_owned(),
            prefix: latest
                .metadata
                .get("goalPrefix")
                .and_then(|n| n.as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| metadata::plugin_prefix(&artifact_id)),
            artifact_id,
        });
    }
    if plugins.is_empty() {
        return Ok(None);
    }
    plugins.sort_by(|a, b| a.artifact_id.cmp(&b.artifact_id));
    Ok(Some((metadata::group(&plugins), updated)))
}

/// An HTML index of a folder, as Maven Central serves (callers who may list).
async fn folder(
    state: &SharedState,
    access: &Access,
    repository: &repositories::Model,
    segments: &[String],
) -> Result<Response> {
    let listed = package_service::list_for(&state.db, access, repository).await?;
    let mut entries: Vec<(String, bool)> = Vec::new();
    for package in &listed {
        let folders = package_folders(&package.name);
        if segments.len() < folders.len() && folders[..segments.len()] == *segments {
            entries.push((folders[segments.len()].clone(), true));
        } else if folders == segments {
            for version in package_service::versions(&state.db, package.id).await? {
                entries.push((version.version, true));
            }
            entries.push((METADATA.to_owned(), false));
        } else if segments.len() == folders.len() + 1 && segments[..folders.len()] == *folders {
            let wanted = &segments[folders.len()];
            let versions = package_service::versions(&state.db, package.id).await?;
            if let Some(version) = versions.iter().find(|v| &v.version == wanted) {
                for (file, _) in package_service::files_of(&state.db, &[version.id]).await? {
                    entries.push((file.name, false));
                }
                if is_snapshot(wanted) {
                    entries.push((METADATA.to_owned(), false));
                }
            }
        }
    }
    if entries.is_empty() && !segments.is_empty() {
        return Err(not_found(&format!("{}/", segments.join("/"))));
    }
    let mut names: Vec<(String, bool)> = Vec::new();
    for (name, dir) in entries {
        if !dir {
            for checksum in path::CHECKSUMS {
                names.push((format!("{name}.{}", checksum.extension()), false));
            }
        }
        names.push((name, dir));
    }
    names.sort();
    names.dedup();
    let title = format!(
        "/maven/{}/{}",
        repository.name,
        segments.iter().map(|s| format!("{s}/")).collect::<String>()
    );
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {0}</title></head><body><h1>Index of {0}</h1><hr><pre>",
        quick_xml::escape::escape(&title)
    );
    if !segments.is_empty() {
        html.push_str("<a href=\"../\">../</a>\n");
    }
    for (name, dir) in names {
        let shown = if dir {
            format!("{name}/")
        } else {
            name.clone()
        };
        let href = if dir {
            format!("{}/", encode_segment(&name))
        } else {
            encode_segment(&name)
        };
        html.push_str(&format!(
            "<a href=\"{href}\">{}</a>\n",
            quick_xml::escape::escape(&shown)
        ));
    }
    html.push_str("</pre><hr></body></html>\n");
    Ok(Html(html).into_response())
}

#[derive(Deserialize, Default)]
struct WriteQuery {
    #[serde(default)]
    overwrite: Option<String>,
}

fn wants_overwrite(query: &WriteQuery, headers: &HeaderMap) -> bool {
    let yes = |v: &str| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes");
    query.overwrite.as_deref().is_some_and(yes)
        || headers
            .get("x-packistry-overwrite")
            .and_then(|v| v.to_str().ok())
            .is_some_and(yes)
}

#[allow(clippy::too_many_arguments)]
async fn write(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((repo, decoded)): Path<(String, String)>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    auth: TokenAuth,
    request: Request,
) -> Answer {
    let parsed =
        path::parse(raw_rest(request.uri()), &decoded).map_err(|err| Error::bad_input(err.0))?;
    tracing::debug!("maven write: authenticated");
    let access = state
        .protocol_access(crate::protocols::principal(auth)?)
        .await?;
    tracing::debug!("maven write: access loaded");
    let repository = repository(&state, &access, &repo).await?;
    tracing::debug!("maven write: repository found");
    let body = request.into_body();
    match parsed {
        MavenPath::Folder(_) => Err(Error::bad_input("PUT a file, not a folder").into()),
        MavenPath::Metadata { .. } => {
            // Accepted, not kept: GET always answers the server's own view, so concurrent
            // deploys never lose a version.
            access.check(&repository, PackageScope::Repository, &[Permission::Upload])?;
            crate::protocols::small_body(body).await?;
            tracing::debug!("maven write: metadata body read");
            Ok(StatusCode::CREATED.into_response())
        }
        MavenPath::File {
            coordinates,
            checksum: Some(checksum),
        } => {
            let package_name = coordinates.package();
            access.check(
                &repository,
                PackageScope::Package(&package_name),
                &[Permission::Upload],
            )?;
            let sent = crate::protocols::small_body(body).await?;
            let sent = String::from_utf8_lossy(&sent);
            let sent = sent
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            let stored = stored_file(&state, &access, &repository, &coordinates)
                .await?
                .and_then(|(_, _, _, blob)| stored_checksum(&blob, checksum))
                .ok_or_else(|| {
                    Error::bad_input(format!(
                        "upload {} before its .{} checksum",
                        coordinates.file,
                        checksum.extension()
                    ))
                })?;
            if sent != stored {
                return Err(Error::bad_input(format!(
                    "{} mismatch for {}: uploaded {sent}, computed {stored}",
                    checksum.extension(),
                    coordinates.file
                ))
                .into());
            }
            Ok(StatusCode::CREATED.into_response())
        }
        MavenPath::File {
            coordinates,
            checksum: None,
        } => {
            let package_name = coordinates.package();
            let scope = PackageScope::Package(&package_name);
            access.check(&repository, scope, &[Permission::Upload])?;
            let overwrite = wants_overwrite(&query, &headers);
            if overwrite {
                access.check(&repository, scope, &[Permission::Administer])?;
            }
            let snapshot = is_snapshot(&coordinates.version);
            let when_exists = if snapshot || overwrite {
                WhenExists::Replace
            } else {
                WhenExists::Conflict
            };
            let mut staging = state
                .blobs
                .stage(state.config.max_body_size)
                .await
                .map_err(Error::internal)?;
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|err| Error::body(&err))?;
                staging.write(&chunk).await.map_err(|err| match err {
                    StageError::TooLarge(limit) => Error::PayloadTooLarge(format!(
                        "the upload is larger than the limit of {limit} bytes"
                    )),
                    StageError::Io(err) => Error::internal(err),
                })?;
            }
            let staged = staging.finish().await.map_err(Error::internal)?;
            tracing::debug!("maven write: body staged");
            let mut facts = serde_json::Map::new();
            if coordinates.extension == "pom" && coordinates.classifier.is_none() {
                if staged.size > POM_LIMIT {
                    return Err(Error::bad_input("the POM is too large").into());
                }
                let bytes = tokio::fs::read(staged.path())
                    .await
                    .map_err(Error::internal)?;
                let pom = metadata::pom_facts(&bytes).map_err(Error::bad_input)?;
                for (key, value) in [
                    ("packaging", pom.packaging),
                    ("name", pom.name),
                    ("description", pom.description),
                    ("goalPrefix", pom.goal_prefix),
                ] {
                    if let Some(value) = value {
                        facts.insert(key.into(), value.into());
                    }
                }
            }
            let media_type = media_type(&coordinates.extension);
            let actor = Actor::from_principal(&access.principal, Some(peer.ip().to_string()));
            let (_, version, _) = package_service::put_file(
                &state.db,
                &state.blobs,
                &actor,
                &repository,
                NewFile {
                    package_name: &package_name,
                    version: &coordinates.version,
                    version_normalized: &coordinates.version,
                    metadata: facts,
                    file_name: &coordinates.file,
                    media_type,
                    file: &staged,
                    when_exists,
                },
            )
            .await?;
            if snapshot {
                if let Some(keep) = repository.snapshot_retention.filter(|n| *n > 0) {
                    let state = state.clone();
                    let folders = package_folders(&package_name).join("/");
                    tokio::spawn(async move {
                        if let Err(err) =
                            apply_retention(&state, &folders, version, keep as usize).await
                        {
                            tracing::warn!(error = %err, "snapshot retention failed");
                        }
                    });
                }
            }
            Ok(StatusCode::CREATED.into_response())
        }
    }
}

fn media_type(extension: &str) -> &'static str {
    match extension.rsplit('.').next().unwrap_or(extension) {
        "jar" | "war" | "ear" | "aar" => "application/java-archive",
        "pom" | "xml" => "application/xml",
        "module" | "json" => "application/json",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "asc" => "application/pgp-signature",
        "md5" | "sha1" | "sha256" | "sha512" | "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Keep the newest `keep` builds of a SNAPSHOT version; older builds' files are removed.
async fn apply_retention(
    state: &SharedState,
    folders: &str,
    version: package_versions::Model,
    keep: usize,
) -> Result<()> {
    let files = package_service::files_of(&state.db, &[version.id]).await?;
    let mut builds: Vec<(u32, String)> = Vec::new();
    let mut by_build: Vec<((u32, String), String)> = Vec::new();
    for (file, _) in &files {
        let full = format!("{folders}/{}/{}", version.version, file.name);
        if let Ok(MavenPath::File {
            coordinates,
            checksum: None,
        }) = path::parse(&full, &full)
        {
            if let Some((timestamp, build)) = coordinates.snapshot_build {
                let key = (build, timestamp);
                if !builds.contains(&key) {
                    builds.push(key.clone());
                }
                by_build.push((key, file.name.clone()));
            }
        }
    }
    builds.sort();
    builds.reverse();
    let old: Vec<(u32, String)> = builds.into_iter().skip(keep).collect();
    let names: Vec<String> = by_build
        .into_iter()
        .filter(|(key, _)| old.contains(key))
        .map(|(_, name)| name)
        .collect();
    if !names.is_empty() {
        tracing::info!(version = %version.version, removed = names.len(), "snapshot retention");
    }
    package_service::remove_files(&state.db, &version, &names).await
}
