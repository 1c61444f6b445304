//! Sources (admins): Git hosts, the packages imported from them, and the import jobs with
//! their progress and per-ref results. The access token goes in and never comes out.

use async_graphql::{Context, Enum, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::context::Call;
use crate::db::entities::{jobs, source_packages, sources};
use crate::error::Error;
use crate::jobs::{self as queue, import};
use crate::services::repositories as repository_service;
use crate::services::sources::{self as service, NewSource, Provider};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SourceProvider {
    Github,
    Gitlab,
    Gitea,
    Bitbucket,
    Git,
}

impl From<SourceProvider> for Provider {
    fn from(p: SourceProvider) -> Self {
        match p {
            SourceProvider::Github => Provider::Github,
            SourceProvider::Gitlab => Provider::Gitlab,
            SourceProvider::Gitea => Provider::Gitea,
            SourceProvider::Bitbucket => Provider::Bitbucket,
            SourceProvider::Git => Provider::Git,
        }
    }
}

impl From<Provider> for SourceProvider {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Github => SourceProvider::Github,
            Provider::Gitlab => SourceProvider::Gitlab,
            Provider::Gitea => SourceProvider::Gitea,
            Provider::Bitbucket => SourceProvider::Bitbucket,
            Provider::Git => SourceProvider::Git,
        }
    }
}

/// A Git host packages are imported from.
#[derive(SimpleObject)]
pub struct Source {
    pub id: ID,
    pub name: String,
    pub provider: SourceProvider,
    pub base_url: Option<String>,
    pub has_token: bool,
    /// Where the host posts pushes (configure it as the webhook's URL).
    pub webhook_url: String,
    /// The webhook's secret (GitHub, Gitea, Bitbucket: the signing secret; GitLab: the token).
    pub webhook_secret: String,
    pub created_at: DateTime<Utc>,
}

/// What became of one ref in an import.
#[derive(SimpleObject)]
pub struct ImportRef {
    #[graphql(name = "ref")]
    pub git_ref: String,
    /// `imported`, `unchanged`, `skipped`, `removed` or `failed`.
    pub status: String,
    pub version: Option<String>,
    pub reason: Option<String>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// A background job: an import, with its progress and results.
#[derive(SimpleObject)]
pub struct Job {
    pub id: ID,
    pub kind: String,
    pub status: JobStatus,
    /// 0–100.
    pub progress: i32,
    pub attempts: i32,
    pub error: Option<String>,
    pub refs: Vec<ImportRef>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&jobs::Model> for Job {
    fn from(job: &jobs::Model) -> Self {
        let refs = job
            .result
            .as_ref()
            .and_then(|r| r.get("refs"))
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .map(|r| ImportRef {
                        git_ref: r["ref"].as_str().unwrap_or("").to_owned(),
                        status: r["status"].as_str().unwrap_or("").to_owned(),
                        version: r["version"].as_str().map(str::to_owned),
                        reason: r["reason"].as_str().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Job {
            id: ID(job.id.to_string()),
            kind: job.kind.clone(),
            status: match job.status.as_str() {
                "running" => JobStatus::Running,
                "succeeded" => JobStatus::Succeeded,
                "failed" => JobStatus::Failed,
                _ => JobStatus::Queued,
            },
            progress: job.progress,
            attempts: job.attempts,
            error: job.error.clone(),
            refs,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// A project of a source imported into a Composer repository.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ImportedPackage {
    pub id: ID,
    pub source: String,
    pub repository: String,
    pub project: String,
    pub subdirectory: String,
    /// Known after the first import.
    pub package_name: Option<String>,
    #[graphql(skip)]
    pub row_id: Uuid,
}

#[async_graphql::ComplexObject]
impl ImportedPackage {
    /// Its import jobs, newest first.
    async fn jobs(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<Job>> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let limit = u64::try_from(first.unwrap_or(10).clamp(1, 100)).unwrap_or(10);
        Ok(queue::of_subject(&call.state.db, self.row_id, limit)
            .await?
            .iter()
            .map(Job::from)
            .collect())
    }
}

fn source_object(call: &Call<'_>, source: &sources::Model) -> Result<Source> {
    Ok(Source {
        id: ID(source.id.to_string()),
        name: source.name.clone(),
        provider: service::provider_of(source)
            .ok_or_else(|| Error::internal(anyhow::anyhow!("unknown provider")))?
            .into(),
        base_url: Some(source.base_url.clone()).filter(|b| !b.is_empty()),
        has_token: source.access_token_encrypted.is_some(),
        webhook_url: service::webhook_url(&call.state.base_url, source),
        webhook_secret: service::webhook_secret(&call.state.secret_key, source)?,
        created_at: source.created_at,
    })
}

async fn imported_object(call: &Call<'_>, row: &source_packages::Model) -> Result<ImportedPackage> {
    let db = &call.state.db;
    let source = service::find_by_id(db, row.source_id).await?;
    let repository = crate::services::repositories::find_by_id(db, row.repository_id).await?;
    Ok(ImportedPackage {
        id: ID(row.id.to_string()),
        source: source.map(|s| s.name).unwrap_or_default(),
        repository: repository.map(|r| r.name).unwrap_or_default(),
        project: row.project.clone(),
        subdirectory: row.subdirectory.clone(),
        package_name: row.package_name.clone(),
        row_id: row.id,
    })
}

/// What "test connection" found.
#[derive(SimpleObject)]
pub struct SourceConnection {
    pub ok: bool,
    /// The account the token belongs to.
    pub account: Option<String>,
    /// Fine, or exactly what is missing (e.g. a scope).
    pub message: String,
}

/// A project a source's token can see.
#[derive(SimpleObject)]
pub struct SourceProject {
    /// What to import (`owner/name`).
    pub path: String,
    pub description: String,
    pub private: bool,
    pub archived: bool,
}

/// A page of a source's projects; `next` is the cursor for `after`.
#[derive(SimpleObject)]
pub struct SourceProjectPage {
    pub projects: Vec<SourceProject>,
    pub next: Option<String>,
}

/// A project added to a repository, and what became of its webhook.
#[derive(SimpleObject)]
pub struct AddSourcePackagePayload {
    pub package: ImportedPackage,
    /// e.g. "webhook created", or why not (archived project, token without the right).
    pub webhook: String,
}

fn api_client(
    call: &Call<'_>,
    source: &sources::Model,
) -> Result<Option<crate::services::providers::Client>, Error> {
    let token = match &source.access_token_encrypted {
        Some(sealed) => Some(crate::auth::sealed::open(&call.state.secret_key, sealed)?),
        None => None,
    };
    Ok(crate::services::providers::Client::for_source(
        source,
        token,
        call.state.import_http.clone(),
    ))
}

#[derive(InputObject)]
pub struct CreateSourceInput {
    pub name: String,
    pub provider: SourceProvider,
    /// Self-hosted GitLab, Gitea or GitHub Enterprise.
    pub base_url: Option<String>,
    /// The provider's access token (optional for provider `git` on a public URL).
    pub token: Option<String>,
}

#[derive(InputObject)]
pub struct AddSourcePackageInput {
    pub source: String,
    pub repository: String,
    /// The clone URL (provider `git`) or the project path (`owner/name`).
    pub project: String,
    /// Where composer.json lives in a monorepo.
    pub subdirectory: Option<String>,
}

#[derive(Default)]
pub struct SourceQuery;

#[Object]
impl SourceQuery {
    /// Every source (admins).
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        service::list(&call.state.db)
            .await?
            .iter()
            .map(|s| source_object(&call, s))
            .collect()
    }

    /// The packages imported into a repository from sources (admins).
    async fn imported_packages(
        &self,
        ctx: &Context<'_>,
        repository: String,
    ) -> Result<Vec<ImportedPackage>> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let repository = repository_service::find_by_name(&call.state.db, &repository)
            .await?
            .ok_or_else(|| Error::not_found(format!("no repository named {repository}")))?;
        let mut found = Vec::new();
        for row in service::packages_in(&call.state.db, repository.id).await? {
            found.push(imported_object(&call, &row).await?);
        }
        Ok(found)
    }

    /// Check a source's token against its provider (admins).
    async fn test_source(&self, ctx: &Context<'_>, name: String) -> Result<SourceConnection> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let source = service::get_by_name(&call.state.db, &name).await?;
        let Some(client) = api_client(&call, &source)? else {
            return Ok(SourceConnection {
                ok: true,
                account: None,
                message: "a Git URL source has no API; each import checks its URL".into(),
            });
        };
        let report = client.test_connection().await;
        Ok(SourceConnection {
            ok: report.ok,
            account: report.account,
            message: report.message,
        })
    }

    /// The projects a source's token can see, searched by name, a page at a time (admins).
    async fn source_projects(
        &self,
        ctx: &Context<'_>,
        name: String,
        search: Option<String>,
        after: Option<String>,
    ) -> Result<SourceProjectPage> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let source = service::get_by_name(&call.state.db, &name).await?;
        let client = api_client(&call, &source)?.ok_or_else(|| {
            Error::bad_input("a Git URL source has no projects to list: add its clone URLs")
        })?;
        let page = client
            .projects(search.as_deref(), after.as_deref())
            .await
            .map_err(Error::bad_input)?;
        Ok(SourceProjectPage {
            projects: page
                .projects
                .into_iter()
                .map(|p| SourceProject {
                    path: p.path,
                    description: p.description,
                    private: p.private,
                    archived: p.archived,
                })
                .collect(),
            next: page.next,
        })
    }

    /// One job (admins).
    async fn job(&self, ctx: &Context<'_>, id: ID) -> Result<Job> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let id = Uuid::parse_str(&id).map_err(|_| Error::not_found("no such job"))?;
        let job = queue::get(&call.state.db, id)
            .await?
            .ok_or_else(|| Error::not_found("no such job"))?;
        Ok(Job::from(&job))
    }
}

#[derive(Default)]
pub struct SourceMutation;

#[Object]
impl SourceMutation {
    /// Add a source (admins). The token is stored encrypted; a webhook secret is generated.
    async fn create_source(&self, ctx: &Context<'_>, input: CreateSourceInput) -> Result<Source> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let source = service::create(
            &call.state.db,
            &call.state.secret_key,
            &call.actor(),
            NewSource {
                name: input.name.trim().to_owned(),
                provider: input.provider.into(),
                base_url: input.base_url,
                token: input.token,
            },
        )
        .await?;
        source_object(&call, &source)
    }

    /// Remove a source (admins); the versions imported from it stay.
    async fn delete_source(&self, ctx: &Context<'_>, name: String) -> Result<bool> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        service::delete(&call.state.db, &call.actor(), &name).await?;
        Ok(true)
    }

    /// Import a project of a source into a Composer repository (admins): queues the import
    /// of every tag and branch; its job shows the progress.
    async fn add_source_package(
        &self,
        ctx: &Context<'_>,
        input: AddSourcePackageInput,
    ) -> Result<AddSourcePackagePayload> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let db = &call.state.db;
        let source = service::get_by_name(db, &input.source).await?;
        let repository = repository_service::find_by_name(db, &input.repository)
            .await?
            .ok_or_else(|| Error::not_found(format!("no repository named {}", input.repository)))?;
        let row = service::add_package(
            db,
            &call.actor(),
            &source,
            &repository,
            &input.project,
            input.subdirectory,
        )
        .await?;
        queue::enqueue(
            call.state,
            import::KIND,
            Some(row.id),
            serde_json::to_value(import::Payload::default()).unwrap_or_default(),
        )
        .await?;
        // The webhook on the provider, when the token allows it.
        let webhook = match api_client(&call, &source)? {
            Some(client) => {
                let secret = service::webhook_secret(&call.state.secret_key, &source)?;
                let url = service::webhook_url(&call.state.base_url, &source);
                client
                    .create_hook(&row.project, &url, &secret)
                    .await
                    .describe()
            }
            None => format!(
                "add a webhook by hand: POST {} signed with the source's secret (GitHub format)",
                service::webhook_url(&call.state.base_url, &source)
            ),
        };
        Ok(AddSourcePackagePayload {
            package: imported_object(&call, &row).await?,
            webhook,
        })
    }

    /// Import a package again from its source (admins): every tag and branch.
    async fn rebuild_package(
        &self,
        ctx: &Context<'_>,
        repository: String,
        package: String,
    ) -> Result<Job> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let job = rebuild(call.state, &repository, &package).await?;
        Ok(Job::from(&job))
    }
}

/// Queue a full import of a package imported from a source.
pub async fn rebuild(
    state: &crate::state::SharedState,
    repository: &str,
    package: &str,
) -> Result<jobs::Model, Error> {
    let imported = service::imported_package(&state.db, repository, package).await?;
    queue::enqueue(
        state,
        import::KIND,
        Some(imported.id),
        serde_json::to_value(import::Payload::default()).unwrap_or_default(),
    )
    .await
}
