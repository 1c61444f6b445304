//! Packages and their versions, files and downloads; uploading and deleting them.

use std::collections::HashMap;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{ComplexObject, Context, Object, Result, SimpleObject, Upload, ID};
use chrono::{DateTime, NaiveDate, Utc};
use packistry_shared::permissions::Permission;
use serde_json::Value;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use super::context::Call;
use super::types::{cursor, cursor_key, page_size};
use crate::db::entities::{package_versions, packages, repositories};
use crate::error::Error;
use crate::formats::composer::{archive, version};
use crate::formats::maven::metadata as maven_metadata;
use crate::formats::maven::path::package_folders;
use crate::protocols::composer;
use crate::protocols::encode_segment;
use crate::services::access::{Access, PackageScope};
use crate::services::catalog::{self, Filter, Listed};
use crate::services::downloads;
use crate::services::packages as service;
use crate::services::repositories as repository_service;
use crate::state::SharedState;
use crate::storage::StageError;

/// A package of a repository.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Package {
    pub id: ID,
    /// `vendor/name` for Composer.
    pub name: String,
    pub description: String,
    pub repository: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The newest version by the format's ordering, if any.
    pub latest_version: Option<String>,
    pub version_count: i32,
    /// Downloads of its files; for a container image, its pulls.
    pub total_downloads: i64,
    #[graphql(skip)]
    pub package_id: Uuid,
    /// A container image: its downloads are pulls.
    #[graphql(skip)]
    pub image: bool,
}

/// A dependency: a package name and a version constraint.
#[derive(SimpleObject, Clone)]
pub struct Link {
    pub name: String,
    pub constraint: String,
}

/// A file of a version, stored once by its digest.
#[derive(SimpleObject, Clone)]
pub struct PackageFile {
    pub name: String,
    pub size: i64,
    pub sha256: String,
    pub sha1: Option<String>,
    pub media_type: String,
    /// Where a client downloads it.
    pub url: Option<String>,
}

/// One version of a package.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct PackageVersion {
    pub id: ID,
    pub package: String,
    pub version: String,
    pub version_normalized: String,
    /// Composer: dev, alpha, beta, RC or stable. Maven: snapshot or release.
    pub stability: String,
    pub created_at: DateTime<Utc>,
    /// The format's own metadata (composer.json as uploaded).
    pub metadata: async_graphql::Json<Value>,
    pub requires: Vec<Link>,
    pub dev_requires: Vec<Link>,
    pub files: Vec<PackageFile>,
    pub downloads: i64,
    #[graphql(skip)]
    pub readme: Option<String>,
}

#[ComplexObject]
impl PackageVersion {
    /// The readme as safe HTML (raw HTML in the source is shown as text).
    async fn readme_html(&self) -> Option<String> {
        self.readme.as_deref().map(render_markdown)
    }
}

/// Markdown to HTML without raw HTML and without script URLs.
pub fn render_markdown(source: &str) -> String {
    use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
    let safe_url = |url: CowStr<'_>| -> CowStr<'static> {
        let lower = url.trim().to_ascii_lowercase();
        if lower.starts_with("javascript:")
            || lower.starts_with("vbscript:")
            || lower.starts_with("data:")
        {
            CowStr::Borrowed("#")
        } else {
            CowStr::from(url.into_string())
        }
    };
    let parser = Parser::new_ext(
        source,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS,
    )
    .map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

/// Downloads on one day.
#[derive(SimpleObject, Clone)]
pub struct DailyDownloads {
    pub day: NaiveDate,
    pub count: i64,
}

/// A tag of a container image.
#[derive(SimpleObject, Clone)]
pub struct ImageTag {
    pub name: String,
    pub digest: String,
    pub media_type: String,
    /// Manifest, config and layers (for an index: its manifests and theirs).
    pub size: i64,
    /// `os/architecture[/variant]` of each image of an index; the config's for an image.
    pub platforms: Vec<String>,
    /// The image config's `created`, else when the tag was last set.
    pub created: DateTime<Utc>,
    pub pull_command: String,
}

/// About this server, for building client snippets.
#[derive(SimpleObject)]
pub struct ServerInfo {
    /// Absolute URL of this server (`PACKISTRY_BASE_URL`), no trailing slash.
    pub base_url: String,
    pub version: String,
}

/// The JSON of a stored blob (manifests, configs), when small enough to read.
async fn blob_json(state: &SharedState, sha256: &str) -> Option<Value> {
    use futures_util::StreamExt;
    let mut stream = state.blobs.read(sha256).await.ok()?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.ok()?);
        if bytes.len() > 4 * 1024 * 1024 {
            return None;
        }
    }
    serde_json::from_slice(&bytes).ok()
}

#[ComplexObject]
impl Package {
    /// Container images: their tags, newest first (empty for other formats).
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<ImageTag>> {
        let call = Call::of(ctx)?;
        let (tags, manifests, blobs) =
            crate::services::images::contents(&call.state.db, self.package_id).await?;
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let blob_sizes: HashMap<String, (i64, String)> = blobs
            .into_iter()
            .map(|b| (b.digest, (b.size, b.blob_sha256)))
            .collect();
        let host = call
            .state
            .base_url
            .split("://")
            .nth(1)
            .unwrap_or(&call.state.base_url)
            .to_owned();
        let mut out = Vec::new();
        for tag in tags {
            let Some(manifest) = manifests.iter().find(|m| m.digest == tag.manifest_digest) else {
                continue;
            };
            let body = blob_json(call.state, &manifest.blob_sha256)
                .await
                .unwrap_or(Value::Null);
            let mut size = manifest.size;
            let mut platforms = Vec::new();
            let mut created = None;
            let mut images = vec![body.clone()];
            if let Some(children) = body.get("manifests").and_then(Value::as_array) {
                images.clear();
                for child in children {
                    size += child.get("size").and_then(Value::as_i64).unwrap_or(0);
                    if let Some(platform) = child.get("platform") {
                        let mut name = format!(
                            "{}/{}",
                            platform.get("os").and_then(Value::as_str).unwrap_or("?"),
                            platform
                                .get("architecture")
                                .and_then(Value::as_str)
                                .unwrap_or("?")
                        );
                        if let Some(variant) = platform.get("variant").and_then(Value::as_str) {
                            name.push('/');
                            name.push_str(variant);
                        }
                        platforms.push(name);
                    }
                    let digest = child.get("digest").and_then(Value::as_str).unwrap_or("");
                    if let Some(m) = manifests.iter().find(|m| m.digest == digest) {
                        images.push(
                            blob_json(call.state, &m.blob_sha256)
                                .await
                                .unwrap_or(Value::Null),
                        );
                    }
                }
            }
            for image in &images {
                let config = image.get("config");
                let mut parts: Vec<&Value> = config.into_iter().collect();
                parts.extend(
                    image
                        .get("layers")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten(),
                );
                for part in parts {
                    size += part.get("size").and_then(Value::as_i64).unwrap_or(0);
                }
                let config_digest = config
                    .and_then(|c| c.get("digest"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if let Some((_, sha)) = blob_sizes.get(config_digest) {
                    if let Some(config) = blob_json(call.state, sha).await {
                        if body.get("manifests").is_none() {
                            if let (Some(os), Some(arch)) = (
                                config.get("os").and_then(Value::as_str),
                                config.get("architecture").and_then(Value::as_str),
                            ) {
                                platforms.push(format!("{os}/{arch}"));
                            }
                        }
                        created = created.or_else(|| {
                            config
                                .get("created")
                                .and_then(Value::as_str)
                                .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
                                .map(|c| c.with_timezone(&Utc))
                        });
                    }
                }
            }
            out.push(ImageTag {
                pull_command: format!(
                    "podman pull {host}/{}/{}:{}",
                    self.repository, self.name, tag.name
                ),
                name: tag.name,
                digest: manifest.digest.clone(),
                media_type: manifest.media_type.clone(),
                size,
                platforms,
                created: created.unwrap_or(tag.updated_at),
            });
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Every version, newest first.
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<PackageVersion>> {
        let call = Call::of(ctx)?;
        let rows = service::versions(&call.state.db, self.package_id).await?;
        let repository = repository_service::find_by_name(&call.state.db, &self.repository)
            .await?
            .ok_or_else(|| Error::not_found(format!("no repository named {}", self.repository)))?;
        Ok(version_objects(call.state, &repository, &self.name, rows).await?)
    }

    /// Downloads per day over the last `days` days (default 30, at most 365), oldest first;
    /// for a container image, its pulls.
    async fn downloads(&self, ctx: &Context<'_>, days: Option<i32>) -> Result<Vec<DailyDownloads>> {
        let call = Call::of(ctx)?;
        let days = days.unwrap_or(30).clamp(1, 365);
        let since = (Utc::now() - chrono::Duration::days(i64::from(days) - 1))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_else(Utc::now);
        let days = if self.image {
            downloads::pulls_per_day(&call.state.db, &[self.package_id], since).await?
        } else {
            let ids: Vec<Uuid> = service::versions(&call.state.db, self.package_id)
                .await?
                .iter()
                .map(|v| v.id)
                .collect();
            downloads::per_day(&call.state.db, &ids, since).await?
        };
        Ok(days
            .into_iter()
            .map(|d| DailyDownloads {
                day: d.day,
                count: d.count,
            })
            .collect())
    }
}

fn links(metadata: &Value, key: &str) -> Vec<Link> {
    metadata
        .get(key)
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .map(|(name, constraint)| Link {
                    name: name.clone(),
                    constraint: constraint.as_str().unwrap_or("").to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Versions as API objects, newest first, with files and download counts in two queries.
async fn version_objects(
    state: &SharedState,
    repository: &repositories::Model,
    package: &str,
    mut rows: Vec<package_versions::Model>,
) -> Result<Vec<PackageVersion>, Error> {
    let maven = repository.format() == Some(packistry_shared::Format::Maven);
    if maven {
        rows.sort_by(|a, b| maven_metadata::compare(&b.version, &a.version));
    } else {
        rows.sort_by(|a, b| {
            version::compare_normalized(&a.version_normalized, &b.version_normalized)
        });
    }
    let ids: Vec<Uuid> = rows.iter().map(|v| v.id).collect();
    let files = service::files_of(&state.db, &ids).await?;
    let totals = downloads::totals(&state.db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| PackageVersion {
            id: ID(row.id.to_string()),
            package: package.to_owned(),
            stability: if !maven {
                version::stability(&row.version_normalized)
                    .as_str()
                    .to_owned()
            } else if row.version.ends_with("-SNAPSHOT") {
                "snapshot".to_owned()
            } else {
                "release".to_owned()
            },
            requires: links(&row.metadata, "require"),
            dev_requires: links(&row.metadata, "require-dev"),
            files: files
                .iter()
                .filter(|(f, _)| f.version_id == row.id)
                .map(|(f, blob)| PackageFile {
                    name: f.name.clone(),
                    size: f.size,
                    sha256: f.blob_digest.clone(),
                    sha1: blob.as_ref().and_then(|b| b.sha1.clone()),
                    media_type: f.media_type.clone(),
                    url: Some(if maven {
                        format!(
                            "{}/maven/{}/{}/{}/{}",
                            state.base_url,
                            encode_segment(&repository.name),
                            package_folders(package).join("/"),
                            encode_segment(&row.version),
                            encode_segment(&f.name)
                        )
                    } else {
                        composer::dist_url(
                            state,
                            "composer",
                            &repository.name,
                            package,
                            &row.version,
                        )
                    }),
                })
                .collect(),
            downloads: totals.get(&row.id).copied().unwrap_or(0),
            version: row.version,
            version_normalized: row.version_normalized,
            created_at: row.created_at,
            metadata: async_graphql::Json(row.metadata),
            readme: row.readme,
        })
        .collect())
}

/// Package objects for rows, with latest version, count and downloads batched: three
/// queries for a page, none of them reading versions' metadata.
async fn package_objects(
    state: &SharedState,
    repository: &repositories::Model,
    rows: &[packages::Model],
) -> Result<Vec<Package>, Error> {
    let ids: Vec<Uuid> = rows.iter().map(|p| p.id).collect();
    let mut versions = service::version_names_of(&state.db, &ids).await?;
    versions.sort_by(|a, b| version::compare_normalized(&a.2, &b.2));
    let mut latest: HashMap<Uuid, String> = HashMap::new();
    let mut counts: HashMap<Uuid, i32> = HashMap::new();
    for (package_id, version, _) in versions {
        *counts.entry(package_id).or_default() += 1;
        latest.entry(package_id).or_insert(version);
    }
    let image = repository.format() == Some(packistry_shared::Format::Container);
    let totals = if image {
        downloads::pull_totals(&state.db, &ids).await?
    } else {
        downloads::package_totals(&state.db, &ids).await?
    };
    Ok(rows
        .iter()
        .map(|p| Package {
            id: ID(p.id.to_string()),
            name: p.name.clone(),
            description: p.description.clone(),
            repository: repository.name.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
            latest_version: latest.remove(&p.id),
            version_count: counts.get(&p.id).copied().unwrap_or_default(),
            total_downloads: totals.get(&p.id).copied().unwrap_or(0),
            package_id: p.id,
            image,
        })
        .collect())
}

/// A package the caller may download, or the one 404 for "not there".
async fn readable(
    state: &SharedState,
    access: &Access,
    repository: &str,
    name: &str,
) -> Result<(repositories::Model, packages::Model), Error> {
    let repository = repository_service::visible(&state.db, access, repository).await?;
    let not_found = || {
        Error::not_found(format!(
            "no package {name} in repository {}",
            repository.name
        ))
    };
    let package = service::find(&state.db, repository.id, name)
        .await?
        .ok_or_else(not_found)?;
    match access.check(
        &repository,
        PackageScope::Package(&package.name),
        &[Permission::Download],
    ) {
        Err(Error::NotFound(_)) => Err(not_found()),
        Err(err) => Err(err),
        Ok(()) => Ok((repository, package)),
    }
}

/// The longest search.
const MAX_SEARCH: usize = 200;

/// A cursor names the package it follows: opaque to clients, stable across changes.
fn package_cursor(name: &str) -> String {
    cursor("package", name)
}

/// The size of a package list, counted only when asked for.
pub struct PackageTotal {
    repository_id: Uuid,
    listed: Listed,
    search: Option<String>,
}

#[Object]
impl PackageTotal {
    /// How many packages the whole list holds, over all its pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let call = Call::of(ctx)?;
        let filter = Filter {
            search: self.search.as_deref(),
            ..Filter::default()
        };
        Ok(catalog::count(
            &call.state.db,
            &call.state.search_counts,
            self.repository_id,
            &self.listed,
            &filter,
        )
        .await?)
    }
}

#[derive(Default)]
pub struct PackageQuery;

#[Object]
impl PackageQuery {
    /// The packages of a repository the caller may list, by name, a page at a time
    /// (`first` at most 100; `after` the `endCursor` of the page before), optionally
    /// searched: every word of `search` in the name or the description.
    async fn packages(
        &self,
        ctx: &Context<'_>,
        repository: String,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Package, PackageTotal, EmptyFields>> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let repository = repository_service::visible(&call.state.db, &access, &repository).await?;
        let listed = catalog::listed(&access, &repository)?;
        let search = search
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        if search
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SEARCH)
        {
            return Err(
                Error::bad_input(format!("search: at most {MAX_SEARCH} characters")).into(),
            );
        }
        let limit = page_size(first);
        let after = after
            .as_deref()
            .map(|after| cursor_key("package", after))
            .transpose()?;
        let filter = Filter {
            search: search.as_deref(),
            ..Filter::default()
        };
        // One more than asked tells whether a next page exists. A search counts its
        // matches first (kept for the total): the count decides how the page is read.
        let start = catalog::Start::After(after.as_deref());
        let mut rows = if search.is_some() {
            catalog::search(
                &call.state.db,
                &call.state.search_counts,
                repository.id,
                &listed,
                &filter,
                start,
                limit + 1,
            )
            .await?
            .0
        } else {
            catalog::page(
                &call.state.db,
                repository.id,
                &listed,
                &filter,
                start,
                limit + 1,
            )
            .await?
        };
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let objects = package_objects(call.state, &repository, &rows).await?;
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            has_next,
            PackageTotal {
                repository_id: repository.id,
                listed,
                search,
            },
        );
        connection.edges.extend(
            objects
                .into_iter()
                .map(|package| Edge::new(package_cursor(&package.name), package)),
        );
        Ok(connection)
    }

    /// One package the caller may download.
    async fn package(
        &self,
        ctx: &Context<'_>,
        repository: String,
        name: String,
    ) -> Result<Package> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let (repository, package) = readable(call.state, &access, &repository, &name).await?;
        Ok(package_objects(call.state, &repository, &[package])
            .await?
            .remove(0))
    }

    /// This server's public URL and version.
    async fn server_info(&self, ctx: &Context<'_>) -> Result<ServerInfo> {
        let call = Call::of(ctx)?;
        Ok(ServerInfo {
            base_url: call.state.base_url.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }
}

#[derive(Default)]
pub struct PackageMutation;

#[Object]
impl PackageMutation {
    /// Upload a Composer package zip (multipart request); the package name comes from its
    /// composer.json, the version from `version` or composer.json. `overwrite` replaces an
    /// existing version (administrators).
    async fn upload_composer_package(
        &self,
        ctx: &Context<'_>,
        repository: String,
        file: Upload,
        version: Option<String>,
        overwrite: Option<bool>,
    ) -> Result<PackageVersion> {
        let call = Call::of(ctx)?;
        call.require_signed_in()?;
        let access = call.access().await?;
        let state = call.state;
        let repository = repository_service::visible(&state.db, &access, &repository).await?;
        if repository.format() != Some(packistry_shared::Format::Composer) {
            return Err(Error::bad_input(format!(
                "{} is not a Composer repository",
                repository.name
            ))
            .into());
        }
        access
            .check(&repository, PackageScope::Repository, &[Permission::Upload])
            .or_else(|err| match err {
                // A package-limited token may still upload one of its packages.
                Error::Forbidden(_) | Error::NotFound(_) if access.principal.token().is_some() => {
                    Ok(())
                }
                other => Err(other),
            })?;
        let upload = file.value(ctx)?;
        let mut source = tokio::fs::File::from_std(upload.content);
        let mut staging = state
            .blobs
            .stage(state.config.max_body_size)
            .await
            .map_err(Error::internal)?;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = source.read(&mut buffer).await.map_err(Error::internal)?;
            if read == 0 {
                break;
            }
            staging
                .write(&buffer[..read])
                .await
                .map_err(|err| match err {
                    StageError::TooLarge(limit) => Error::PayloadTooLarge(format!(
                        "the upload is larger than the limit of {limit} bytes"
                    )),
                    StageError::Io(err) => Error::internal(err),
                })?;
        }
        let staged = staging.finish().await.map_err(Error::internal)?;
        let path = staged.path().to_owned();
        let contents = tokio::task::spawn_blocking(move || {
            archive::inspect(&path, archive::Limits::default())
        })
        .await
        .map_err(Error::internal)?
        .map_err(|err| Error::bad_input(err.to_string()))?;
        let name = contents
            .composer_json
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::bad_input("composer.json has no \"name\""))?;
        if !crate::formats::composer::metadata::is_valid_package_name(&name) {
            return Err(Error::bad_input(format!(
                "\"{name}\" is not a valid package name: use lowercase vendor/name"
            ))
            .into());
        }
        let new = crate::services::composer::prepare(
            &name,
            contents,
            version,
            &staged,
            overwrite.unwrap_or(false),
        )?;
        let (package, published) = service::publish(
            &state.db,
            &state.blobs,
            &call.actor(),
            &access,
            &repository,
            new,
        )
        .await?;
        state.forget_packages();
        Ok(
            version_objects(state, &repository, &package.name, vec![published])
                .await?
                .remove(0),
        )
    }

    /// Delete one version of a package (administrators of the repository).
    async fn delete_package_version(
        &self,
        ctx: &Context<'_>,
        repository: String,
        package: String,
        version: String,
    ) -> Result<bool> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let (repository, package) = readable(call.state, &access, &repository, &package).await?;
        service::delete_version(
            &call.state.db,
            &call.actor(),
            &access,
            &repository,
            &package,
            &version,
        )
        .await?;
        call.state.forget_packages();
        Ok(true)
    }

    /// Delete a tag of a container image (administrators of the repository); the manifest
    /// stays reachable by digest.
    async fn delete_image_tag(
        &self,
        ctx: &Context<'_>,
        repository: String,
        image: String,
        tag: String,
    ) -> Result<bool> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let (repository, package) = readable(call.state, &access, &repository, &image).await?;
        access.check(
            &repository,
            PackageScope::Package(&package.name),
            &[Permission::Administer],
        )?;
        crate::services::packages::deletes_allowed(&repository)?;
        let deleted = crate::services::images::delete_tag(
            &call.state.db,
            &package,
            &tag,
            &call.actor(),
            &repository.name,
        )
        .await?;
        if !deleted {
            return Err(Error::not_found(format!("{image} has no tag {tag}")).into());
        }
        call.state.forget_packages();
        Ok(true)
    }

    /// Delete a package and all its versions (administrators of the repository).
    async fn delete_package(
        &self,
        ctx: &Context<'_>,
        repository: String,
        package: String,
    ) -> Result<bool> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let (repository, package) = readable(call.state, &access, &repository, &package).await?;
        service::delete_package(
            &call.state.db,
            &call.actor(),
            &access,
            &repository,
            &package,
        )
        .await?;
        call.state.forget_packages();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::render_markdown;

    #[test]
    fn markdown_is_rendered_without_raw_html_or_script_links() {
        let html = render_markdown(
            "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) **b**",
        );
        assert!(html.contains("<h1>Title</h1>"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(!html.contains("javascript:"));
        assert!(html.contains("<strong>b</strong>"));
    }
}
