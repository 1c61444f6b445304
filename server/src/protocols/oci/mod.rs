//! Containers: the OCI distribution specification v1.1 under `/v2/`, with Docker token
//! authentication. An image name's first segment is the Packistry repository, the rest the
//! image inside it (`/v2/acme/team/app/manifests/v1`). Errors are
//! `{"errors":[{"code","message","detail"}]}` with the specification's codes.

pub mod auth;
mod blob;
mod errors;
mod listing;
mod manifests;
mod token;
mod uploads;

use blob::*;
use errors::*;
use listing::*;
use manifests::*;
use token::*;
use uploads::*;

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
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::entities::{oci_blobs, oci_manifests, oci_uploads, packages, repositories};
use crate::error::Error;
use crate::formats::oci::{
    descriptor_digests, valid_digest, DOCKER_MANIFEST, MANIFEST_TYPES, OCI_INDEX, OCI_MANIFEST,
};
use crate::services::access::{Access, PackageScope};
use crate::services::audit::Actor;
use crate::services::catalog::{self, Filter, Listed};
use crate::services::downloads::Downloader;
use crate::services::images;
use crate::services::packages as package_service;
use crate::services::uploads as upload_service;
use crate::state::SharedState;
use crate::storage::{Hashes, StageError, Staged};

const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/v2", any(dispatch))
        .route("/v2/", any(dispatch))
        .route("/v2/{*rest}", any(dispatch))
}

struct Ctx {
    state: SharedState,
    base: String,
}

static NAME_COMPONENT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$").expect("name pattern")
});

static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$").expect("tag pattern")
});

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

pub use crate::cache::ManifestAnswer;

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
