//! Sources: Git hosts Composer packages are imported from, what was imported from each, and
//! the webhooks that keep them current.

use chrono::Utc;
use hmac::{Hmac, Mac};
use packistry_shared::names::is_valid_repository_name;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde_json::{json, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::audit::{self, Actor, Target};
use crate::auth::sealed;
use crate::db::entities::{repositories, source_packages, sources};
use crate::error::{is_unique_violation, Error, Result};

/// The hosts a source can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Github,
    Gitlab,
    Gitea,
    Bitbucket,
    Git,
}

impl Provider {
    pub const ALL: [Provider; 5] = [
        Provider::Github,
        Provider::Gitlab,
        Provider::Gitea,
        Provider::Bitbucket,
        Provider::Git,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Gitea => "gitea",
            Provider::Bitbucket => "bitbucket",
            Provider::Git => "git",
        }
    }

    pub fn parse(word: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == word)
    }
}

pub fn provider_of(source: &sources::Model) -> Option<Provider> {
    Provider::parse(&source.provider)
}

pub struct NewSource {
    pub name: String,
    pub provider: Provider,
    pub base_url: Option<String>,
    pub token: Option<String>,
}

/// Where the provider posts pushes for this source.
pub fn webhook_url(base_url: &str, source: &sources::Model) -> String {
    format!("{base_url}/incoming/{}/{}", source.provider, source.name)
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<sources::Model>> {
    Ok(sources::Entity::find()
        .order_by_asc(sources::Column::Name)
        .all(db)
        .await?)
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<sources::Model>> {
    Ok(sources::Entity::find_by_id(id).one(db).await?)
}

pub async fn find_by_name(db: &impl ConnectionTrait, name: &str) -> Result<Option<sources::Model>> {
    Ok(sources::Entity::find()
        .filter(sources::Column::Name.eq(name))
        .one(db)
        .await?)
}

pub async fn get_by_name(db: &impl ConnectionTrait, name: &str) -> Result<sources::Model> {
    find_by_name(db, name)
        .await?
        .ok_or_else(|| Error::not_found(format!("no source named {name}")))
}

pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    secret_key: &[u8; 32],
    actor: &Actor,
    new: NewSource,
) -> Result<sources::Model> {
    if !is_valid_repository_name(&new.name) {
        return Err(Error::bad_input(format!(
            "name: \"{}\" must be 1–64 lowercase letters, digits, '.', '_' or '-' (it is part of the webhook URL)",
            new.name
        )));
    }
    let base_url = match new
        .base_url
        .map(|u| u.trim().trim_end_matches('/').to_owned())
    {
        Some(url) if !url.is_empty() => match url::Url::parse(&url) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Some(url),
            _ => {
                return Err(Error::bad_input(format!(
                    "baseUrl: \"{url}\" is not an http(s) URL"
                )))
            }
        },
        _ => None,
    };
    let token = new
        .token
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    if token.is_none() && new.provider != Provider::Git {
        return Err(Error::bad_input(format!(
            "token: a {} source needs an access token",
            new.provider.as_str()
        )));
    }
    let now = Utc::now();
    let txn = db.begin().await?;
    let source = sources::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(new.name.clone()),
        provider: Set(new.provider.as_str().to_owned()),
        base_url: Set(base_url.unwrap_or_default()),
        access_token_encrypted: Set(token.map(|t| sealed::seal(secret_key, &t)).transpose()?),
        webhook_secret_encrypted: Set(sealed::seal(secret_key, &crate::auth::random_secret())?),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!("name: a source named {} already exists", new.name))
        } else {
            err.into()
        }
    })?;
    audit::record(
        &txn,
        actor,
        "source.created",
        Target {
            kind: "source",
            id: Some(source.id.to_string()),
            name: &source.name,
        },
        json!({ "provider": source.provider }),
    )
    .await?;
    txn.commit().await?;
    Ok(source)
}

pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    name: &str,
) -> Result<()> {
    let source = get_by_name(db, name).await?;
    let txn = db.begin().await?;
    sources::Entity::delete_by_id(source.id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        "source.deleted",
        Target {
            kind: "source",
            id: Some(source.id.to_string()),
            name: &source.name,
        },
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// A project path inside a repository must not climb out of it.
fn clean_subdirectory(subdirectory: Option<String>) -> Result<String> {
    let sub = subdirectory
        .unwrap_or_default()
        .trim()
        .trim_matches('/')
        .to_owned();
    if sub
        .split('/')
        .any(|part| part == ".." || part == "." || part.starts_with(':'))
        || sub.contains('\\')
        || sub.chars().any(char::is_control)
    {
        return Err(Error::bad_input(format!(
            "subdirectory: \"{sub}\" must be a plain path inside the project"
        )));
    }
    Ok(sub)
}

fn check_project(provider: Provider, project: &str) -> Result<String> {
    let project = project.trim().to_owned();
    let ok = match provider {
        Provider::Git => url::Url::parse(&project)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https" | "git" | "ssh")),
        _ => {
            !project.is_empty()
                && !project.contains("..")
                && project
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        }
    };
    if ok {
        Ok(project)
    } else {
        Err(Error::bad_input(match provider {
            Provider::Git => format!(
                "project: \"{project}\" is not a Git URL (https://, http://, git:// or ssh://)"
            ),
            _ => format!("project: \"{project}\" is not a project path like owner/name"),
        }))
    }
}

/// Add a project of a source to a Composer repository; the caller queues its import.
pub async fn add_package<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    source: &sources::Model,
    repository: &repositories::Model,
    project: &str,
    subdirectory: Option<String>,
) -> Result<source_packages::Model> {
    if repository.format() != Some(packistry_shared::Format::Composer) {
        return Err(Error::bad_input(format!(
            "repository: {} is not a Composer repository",
            repository.name
        )));
    }
    let provider =
        provider_of(source).ok_or_else(|| Error::internal(anyhow::anyhow!("unknown provider")))?;
    let project = check_project(provider, project)?;
    let subdirectory = clean_subdirectory(subdirectory)?;
    let txn = db.begin().await?;
    let added = source_packages::ActiveModel {
        id: Set(Uuid::new_v4()),
        source_id: Set(source.id),
        repository_id: Set(repository.id),
        project: Set(project.clone()),
        subdirectory: Set(subdirectory.clone()),
        package_name: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!(
                "{project} is already imported into {} from {}",
                repository.name, source.name
            ))
        } else {
            err.into()
        }
    })?;
    audit::record(
        &txn,
        actor,
        "source.package_added",
        Target {
            kind: "repository",
            id: Some(repository.id.to_string()),
            name: &repository.name,
        },
        json!({ "source": source.name, "project": project, "subdirectory": subdirectory }),
    )
    .await?;
    txn.commit().await?;
    Ok(added)
}

pub async fn packages_in(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
) -> Result<Vec<source_packages::Model>> {
    Ok(source_packages::Entity::find()
        .filter(source_packages::Column::RepositoryId.eq(repository_id))
        .order_by_asc(source_packages::Column::Project)
        .all(db)
        .await?)
}

pub async fn package_by_name(
    db: &impl ConnectionTrait,
    repository_id: Uuid,
    package_name: &str,
) -> Result<Option<source_packages::Model>> {
    Ok(source_packages::Entity::find()
        .filter(source_packages::Column::RepositoryId.eq(repository_id))
        .filter(source_packages::Column::PackageName.eq(package_name))
        .one(db)
        .await?)
}

/// The imported package behind `package` in `repository`, for a rebuild.
pub async fn imported_package(
    db: &impl ConnectionTrait,
    repository: &str,
    package: &str,
) -> Result<source_packages::Model> {
    let found = repositories::Entity::find()
        .filter(repositories::Column::Name.eq(repository))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no repository named {repository}")))?;
    package_by_name(db, found.id, package)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "{package} in {repository} was not imported from a source"
            ))
        })
}

/// Remember the package name the first import read.
pub async fn set_package_name(db: &impl ConnectionTrait, id: Uuid, name: &str) -> Result<()> {
    source_packages::Entity::update_many()
        .col_expr(
            source_packages::Column::PackageName,
            sea_orm::sea_query::Expr::value(name),
        )
        .filter(source_packages::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// What a webhook says happened to one ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// `refs/heads/…` or `refs/tags/…`.
    pub git_ref: String,
    pub deleted: bool,
    /// Names the project may go by: clone URLs, web URL, `owner/name`.
    pub project_names: Vec<String>,
}

/// Why a webhook was not acted on.
#[derive(Debug, PartialEq, Eq)]
pub enum Ignored {
    /// Signature or token wrong or missing: 401.
    BadSignature,
    /// Not a push: 202, nothing done.
    Event(String),
    /// Unreadable body: 400.
    Malformed(String),
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; were it ever refused, nothing would match.
        Err(_) => String::new(),
    }
}

fn same(a: &str, b: &str) -> bool {
    !b.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Verify a webhook as its provider signs it: GitHub (and provider `git`, in GitHub's
/// format) `X-Hub-Signature-256: sha256=HMAC`; Gitea `X-Gitea-Signature: HMAC`; Bitbucket
/// `X-Hub-Signature: sha256=HMAC`; GitLab the secret itself in `X-Gitlab-Token`. Compared in
/// constant time.
pub fn verify(provider: Provider, secret: &str, headers: &http::HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match provider {
        Provider::Gitlab => header("x-gitlab-token").is_some_and(|t| same(t, secret)),
        Provider::Gitea => {
            let expected = hmac_hex(secret, body);
            header("x-gitea-signature").is_some_and(|s| same(s, &expected))
                || header("x-hub-signature-256")
                    .is_some_and(|s| same(s, &format!("sha256={expected}")))
        }
        Provider::Github | Provider::Git => header("x-hub-signature-256")
            .is_some_and(|s| same(s, &format!("sha256={}", hmac_hex(secret, body)))),
        Provider::Bitbucket => header("x-hub-signature")
            .is_some_and(|s| same(s, &format!("sha256={}", hmac_hex(secret, body)))),
    }
}

const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

fn strings(values: &[Option<&Value>]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| v.and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// The pushes a webhook body reports, in each provider's own format.
pub fn parse_push(
    provider: Provider,
    headers: &http::HeaderMap,
    body: &[u8],
) -> std::result::Result<Vec<Pushed>, Ignored> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let event = match provider {
        Provider::Github | Provider::Git => header("x-github-event"),
        Provider::Gitea => {
            let gitea = header("x-gitea-event");
            if gitea.is_empty() {
                header("x-github-event")
            } else {
                gitea
            }
        }
        Provider::Gitlab => header("x-gitlab-event"),
        Provider::Bitbucket => header("x-event-key"),
    };
    let is_push = match provider {
        Provider::Gitlab => matches!(event, "Push Hook" | "Tag Push Hook"),
        Provider::Bitbucket => event == "repo:push",
        _ => event == "push",
    };
    if !is_push {
        return Err(Ignored::Event(event.to_owned()));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|err| Ignored::Malformed(err.to_string()))?;
    let malformed = |what: &str| Ignored::Malformed(format!("the push has no {what}"));
    match provider {
        Provider::Github | Provider::Gitea | Provider::Git => {
            let git_ref = value["ref"].as_str().ok_or_else(|| malformed("ref"))?;
            let repo = &value["repository"];
            Ok(vec![Pushed {
                git_ref: git_ref.to_owned(),
                deleted: value["deleted"].as_bool().unwrap_or(false)
                    || value["after"].as_str() == Some(ZERO_SHA),
                project_names: strings(&[
                    repo.get("clone_url"),
                    repo.get("html_url"),
                    repo.get("ssh_url"),
                    repo.get("git_url"),
                    repo.get("full_name"),
                ]),
            }])
        }
        Provider::Gitlab => {
            let git_ref = value["ref"].as_str().ok_or_else(|| malformed("ref"))?;
            let project = &value["project"];
            Ok(vec![Pushed {
                git_ref: git_ref.to_owned(),
                deleted: value["after"].as_str() == Some(ZERO_SHA),
                project_names: strings(&[
                    project.get("path_with_namespace"),
                    project.get("git_http_url"),
                    project.get("git_ssh_url"),
                    project.get("web_url"),
                ]),
            }])
        }
        Provider::Bitbucket => {
            let names = strings(&[value["repository"].get("full_name")]);
            let changes = value["push"]["changes"]
                .as_array()
                .ok_or_else(|| malformed("push.changes"))?;
            Ok(changes
                .iter()
                .filter_map(|change| {
                    let (side, deleted) = match (&change["new"], &change["old"]) {
                        (Value::Null, old) if !old.is_null() => (old, true),
                        (new, _) if !new.is_null() => (new, false),
                        _ => return None,
                    };
                    let name = side["name"].as_str()?;
                    let git_ref = match side["type"].as_str()? {
                        "tag" => format!("refs/tags/{name}"),
                        _ => format!("refs/heads/{name}"),
                    };
                    Some(Pushed {
                        git_ref,
                        deleted,
                        project_names: names.clone(),
                    })
                })
                .collect())
        }
    }
}

/// Whether a project named in a webhook is the one imported (`.git` and slashes aside).
pub fn same_project(imported: &str, named: &str) -> bool {
    let clean = |s: &str| {
        s.trim()
            .trim_end_matches('/')
            .trim_end_matches(".git")
            .to_ascii_lowercase()
    };
    clean(imported) == clean(named)
}

/// The imported packages of a source a webhook's push is about.
pub async fn packages_of_push(
    db: &impl ConnectionTrait,
    source: &sources::Model,
    pushed: &Pushed,
) -> Result<Vec<source_packages::Model>> {
    let all = source_packages::Entity::find()
        .filter(source_packages::Column::SourceId.eq(source.id))
        .all(db)
        .await?;
    Ok(all
        .into_iter()
        .filter(|p| {
            pushed
                .project_names
                .iter()
                .any(|n| same_project(&p.project, n))
        })
        .collect())
}

/// The source's webhook secret, for verifying and for showing to administrators.
pub fn webhook_secret(secret_key: &[u8; 32], source: &sources::Model) -> Result<String> {
    sealed::open(secret_key, &source.webhook_secret_encrypted)
}

#[cfg(test)]
mod tests {
    use super::*;

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any webhook body and event header, for every provider: pushes, an ignored
            /// event, or a malformed body; never a panic. Signatures never pass by chance.
            #[test]
            fn any_webhook_payload_is_read_or_refused(
                body in proptest::collection::vec(any::<u8>(), 0..300),
                event in "(push|Push Hook|repo:push|tag_push|ping|[a-z ]{0,10})",
                secret in "[a-z0-9]{1,20}",
            ) {
                for provider in Provider::ALL {
                    let mut headers = http::HeaderMap::new();
                    for name in ["x-github-event", "x-gitea-event", "x-gitlab-event", "x-event-key"] {
                        headers.insert(name, http::HeaderValue::from_str(&event).unwrap());
                    }
                    let _ = parse_push(provider, &headers, &body);
                    prop_assert!(!verify(provider, &secret, &headers, &body));
                }
            }

            #[test]
            fn json_shaped_payloads_are_read_or_refused(
                reference in "\\PC{0,30}",
                before in "[0-9a-f]{0,40}",
                after in "[0-9a-f]{0,40}",
            ) {
                let body = serde_json::json!({
                    "ref": reference, "before": before, "after": after,
                    "repository": { "full_name": "a/b", "clone_url": "x" },
                    "push": { "changes": [{ "new": { "name": reference, "type": "tag" } }] },
                })
                .to_string();
                for provider in Provider::ALL {
                    let mut headers = http::HeaderMap::new();
                    headers.insert("x-github-event", http::HeaderValue::from_static("push"));
                    headers.insert("x-gitlab-event", http::HeaderValue::from_static("Push Hook"));
                    headers.insert("x-event-key", http::HeaderValue::from_static("repo:push"));
                    let _ = parse_push(provider, &headers, body.as_bytes());
                }
            }
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn signatures_follow_each_provider() {
        let body = br#"{"ref":"refs/tags/v1.0.0"}"#;
        let mac = hmac_hex("s3cret", body);
        let github = headers(&[("x-hub-signature-256", &format!("sha256={mac}"))]);
        assert!(verify(Provider::Github, "s3cret", &github, body));
        assert!(verify(Provider::Git, "s3cret", &github, body));
        assert!(!verify(Provider::Github, "other", &github, body));
        assert!(!verify(Provider::Github, "s3cret", &github, b"{}"));
        assert!(verify(
            Provider::Gitea,
            "s3cret",
            &headers(&[("x-gitea-signature", &mac)]),
            body
        ));
        assert!(verify(
            Provider::Bitbucket,
            "s3cret",
            &headers(&[("x-hub-signature", &format!("sha256={mac}"))]),
            body
        ));
        assert!(verify(
            Provider::Gitlab,
            "s3cret",
            &headers(&[("x-gitlab-token", "s3cret")]),
            body
        ));
        assert!(!verify(
            Provider::Gitlab,
            "s3cret",
            &headers(&[("x-gitlab-token", "s3cre")]),
            body
        ));
        assert!(!verify(Provider::Github, "s3cret", &headers(&[]), body));
    }

    #[test]
    fn pushes_are_read_in_each_format() {
        let github = parse_push(
            Provider::Github,
            &headers(&[("x-github-event", "push")]),
            br#"{"ref":"refs/tags/v2.0.0","deleted":true,"after":"0000000000000000000000000000000000000000","repository":{"full_name":"acme/lib","clone_url":"https://github.com/acme/lib.git"}}"#,
        )
        .unwrap();
        assert_eq!(github[0].git_ref, "refs/tags/v2.0.0");
        assert!(github[0].deleted);
        assert!(github[0].project_names.contains(&"acme/lib".to_owned()));
        assert_eq!(
            parse_push(
                Provider::Github,
                &headers(&[("x-github-event", "ping")]),
                b"{}"
            ),
            Err(Ignored::Event("ping".into()))
        );
        let gitlab = parse_push(
            Provider::Gitlab,
            &headers(&[("x-gitlab-event", "Tag Push Hook")]),
            br#"{"ref":"refs/tags/v1.0.0","after":"abc","project":{"path_with_namespace":"acme/lib"}}"#,
        )
        .unwrap();
        assert!(!gitlab[0].deleted);
        let bitbucket = parse_push(
            Provider::Bitbucket,
            &headers(&[("x-event-key", "repo:push")]),
            br#"{"repository":{"full_name":"acme/lib"},"push":{"changes":[{"new":null,"old":{"type":"tag","name":"v1.0.0"}},{"new":{"type":"branch","name":"main"},"old":null}]}}"#,
        )
        .unwrap();
        assert_eq!(bitbucket.len(), 2);
        assert_eq!(bitbucket[0].git_ref, "refs/tags/v1.0.0");
        assert!(bitbucket[0].deleted);
        assert_eq!(bitbucket[1].git_ref, "refs/heads/main");
        assert!(matches!(
            parse_push(
                Provider::Git,
                &headers(&[("x-github-event", "push")]),
                b"not json"
            ),
            Err(Ignored::Malformed(_))
        ));
    }

    #[test]
    fn projects_match_without_git_suffix_or_case() {
        assert!(same_project(
            "https://host/acme/lib.git",
            "https://host/acme/lib"
        ));
        assert!(same_project("acme/Lib", "acme/lib/"));
        assert!(!same_project("acme/lib", "acme/lib2"));
    }

    #[test]
    fn subdirectories_stay_inside_the_project() {
        assert_eq!(
            clean_subdirectory(Some("/packages/a/".into())).unwrap(),
            "packages/a"
        );
        assert_eq!(clean_subdirectory(None).unwrap(), "");
        assert!(clean_subdirectory(Some("../etc".into())).is_err());
        assert!(clean_subdirectory(Some("a/./b".into())).is_err());
        assert!(check_project(Provider::Git, "file:///etc").is_err());
        assert!(check_project(Provider::Git, "https://git.example.com/a.git").is_ok());
        assert!(check_project(Provider::Github, "acme/lib").is_ok());
        assert!(check_project(Provider::Github, "acme/../lib").is_err());
    }
}
