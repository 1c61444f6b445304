//! The import job: a project of a source becomes versions of a Composer package. Every tag
//! that is a version becomes that version (`v1.2.3` → `1.2.3`), every branch `dev-{branch}`
//! (or `1.x-dev` for `1.x`). For GitHub, GitLab, Gitea and Bitbucket the refs come from the
//! host's API and the dist from its archive of the commit (cut to the subdirectory, for
//! monorepos); a `git` source is mirrored with `git fetch` into `{data dir}/sources/` and
//! archived with `git archive`. A ref without composer.json, or naming another package, is
//! skipped with the reason recorded. A job for one pushed ref (a webhook) imports or removes
//! that ref only.

use std::time::Duration;

use base64::Engine;
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

use super::JobFailure;
use crate::auth::sealed;
use crate::db::entities::{
    jobs, package_versions, packages, repositories, source_packages, sources,
};
use crate::formats::composer::{archive, version};
use crate::services::audit::Actor;
use crate::services::composer::prepare;
use crate::services::packages as package_service;
use crate::services::providers;
use crate::services::sources::{provider_of, Provider};
use crate::state::SharedState;
use crate::storage::StageError;
use sea_orm::{ColumnTrait, QueryFilter};

pub const KIND: &str = "import";

/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// What a job is asked to do.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Payload {
    /// One ref (`refs/tags/v1.0.0`, `refs/heads/main`) instead of all.
    #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// That ref was deleted: remove its version.
    #[serde(default)]
    pub deleted: bool,
}

/// What became of one ref.
#[derive(Debug, Clone, Serialize)]
pub struct RefResult {
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// `imported`, `unchanged`, `skipped`, `removed` or `failed`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The version a ref becomes, or why it becomes none.
pub fn version_of_ref(git_ref: &str) -> Result<String, String> {
    if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        let bare = match tag.strip_prefix(['v', 'V']) {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
            _ => tag,
        };
        return match version::normalize(bare) {
            Ok(_) => Ok(bare.to_owned()),
            Err(_) => Err(format!("the tag {tag} is not a version")),
        };
    }
    if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        let normalized = version::normalize_branch(branch);
        let pretty = if normalized.starts_with("dev-") {
            format!("dev-{branch}")
        } else {
            format!("{}-dev", branch.trim_start_matches(['v', 'V']))
        };
        return match version::normalize(&pretty) {
            Ok(_) => Ok(pretty),
            Err(_) => Err(format!("the branch {branch} cannot be a version name")),
        };
    }
    Err(format!("{git_ref} is neither a tag nor a branch"))
}

fn failed(message: impl Into<String>) -> (JobFailure, Value) {
    (JobFailure::permanent(message), Value::Null)
}

/// The URL git fetches from for a `git` source, and the credentials it sends when the
/// source has a token (as an `http.extraHeader`, so no token ever appears in a command line
/// or a URL).
fn remote(
    state: &SharedState,
    source: &sources::Model,
    project: &str,
) -> Result<(String, Option<String>), String> {
    let token = match &source.access_token_encrypted {
        Some(sealed_token) => {
            Some(sealed::open(&state.secret_key, sealed_token).map_err(|err| err.to_string())?)
        }
        None => None,
    };
    let header = token.map(|token| {
        format!(
            "Authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("git:{token}"))
        )
    });
    Ok((project.to_owned(), header))
}

fn git_command(dir: &std::path::Path, auth_header: Option<&str>) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command
        .arg("-C")
        .arg(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    // Local paths and other transports than the network ones are refused.
    let mut config = vec![("protocol.file.allow", "never".to_owned())];
    if let Some(header) = auth_header {
        config.push(("http.extraHeader", header.to_owned()));
    }
    command.env("GIT_CONFIG_COUNT", config.len().to_string());
    for (i, (key, value)) in config.into_iter().enumerate() {
        command.env(format!("GIT_CONFIG_KEY_{i}"), key);
        command.env(format!("GIT_CONFIG_VALUE_{i}"), value);
    }
    command
}

/// Run git; its stdout, or its stderr as the reason.
async fn git(
    dir: &std::path::Path,
    auth_header: Option<&str>,
    args: &[&str],
) -> Result<Vec<u8>, String> {
    let output = tokio::time::timeout(
        GIT_TIMEOUT,
        git_command(dir, auth_header).args(args).output(),
    )
    .await
    .map_err(|_| format!("git {} took longer than {GIT_TIMEOUT:?}", args[0]))?
    .map_err(|err| format!("git cannot run: {err}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

pub async fn run(state: &SharedState, job: &jobs::Model) -> Result<Value, (JobFailure, Value)> {
    let payload: Payload = serde_json::from_value(job.payload.clone()).unwrap_or_default();
    let subject = job
        .subject_id
        .ok_or_else(|| failed("the job names no package"))?;
    let db = &state.db;
    let imported = source_packages::Entity::find_by_id(subject)
        .one(db)
        .await
        .map_err(|err| (JobFailure::transient(err.to_string()), Value::Null))?
        .ok_or_else(|| failed("the package is no longer imported from its source"))?;
    let source = sources::Entity::find_by_id(imported.source_id)
        .one(db)
        .await
        .map_err(|err| (JobFailure::transient(err.to_string()), Value::Null))?
        .ok_or_else(|| failed("the source was removed"))?;
    let repository = repositories::Entity::find_by_id(imported.repository_id)
        .one(db)
        .await
        .map_err(|err| (JobFailure::transient(err.to_string()), Value::Null))?
        .ok_or_else(|| failed("the repository was removed"))?;
    let provider =
        provider_of(&source).ok_or_else(|| failed("the source has an unknown provider"))?;
    let mirror = state
        .config
        .data_dir
        .join("sources")
        .join(format!("{}.git", imported.id));
    // Hosts with an API: refs and archives from it; any other Git URL: a mirror.
    let api = if provider == Provider::Git {
        None
    } else {
        let token = match &source.access_token_encrypted {
            Some(sealed_token) => Some(
                sealed::open(&state.secret_key, sealed_token).map_err(|e| failed(e.to_string()))?,
            ),
            None => None,
        };
        Some(
            providers::Client::for_source(&source, token, state.import_http.clone()).ok_or_else(
                || failed("the source needs an access token (and, for Gitea, its base URL)"),
            )?,
        )
    };
    let mut refs = match &api {
        None => git_refs(state, &source, &imported, &mirror).await?,
        Some(client) => client
            .refs(&imported.project)
            .await
            .map_err(|f| (job_failure(f), Value::Null))?,
    };
    // Tags newest-looking first, then branches: the package name is read from the first.
    refs.sort_by(|a, b| {
        let tag = |r: &str| r.starts_with("refs/tags/");
        tag(&b.0).cmp(&tag(&a.0)).then(b.0.cmp(&a.0))
    });

    let actor = Actor {
        user_id: None,
        token_id: None,
        name: format!("source:{}", source.name),
        address: None,
    };
    let mut work = Import {
        state,
        mirror: &mirror,
        api: api.as_ref(),
        web_base: Some(source.base_url.trim_end_matches('/').to_owned())
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "https://bitbucket.org".to_owned()),
        retry: None,
        imported: &imported,
        repository: &repository,
        actor: &actor,
        package_name: imported.package_name.clone(),
        results: Vec::new(),
    };

    match &payload.git_ref {
        Some(git_ref) if payload.deleted => {
            work.remove_ref(git_ref).await;
        }
        Some(git_ref) => match refs.iter().find(|(name, _)| name == git_ref) {
            Some((name, sha)) => {
                let (name, sha) = (name.clone(), sha.clone());
                work.import_ref(&name, &sha).await;
            }
            None => work.remove_ref(git_ref).await,
        },
        None => {
            let total = refs.len().max(1);
            for (i, (name, sha)) in refs.iter().enumerate() {
                work.import_ref(name, sha).await;
                let done = i32::try_from((i + 1) * 100 / total).unwrap_or(100);
                let _ = super::progress(db, job.id, done.min(99), &work.result()).await;
            }
            work.remove_vanished(&refs).await;
        }
    }
    let result = work.result();
    if let Some(retry) = work.retry.take() {
        return Err((retry, result));
    }
    let failures: Vec<&RefResult> = work
        .results
        .iter()
        .filter(|r| r.status == "failed")
        .collect();
    if let Some(first) = failures.first() {
        let message = format!(
            "{} of {} refs failed; {}: {}",
            failures.len(),
            work.results.len(),
            first.git_ref,
            first.reason.as_deref().unwrap_or("")
        );
        return Err((JobFailure::permanent(message), result));
    }
    state.forget_packages();
    Ok(result)
}

/// A failure of the host's API as the job's: rate limits and outages are retried (after
/// the host's own wait), a refused token is not.
fn job_failure(failure: providers::ApiFailure) -> JobFailure {
    JobFailure {
        message: failure.message,
        retry: failure.transient,
        retry_after: failure.retry_after.map(Duration::from_secs),
    }
}

/// Mirror a project with git and list its refs with their commits.
async fn git_refs(
    state: &SharedState,
    source: &sources::Model,
    imported: &source_packages::Model,
    mirror: &std::path::Path,
) -> Result<Vec<(String, String)>, (JobFailure, Value)> {
    let (url, auth_header) = remote(state, source, &imported.project).map_err(failed)?;
    if !mirror.join("HEAD").exists() {
        std::fs::create_dir_all(mirror).map_err(|err| failed(err.to_string()))?;
        git(mirror, None, &["init", "--bare", "--quiet"])
            .await
            .map_err(failed)?;
    }
    git(
        mirror,
        auth_header.as_deref(),
        &[
            "fetch",
            "--prune",
            "--prune-tags",
            "--force",
            "--quiet",
            &url,
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
        ],
    )
    .await
    .map_err(|reason| {
        let refused = [
            "Authentication failed",
            "could not read Username",
            "403",
            "401",
        ]
        .iter()
        .any(|sign| reason.contains(sign));
        if refused {
            // Retrying cannot help until someone changes the token.
            (
                JobFailure::permanent(format!(
                    "the host refused the source's token for {}: {reason}",
                    imported.project
                )),
                Value::Null,
            )
        } else {
            // An unreachable host may come back: retried with backoff.
            (
                JobFailure::transient(format!("fetching {}: {reason}", imported.project)),
                Value::Null,
            )
        }
    })?;
    let listed = git(
        mirror,
        None,
        &[
            "for-each-ref",
            "--format=%(refname) %(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)",
            "refs/heads",
            "refs/tags",
        ],
    )
    .await
    .map_err(failed)?;
    Ok(String::from_utf8_lossy(&listed)
        .lines()
        .filter_map(|line| {
            let (name, sha) = line.split_once(' ')?;
            Some((name.to_owned(), sha.to_owned()))
        })
        .collect())
}

struct Import<'a> {
    state: &'a SharedState,
    mirror: &'a std::path::Path,
    /// The host's API, when the source has one (else the mirror serves).
    api: Option<&'a providers::Client>,
    /// The host's web address (Bitbucket serves archives there).
    web_base: String,
    /// A failure that may pass (rate limit, outage): the job stops and runs again later.
    retry: Option<JobFailure>,
    imported: &'a source_packages::Model,
    repository: &'a repositories::Model,
    actor: &'a Actor,
    package_name: Option<String>,
    results: Vec<RefResult>,
}

impl Import<'_> {
    fn result(&self) -> Value {
        json!({ "package": self.package_name, "refs": self.results })
    }

    fn record(
        &mut self,
        git_ref: &str,
        status: &'static str,
        version: Option<String>,
        reason: Option<String>,
    ) {
        self.results.push(RefResult {
            git_ref: git_ref.to_owned(),
            status,
            version,
            reason,
        });
    }

    fn composer_path(&self) -> String {
        if self.imported.subdirectory.is_empty() {
            "composer.json".to_owned()
        } else {
            format!("{}/composer.json", self.imported.subdirectory)
        }
    }

    async fn import_ref(&mut self, git_ref: &str, sha: &str) {
        if self.retry.is_some() {
            return;
        }
        let version = match version_of_ref(git_ref) {
            Ok(version) => version,
            Err(reason) => return self.record(git_ref, "skipped", None, Some(reason)),
        };
        match self.import_version(sha, &version).await {
            Ok(Some(status)) => self.record(git_ref, status, Some(version), None),
            Ok(None) => {}
            Err(Outcome::Skipped(reason)) => {
                self.record(git_ref, "skipped", Some(version), Some(reason))
            }
            Err(Outcome::Failed(reason)) => {
                self.record(git_ref, "failed", Some(version), Some(reason))
            }
            Err(Outcome::Transient(failure)) => {
                self.record(
                    git_ref,
                    "failed",
                    Some(version),
                    Some(failure.message.clone()),
                );
                self.retry = Some(job_failure(failure));
            }
        }
    }

    /// `Ok(Some(status))` when done; errors say whether the ref was skipped or failed.
    async fn import_version(
        &mut self,
        sha: &str,
        version: &str,
    ) -> Result<Option<&'static str>, Outcome> {
        if self.api.is_some() {
            return self.import_version_api(sha, version).await;
        }
        let path = self.composer_path();
        let composer = git(self.mirror, None, &["show", &format!("{sha}:{path}")])
            .await
            .map_err(|_| Outcome::Skipped(format!("no {path}")))?;
        let composer: Value = serde_json::from_slice(&composer)
            .map_err(|err| Outcome::Skipped(format!("{path} is not valid JSON: {err}")))?;
        let name = composer["name"]
            .as_str()
            .ok_or_else(|| Outcome::Skipped(format!("{path} has no \"name\"")))?
            .to_owned();
        self.check_name(&name).await?;
        // The same ref at the same commit: nothing to do.
        if let Some(existing) = self.existing(&name, version).await? {
            if existing.metadata["source"]["reference"].as_str() == Some(sha) {
                return Ok(Some("unchanged"));
            }
        }
        let staged = self.archive(sha).await?;
        let file_path = staged.path().to_owned();
        let contents = tokio::task::spawn_blocking(move || {
            archive::inspect(&file_path, archive::Limits::default())
        })
        .await
        .map_err(|err| Outcome::Failed(err.to_string()))?
        .map_err(|err| Outcome::Failed(format!("the archive is unusable: {err}")))?;
        self.publish(&name, contents, version, &staged, sha).await
    }

    /// A version from the host's archive of the commit (cut to the subdirectory).
    async fn import_version_api(
        &mut self,
        sha: &str,
        version: &str,
    ) -> Result<Option<&'static str>, Outcome> {
        let state = self.state;
        let Some(api) = self.api else {
            return Err(Outcome::Failed("the source has no API".into()));
        };
        if let Some(name) = self.package_name.clone() {
            if let Some(existing) = self.existing(&name, version).await? {
                if existing.metadata["source"]["reference"].as_str() == Some(sha) {
                    return Ok(Some("unchanged"));
                }
            }
        }
        let response = api
            .archive(&self.imported.project, sha, &self.web_base)
            .await
            .map_err(|failure| {
                if failure.transient {
                    Outcome::Transient(failure)
                } else {
                    Outcome::Failed(failure.message)
                }
            })?;
        let mut staging = state
            .blobs
            .stage(state.config.max_body_size)
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))?;
        let mut stream = response.bytes_stream();
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            let chunk = chunk.map_err(|err| {
                Outcome::Transient(providers::ApiFailure {
                    message: format!("the archive download broke off: {err}"),
                    transient: true,
                    retry_after: None,
                })
            })?;
            staging.write(&chunk).await.map_err(too_large)?;
        }
        let mut staged = staging
            .finish()
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))?;
        if !self.imported.subdirectory.is_empty() {
            staged = self.cut_to_subdirectory(&staged).await?;
        }
        let file_path = staged.path().to_owned();
        let contents = tokio::task::spawn_blocking(move || {
            archive::inspect(&file_path, archive::Limits::default())
        })
        .await
        .map_err(|err| Outcome::Failed(err.to_string()))?
        .map_err(|err| match err {
            archive::ArchiveError::NoComposerJson => {
                Outcome::Skipped(format!("no {}", self.composer_path()))
            }
            other => Outcome::Failed(format!("the archive is unusable: {other}")),
        })?;
        let name = contents
            .composer_json
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Outcome::Skipped(format!("{} has no \"name\"", self.composer_path())))?
            .to_owned();
        self.check_name(&name).await?;
        self.publish(&name, contents, version, &staged, sha).await
    }

    /// A ref must name the package the first import found (which it records).
    async fn check_name(&mut self, name: &str) -> Result<(), Outcome> {
        let path = self.composer_path();
        match &self.package_name {
            Some(expected) if expected != name => Err(Outcome::Skipped(format!(
                "{path} names the package {name}, not {expected}"
            ))),
            Some(_) => Ok(()),
            None => {
                if !crate::formats::composer::metadata::is_valid_package_name(name) {
                    return Err(Outcome::Skipped(format!(
                        "\"{name}\" is not a valid package name"
                    )));
                }
                crate::services::sources::set_package_name(&self.state.db, self.imported.id, name)
                    .await
                    .map_err(|err| Outcome::Failed(err.to_string()))?;
                self.package_name = Some(name.to_owned());
                Ok(())
            }
        }
    }

    async fn publish(
        &self,
        name: &str,
        contents: archive::Contents,
        version: &str,
        staged: &crate::storage::Staged,
        sha: &str,
    ) -> Result<Option<&'static str>, Outcome> {
        let state = self.state;
        let mut new = prepare(name, contents, Some(version.to_owned()), staged, true)
            .map_err(|err| Outcome::Skipped(err.to_string()))?;
        if let Value::Object(metadata) = &mut new.metadata {
            metadata.insert(
                "source".into(),
                json!({ "type": "git", "url": self.imported.project, "reference": sha }),
            );
        }
        let (package, _) = package_service::publish_checked(
            &state.db,
            &state.blobs,
            self.actor,
            self.repository,
            new,
        )
        .await
        .map_err(|err| Outcome::Failed(err.to_string()))?;
        packages::Entity::update_many()
            .col_expr(
                packages::Column::SourceId,
                sea_orm::sea_query::Expr::value(self.imported.source_id),
            )
            .col_expr(
                packages::Column::SourceProject,
                sea_orm::sea_query::Expr::value(self.imported.project.clone()),
            )
            .filter(packages::Column::Id.eq(package.id))
            .exec(&state.db)
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))?;
        Ok(Some("imported"))
    }

    /// A host's archive holds the whole tree under one top-level folder: keep only the
    /// subdirectory, at the root of a new zip.
    async fn cut_to_subdirectory(
        &self,
        staged: &crate::storage::Staged,
    ) -> Result<crate::storage::Staged, Outcome> {
        let state = self.state;
        let source = staged.path().to_owned();
        let subdirectory = self.imported.subdirectory.clone();
        let limit = state.config.max_body_size;
        let cut = tokio::task::spawn_blocking(move || cut_zip(&source, &subdirectory, limit))
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))?
            .map_err(Outcome::Failed)?;
        let mut staging = state
            .blobs
            .stage(limit)
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))?;
        // Copied over in chunks: the cut archive is never whole in memory.
        let mut cut = tokio::fs::File::from_std(cut);
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            use tokio::io::AsyncReadExt;
            let read = cut
                .read(&mut buffer)
                .await
                .map_err(|err| Outcome::Failed(err.to_string()))?;
            if read == 0 {
                break;
            }
            staging.write(&buffer[..read]).await.map_err(too_large)?;
        }
        staging
            .finish()
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))
    }

    async fn existing(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<package_versions::Model>, Outcome> {
        let Some(package) = package_service::find(&self.state.db, self.repository.id, name)
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))?
        else {
            return Ok(None);
        };
        package_versions::Entity::find()
            .filter(package_versions::Column::PackageId.eq(package.id))
            .filter(package_versions::Column::Version.eq(version))
            .one(&self.state.db)
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))
    }

    /// `git archive` of the ref (of the subdirectory), staged under the upload size limit.
    async fn archive(&self, sha: &str) -> Result<crate::storage::Staged, Outcome> {
        let state = self.state;
        let tree = if self.imported.subdirectory.is_empty() {
            sha.to_owned()
        } else {
            format!("{sha}:{}", self.imported.subdirectory)
        };
        let mut child = git_command(self.mirror, None)
            .args(["archive", "--format=zip", &tree])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|err| Outcome::Failed(format!("git cannot run: {err}")))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| Outcome::Failed("git archive has no output".into()))?;
        let mut staging = state
            .blobs
            .stage(state.config.max_body_size)
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))?;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = stdout
                .read(&mut buffer)
                .await
                .map_err(|err| Outcome::Failed(err.to_string()))?;
            if read == 0 {
                break;
            }
            staging.write(&buffer[..read]).await.map_err(too_large)?;
        }
        let output = child
            .wait_with_output()
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))?;
        if !output.status.success() {
            return Err(Outcome::Failed(format!(
                "git archive: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        staging
            .finish()
            .await
            .map_err(|err| Outcome::Failed(err.to_string()))
    }

    /// A deleted tag or branch: its version goes.
    async fn remove_ref(&mut self, git_ref: &str) {
        let version = match version_of_ref(git_ref) {
            Ok(version) => version,
            Err(reason) => return self.record(git_ref, "skipped", None, Some(reason)),
        };
        let Some(name) = self.package_name.clone() else {
            return self.record(
                git_ref,
                "skipped",
                Some(version),
                Some("nothing was imported yet".into()),
            );
        };
        match self.remove_version(&name, &version).await {
            Ok(true) => self.record(git_ref, "removed", Some(version), None),
            Ok(false) => self.record(
                git_ref,
                "skipped",
                Some(version),
                Some("no such version".into()),
            ),
            Err(reason) => self.record(git_ref, "failed", Some(version), Some(reason)),
        }
    }

    async fn remove_version(&self, name: &str, version: &str) -> Result<bool, String> {
        let db = &self.state.db;
        let Some(package) = package_service::find(db, self.repository.id, name)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(false);
        };
        match package_service::delete_version_checked(
            db,
            self.actor,
            self.repository,
            &package,
            version,
        )
        .await
        {
            Ok(()) => Ok(true),
            Err(crate::error::Error::NotFound(_)) => Ok(false),
            Err(err) => Err(err.to_string()),
        }
    }

    /// After a full import: versions from this project whose ref is gone are removed.
    async fn remove_vanished(&mut self, refs: &[(String, String)]) {
        let Some(name) = self.package_name.clone() else {
            return;
        };
        let db = &self.state.db;
        let Ok(Some(package)) = package_service::find(db, self.repository.id, &name).await else {
            return;
        };
        let Ok(versions) = package_service::versions(db, package.id).await else {
            return;
        };
        let current: Vec<String> = refs
            .iter()
            .filter_map(|(r, _)| version_of_ref(r).ok())
            .collect();
        for version in versions {
            let from_here =
                version.metadata["source"]["url"].as_str() == Some(self.imported.project.as_str());
            if from_here && !current.contains(&version.version) {
                let git_ref = format!("(gone) {}", version.version);
                match self.remove_version(&name, &version.version).await {
                    Ok(_) => self.record(&git_ref, "removed", Some(version.version.clone()), None),
                    Err(reason) => self.record(
                        &git_ref,
                        "failed",
                        Some(version.version.clone()),
                        Some(reason),
                    ),
                }
            }
        }
    }
}

/// The entries of `subdirectory` in a host's archive (under its one top-level folder),
/// zipped again at the root. Entry sizes are bounded by the upload limit's inspection after.
/// The subdirectory of a host's archive as a zip of its own, written to a temporary file
/// (rewound), entry by entry: nothing is held whole in memory, and more than `limit` bytes
/// of entries are refused.
fn cut_zip(
    path: &std::path::Path,
    subdirectory: &str,
    limit: u64,
) -> Result<std::fs::File, String> {
    use std::io::{Read, Seek};
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("the archive is unusable: not a zip archive ({e})"))?;
    let top = (0..zip.len())
        .find_map(|i| {
            let entry = zip.by_index(i).ok()?;
            let name = entry.name().ok()?;
            name.split('/').next().map(str::to_owned)
        })
        .ok_or("the archive is empty")?;
    let prefix = format!("{top}/{}/", subdirectory.trim_matches('/'));
    let file = tempfile::tempfile().map_err(|e| format!("cannot cut the archive: {e}"))?;
    let mut out = zip::ZipWriter::new(file);
    let mut total: u64 = 0;
    let options = zip::write::SimpleFileOptions::default();
    let mut found = false;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("the archive is unusable: {e}"))?;
        let relative = match entry.name() {
            Ok(name) => name.strip_prefix(&prefix).map(str::to_owned),
            Err(_) => None,
        };
        let Some(relative) = relative else {
            continue;
        };
        if relative.is_empty() || entry.is_dir() {
            continue;
        }
        found = true;
        out.start_file(relative, options)
            .map_err(|e| e.to_string())?;
        let remaining = limit.saturating_sub(total);
        let copied = std::io::copy(&mut entry.by_ref().take(remaining + 1), &mut out)
            .map_err(|e| format!("the archive is unusable: {e}"))?;
        total += copied;
        if total > limit {
            return Err(format!(
                "the archive expands to more than the upload limit of {limit} bytes"
            ));
        }
    }
    if !found {
        return Err(format!("the archive has nothing under {subdirectory}"));
    }
    let mut file = out.finish().map_err(|e| e.to_string())?;
    file.rewind().map_err(|e| e.to_string())?;
    Ok(file)
}

/// Staging an archive failed: over the upload limit, or the disk.
fn too_large(err: StageError) -> Outcome {
    match err {
        StageError::TooLarge(limit) => Outcome::Failed(format!(
            "the archive is larger than the upload limit of {limit} bytes"
        )),
        StageError::Io(err) => Outcome::Failed(err.to_string()),
    }
}

enum Outcome {
    Skipped(String),
    Failed(String),
    /// The host may answer later (rate limit, outage): the job runs again.
    Transient(providers::ApiFailure),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_become_composer_versions() {
        assert_eq!(version_of_ref("refs/tags/v1.2.3").unwrap(), "1.2.3");
        assert_eq!(
            version_of_ref("refs/tags/1.0.0-beta1").unwrap(),
            "1.0.0-beta1"
        );
        assert_eq!(version_of_ref("refs/heads/main").unwrap(), "dev-main");
        assert_eq!(
            version_of_ref("refs/heads/feature/x").unwrap(),
            "dev-feature/x"
        );
        assert_eq!(version_of_ref("refs/heads/2.x").unwrap(), "2.x-dev");
        assert!(version_of_ref("refs/tags/release-candidate").is_err());
        assert!(version_of_ref("refs/notes/x").is_err());
    }
}
