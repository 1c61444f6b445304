//! The Git hosts' REST APIs, as each documents them: checking a source's token ("test
//! connection"), listing its projects with search and pagination, and creating the push
//! webhook on a project. Provider `git` has no API: its projects are clone URLs.

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, LINK};
use serde_json::{json, Value};

use super::sources::Provider;
use crate::db::entities::sources;

/// What "test connection" found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    pub ok: bool,
    /// The account the token belongs to, when known.
    pub account: Option<String>,
    /// What a person reads: fine, or exactly what is missing.
    pub message: String,
}

/// A project the source's token can see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// What to import: `owner/name` (GitLab: the full path).
    pub path: String,
    pub description: String,
    pub private: bool,
    pub archived: bool,
}

/// One page of projects, and where the next one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectPage {
    pub projects: Vec<Project>,
    /// An opaque cursor for the next page.
    pub next: Option<String>,
}

/// What became of the webhook when a project was added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hook {
    Created,
    Skipped(String),
    Failed(String),
}

impl Hook {
    pub fn describe(&self) -> String {
        match self {
            Hook::Created => "webhook created".into(),
            Hook::Skipped(why) => format!("webhook not created: {why}"),
            Hook::Failed(why) => format!("webhook could not be created: {why}"),
        }
    }
}

pub struct Client {
    provider: Provider,
    api: String,
    token: String,
    http: reqwest::Client,
}

/// The REST API root of a source.
pub fn api_base(provider: Provider, base_url: &str) -> Option<String> {
    let base = Some(base_url.trim_end_matches('/')).filter(|b| !b.is_empty());
    Some(match (provider, base) {
        (Provider::Git, _) => return None,
        (Provider::Github, None) => "https://api.github.com".into(),
        (Provider::Github, Some(base)) => format!("{base}/api/v3"),
        (Provider::Gitlab, base) => format!("{}/api/v4", base.unwrap_or("https://gitlab.com")),
        (Provider::Gitea, base) => format!("{}/api/v1", base?),
        (Provider::Bitbucket, None) => "https://api.bitbucket.org/2.0".into(),
        (Provider::Bitbucket, Some(base)) => format!("{base}/!api/2.0"),
    })
}

fn failure(err: &reqwest::Error) -> String {
    if err.is_connect() || err.is_timeout() {
        format!("the provider cannot be reached ({err})")
    } else {
        format!("the provider's answer is unusable ({err})")
    }
}

/// Seconds to wait when the host says the token is over its rate limit: `429` or GitHub's
/// `403` with `X-RateLimit-Remaining: 0`, from `Retry-After` or `X-RateLimit-Reset`.
pub fn rate_limited(status: reqwest::StatusCode, headers: &HeaderMap) -> Option<u64> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let exhausted = status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || (status == reqwest::StatusCode::FORBIDDEN
            && header("x-ratelimit-remaining") == Some("0"));
    if !exhausted {
        return None;
    }
    if let Some(seconds) = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(seconds);
    }
    let reset = header("x-ratelimit-reset").and_then(|v| v.trim().parse::<i64>().ok());
    Some(match reset {
        Some(at) => u64::try_from(at - chrono::Utc::now().timestamp())
            .unwrap_or(0)
            .max(1),
        None => 60,
    })
}

/// Whether two URLs have the same scheme, host and port.
fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

impl Client {
    /// A client for a source with an API and a token.
    pub fn for_source(
        source: &sources::Model,
        token: Option<String>,
        http: reqwest::Client,
    ) -> Option<Client> {
        let provider = super::sources::provider_of(source)?;
        Some(Client {
            provider,
            api: api_base(provider, &source.base_url)?,
            token: token?,
            http,
        })
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match self.provider {
            Provider::Gitea => request.header(AUTHORIZATION, format!("token {}", self.token)),
            Provider::Gitlab => request.header("PRIVATE-TOKEN", &self.token),
            Provider::Bitbucket if self.token.contains(':') => {
                // An app password, given as user:password.
                let (user, password) = self.token.split_once(':').unwrap_or_default();
                request.basic_auth(user, Some(password))
            }
            Provider::Github => request
                .bearer_auth(&self.token)
                .header(ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28"),
            _ => request.bearer_auth(&self.token),
        }
    }

    async fn get(&self, url: &str) -> Result<(reqwest::StatusCode, HeaderMap, Value), String> {
        let response = self
            .request(reqwest::Method::GET, url)
            .send()
            .await
            .map_err(|e| failure(&e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(wait) = rate_limited(status, &headers) {
            return Err(format!(
                "the host is rate limiting this token; try again in {wait} seconds"
            ));
        }
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, headers, body))
    }

    /// Check the token against the provider and say exactly what is missing.
    pub async fn test_connection(&self) -> ConnectionReport {
        let user_url = match self.provider {
            Provider::Bitbucket => format!("{}/user", self.api),
            _ => format!("{}/user", self.api),
        };
        let (status, headers, body) = match self.get(&user_url).await {
            Ok(answer) => answer,
            Err(message) => {
                return ConnectionReport {
                    ok: false,
                    account: None,
                    message,
                }
            }
        };
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return ConnectionReport {
                ok: false,
                account: None,
                message: "the provider refused the token: it is wrong, expired or revoked".into(),
            };
        }
        if !status.is_success() {
            return ConnectionReport {
                ok: false,
                account: None,
                message: format!("the provider answered {status} to {user_url}"),
            };
        }
        let account = ["login", "username", "nickname", "display_name"]
            .iter()
            .find_map(|k| body[*k].as_str())
            .map(str::to_owned);
        let missing = match self.provider {
            // Classic tokens list their scopes; fine-grained ones do not send the header.
            Provider::Github => headers
                .get("x-oauth-scopes")
                .and_then(|v| v.to_str().ok())
                .filter(|scopes| {
                    !scopes
                        .split(',')
                        .any(|s| matches!(s.trim(), "repo" | "public_repo"))
                })
                .map(|_| "the token lacks the repo scope (needed to read private repositories and create webhooks)".to_owned()),
            Provider::Gitlab => match self.get(&format!("{}/personal_access_tokens/self", self.api)).await {
                Ok((status, _, token)) if status.is_success() => {
                    let scopes: Vec<&str> = token["scopes"]
                        .as_array()
                        .map(|s| s.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    (!scopes.contains(&"api")).then(|| {
                        format!(
                            "the token has the scopes {} but needs api (to read repositories and create webhooks)",
                            if scopes.is_empty() { "none".to_owned() } else { scopes.join(", ") }
                        )
                    })
                }
                _ => None,
            },
            _ => None,
        };
        match missing {
            Some(message) => ConnectionReport {
                ok: false,
                account,
                message,
            },
            None => ConnectionReport {
                message: match &account {
                    Some(account) => format!("connected as {account}"),
                    None => "connected".into(),
                },
                ok: true,
                account,
            },
        }
    }

    /// A page of projects the token can see, optionally searched by name.
    pub async fn projects(
        &self,
        search: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<ProjectPage, String> {
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        let encoded =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let first = match self.provider {
            Provider::Github => format!("{}/user/repos?per_page=100&sort=full_name", self.api),
            Provider::Gitlab => format!(
                "{}/projects?membership=true&per_page=100&order_by=path&sort=asc{}",
                self.api,
                search
                    .map(|s| format!("&search={}", encoded(s)))
                    .unwrap_or_default()
            ),
            Provider::Gitea => format!(
                "{}/repos/search?limit=50{}",
                self.api,
                search
                    .map(|s| format!("&q={}", encoded(s)))
                    .unwrap_or_default()
            ),
            Provider::Bitbucket => format!(
                "{}/repositories?role=member&pagelen=100{}",
                self.api,
                search
                    .map(|s| format!("&q={}", encoded(&format!("name ~ \"{s}\""))))
                    .unwrap_or_default()
            ),
            Provider::Git => return Err("a Git URL source has no projects to list".into()),
        };
        // The cursor is the next page's URL, which must stay on this provider's API.
        let url = match cursor {
            Some(next) if next.starts_with(&self.api) => next.to_owned(),
            Some(_) => return Err("that page does not belong to this source".into()),
            None => first,
        };
        let (status, headers, body) = self.get(&url).await?;
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err("the provider refused the token: it is wrong, expired or revoked".into());
        }
        if !status.is_success() {
            return Err(format!("the provider answered {status}"));
        }
        let items: Vec<Value> = match self.provider {
            Provider::Gitea => body["data"].as_array().cloned().unwrap_or_default(),
            Provider::Bitbucket => body["values"].as_array().cloned().unwrap_or_default(),
            _ => body.as_array().cloned().unwrap_or_default(),
        };
        let mut projects: Vec<Project> = items
            .iter()
            .map(|item| Project {
                path: ["full_name", "path_with_namespace"]
                    .iter()
                    .find_map(|k| item[*k].as_str())
                    .unwrap_or("")
                    .to_owned(),
                description: item["description"].as_str().unwrap_or("").to_owned(),
                private: item["private"]
                    .as_bool()
                    .or(item["is_private"].as_bool())
                    .unwrap_or(item["visibility"].as_str().is_some_and(|v| v != "public")),
                archived: item["archived"].as_bool().unwrap_or(false),
            })
            .filter(|p| !p.path.is_empty())
            .collect();
        if self.provider == Provider::Github {
            if let Some(search) = search {
                // /user/repos has no search: read up to ten pages and keep the matches.
                let search = search.to_lowercase();
                projects.retain(|p| p.path.to_lowercase().contains(&search));
                let mut next = next_link(&headers);
                for _ in 0..9 {
                    let Some(url) = next.take() else { break };
                    let (status, headers, body) = self.get(&url).await?;
                    if !status.is_success() {
                        return Err(format!("the provider answered {status}"));
                    }
                    projects.extend(body.as_array().into_iter().flatten().filter_map(|item| {
                        let path = item["full_name"].as_str()?;
                        path.to_lowercase().contains(&search).then(|| Project {
                            path: path.to_owned(),
                            description: item["description"].as_str().unwrap_or("").to_owned(),
                            private: item["private"].as_bool().unwrap_or(false),
                            archived: item["archived"].as_bool().unwrap_or(false),
                        })
                    }));
                    next = next_link(&headers);
                }
                return Ok(ProjectPage {
                    projects,
                    next: None,
                });
            }
        }
        let next = match self.provider {
            Provider::Bitbucket => body["next"].as_str().map(str::to_owned),
            Provider::Gitlab => headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .filter(|p| !p.is_empty())
                .map(|page| {
                    if url.contains("&page=") {
                        let base = url.split("&page=").next().unwrap_or(&url).to_owned();
                        format!("{base}&page={page}")
                    } else {
                        format!("{url}&page={page}")
                    }
                })
                .or_else(|| next_link(&headers)),
            _ => next_link(&headers),
        };
        Ok(ProjectPage { projects, next })
    }

    /// Create the push webhook on a project (skipped for archived projects).
    pub async fn create_hook(&self, project: &str, url: &str, secret: &str) -> Hook {
        let encoded: String = url::form_urlencoded::byte_serialize(project.as_bytes()).collect();
        let project_url = match self.provider {
            Provider::Gitlab => format!("{}/projects/{encoded}", self.api),
            Provider::Bitbucket => format!("{}/repositories/{project}", self.api),
            _ => format!("{}/repos/{project}", self.api),
        };
        match self.get(&project_url).await {
            Ok((status, _, body)) if status.is_success() => {
                if body["archived"].as_bool() == Some(true) {
                    return Hook::Skipped(format!(
                        "{project} is archived, so it will not be pushed to; import it again by hand if that changes"
                    ));
                }
            }
            Ok((status, _, _)) => {
                return Hook::Failed(format!("{project}: the provider answered {status}"))
            }
            Err(message) => return Hook::Failed(message),
        }
        let (hooks_url, body) = match self.provider {
            Provider::Github => (
                format!("{project_url}/hooks"),
                json!({ "name": "web", "active": true, "events": ["push"],
                        "config": { "url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0" } }),
            ),
            Provider::Gitea => (
                format!("{project_url}/hooks"),
                json!({ "type": "gitea", "active": true, "events": ["push"],
                        "config": { "url": url, "content_type": "json", "secret": secret } }),
            ),
            Provider::Gitlab => (
                format!("{project_url}/hooks"),
                json!({ "url": url, "push_events": true, "tag_push_events": true, "token": secret,
                        "enable_ssl_verification": true }),
            ),
            Provider::Bitbucket => (
                format!("{project_url}/hooks"),
                json!({ "description": "Packistry", "url": url, "active": true,
                        "events": ["repo:push"], "secret": secret }),
            ),
            Provider::Git => return Hook::Skipped("a Git URL source has no API".into()),
        };
        match self
            .request(reqwest::Method::POST, &hooks_url)
            .json(&body)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => Hook::Created,
            Ok(response) if matches!(response.status().as_u16(), 401 | 403 | 404) => Hook::Skipped(format!(
                "the token may not manage webhooks of {project} ({}); add one by hand with the URL and secret of the source",
                response.status()
            )),
            Ok(response) => Hook::Failed(format!("the provider answered {}", response.status())),
            Err(err) => Hook::Failed(failure(&err)),
        }
    }
}

/// Why an API call for an import failed: whether it may pass, and after how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub message: String,
    pub transient: bool,
    /// The host's own wait (Retry-After, X-RateLimit-Reset), in seconds.
    pub retry_after: Option<u64>,
}

impl ApiFailure {
    fn permanent(message: String) -> Self {
        ApiFailure {
            message,
            transient: false,
            retry_after: None,
        }
    }

    fn transient(message: String) -> Self {
        ApiFailure {
            message,
            transient: true,
            retry_after: None,
        }
    }
}

/// The client for Git hosts (APIs and archives), apart from single sign-on's: no overall
/// deadline, since an archive may be large and slow to come, but a connection must open
/// within 10 s and an answer may not stall for more than 60 s; no redirect is followed
/// unasked (an archive's redirect is followed without the token).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .read_timeout(std::time::Duration::from_secs(60))
        .user_agent(concat!("Packistry/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Pages of tags or of branches read at most (100 a page on most hosts): past them the
/// listing is refused, not cut.
const MAX_REF_PAGES: usize = 100;

impl Client {
    fn project_api(&self, project: &str) -> String {
        match self.provider {
            Provider::Gitlab => {
                let encoded: String =
                    url::form_urlencoded::byte_serialize(project.as_bytes()).collect();
                format!("{}/projects/{encoded}", self.api)
            }
            Provider::Bitbucket => format!("{}/repositories/{project}", self.api),
            _ => format!("{}/repos/{project}", self.api),
        }
    }

    /// GET for an import: rate limits and unreachable hosts may pass, a refused token not.
    async fn fetch(&self, url: &str, auth: bool) -> Result<reqwest::Response, ApiFailure> {
        let request = if auth {
            self.request(reqwest::Method::GET, url)
        } else {
            self.http.get(url)
        };
        let response = request.send().await.map_err(|err| ApiFailure {
            message: failure(&err),
            transient: true,
            retry_after: None,
        })?;
        let status = response.status();
        if let Some(wait) = rate_limited(status, response.headers()) {
            return Err(ApiFailure {
                message: format!(
                    "the host is rate limiting this token; retrying in {wait} seconds"
                ),
                transient: true,
                retry_after: Some(wait),
            });
        }
        if matches!(status.as_u16(), 401 | 403) {
            return Err(ApiFailure::permanent(format!(
                "the host refused the source's token ({status})"
            )));
        }
        if status.is_server_error() {
            return Err(ApiFailure {
                message: format!("the host answered {status}"),
                transient: true,
                retry_after: None,
            });
        }
        if !status.is_success() && !status.is_redirection() {
            return Err(ApiFailure::permanent(format!(
                "the host answered {status} to {url}"
            )));
        }
        Ok(response)
    }

    /// Every tag and branch of a project with its commit, from the host's API (all pages).
    /// A listing that cannot be read whole (an answer that is not a list, more pages than
    /// this reads) is an error, never a shorter list: the import deletes the versions of
    /// refs it does not see.
    pub async fn refs(&self, project: &str) -> Result<Vec<(String, String)>, ApiFailure> {
        let base = self.project_api(project);
        let mut refs = Vec::new();
        for (kind, prefix) in [("tags", "refs/tags/"), ("branches", "refs/heads/")] {
            let mut url = Some(match self.provider {
                Provider::Gitlab => format!("{base}/repository/{kind}?per_page=100"),
                Provider::Bitbucket => format!("{base}/refs/{kind}?pagelen=100"),
                Provider::Gitea => format!("{base}/{kind}?limit=50"),
                _ => format!("{base}/{kind}?per_page=100"),
            });
            for page in 0.. {
                let Some(current) = url.take() else { break };
                if page == MAX_REF_PAGES {
                    return Err(ApiFailure::permanent(format!(
                        "the project has more than {MAX_REF_PAGES} pages of {kind}; \
                         nothing was changed"
                    )));
                }
                let response = self.fetch(&current, true).await?;
                let headers = response.headers().clone();
                let body: Value = response.json().await.map_err(|err| {
                    ApiFailure::permanent(format!("the host's {kind} list is unreadable: {err}"))
                })?;
                let items = match self.provider {
                    Provider::Bitbucket => body["values"].as_array().cloned(),
                    _ => body.as_array().cloned(),
                }
                .ok_or_else(|| {
                    ApiFailure::transient(format!(
                        "the host's {kind} list is not a list; nothing was changed"
                    ))
                })?;
                for item in items {
                    let name = item["name"].as_str().unwrap_or("");
                    let sha = ["commit", "target"]
                        .iter()
                        .find_map(|k| {
                            ["sha", "id", "hash"]
                                .iter()
                                .find_map(|f| item[*k][*f].as_str())
                        })
                        .unwrap_or("");
                    if !name.is_empty() && !sha.is_empty() {
                        refs.push((format!("{prefix}{name}"), sha.to_owned()));
                    }
                }
                url = match self.provider {
                    Provider::Bitbucket => body["next"].as_str().map(str::to_owned),
                    Provider::Gitlab => headers
                        .get("x-next-page")
                        .and_then(|v| v.to_str().ok())
                        .filter(|p| !p.is_empty())
                        .map(|page| {
                            format!(
                                "{}&page={page}",
                                current.split("&page=").next().unwrap_or(&current)
                            )
                        }),
                    _ => next_link(&headers),
                };
                // The token goes with every page: follow a next page on the API's own
                // host only.
                if let Some(next) = &url {
                    if !same_origin(next, &self.api) {
                        return Err(ApiFailure::permanent(format!(
                            "the host's next page of {kind} is on another host ({next}); \
                             not followed, nothing was changed"
                        )));
                    }
                }
            }
        }
        Ok(refs)
    }

    /// The host's zip of a commit (the whole tree, under one top-level folder).
    pub async fn archive(
        &self,
        project: &str,
        sha: &str,
        web_base: &str,
    ) -> Result<reqwest::Response, ApiFailure> {
        let url = match self.provider {
            Provider::Github => format!("{}/zipball/{sha}", self.project_api(project)),
            Provider::Gitlab => format!(
                "{}/repository/archive.zip?sha={sha}",
                self.project_api(project)
            ),
            Provider::Gitea => format!("{}/archive/{sha}.zip", self.project_api(project)),
            // Bitbucket serves archives from its web host, not its API.
            Provider::Bitbucket => {
                format!("{}/{project}/get/{sha}.zip", web_base.trim_end_matches('/'))
            }
            Provider::Git => {
                return Err(ApiFailure::permanent("a Git URL source has no API".into()))
            }
        };
        let response = self.fetch(&url, true).await?;
        if response.status().is_redirection() {
            // GitHub answers with a temporary, pre-signed download URL on another host.
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| ApiFailure::permanent("a redirect without a Location".into()))?
                .to_owned();
            let target = url::Url::parse(&url)
                .and_then(|u| u.join(&location))
                .map_err(|err| ApiFailure::permanent(format!("a bad redirect: {err}")))?;
            return self.fetch(target.as_str(), false).await;
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_roots_follow_the_documentation() {
        assert_eq!(
            api_base(Provider::Github, "").unwrap(),
            "https://api.github.com"
        );
        assert_eq!(
            api_base(Provider::Github, "https://ghe.example.com/").unwrap(),
            "https://ghe.example.com/api/v3"
        );
        assert_eq!(
            api_base(Provider::Gitlab, "").unwrap(),
            "https://gitlab.com/api/v4"
        );
        assert_eq!(
            api_base(Provider::Gitea, "https://gitea.example.com").unwrap(),
            "https://gitea.example.com/api/v1"
        );
        assert_eq!(api_base(Provider::Gitea, ""), None);
        assert_eq!(
            api_base(Provider::Bitbucket, "").unwrap(),
            "https://api.bitbucket.org/2.0"
        );
        assert_eq!(api_base(Provider::Git, "https://x"), None);
    }

    #[test]
    fn rate_limits_are_read_from_the_hosts_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "30".parse().unwrap());
        assert_eq!(
            rate_limited(reqwest::StatusCode::TOO_MANY_REQUESTS, &headers),
            Some(30)
        );
        assert_eq!(rate_limited(reqwest::StatusCode::OK, &headers), None);
        let mut github = HeaderMap::new();
        github.insert("x-ratelimit-remaining", "0".parse().unwrap());
        let reset = chrono::Utc::now().timestamp() + 120;
        github.insert("x-ratelimit-reset", reset.to_string().parse().unwrap());
        let wait = rate_limited(reqwest::StatusCode::FORBIDDEN, &github).unwrap();
        assert!((110..=121).contains(&wait), "{wait}");
        assert_eq!(
            rate_limited(reqwest::StatusCode::FORBIDDEN, &HeaderMap::new()),
            None
        );
    }

    #[test]
    fn link_headers_give_the_next_page() {
        let mut headers = HeaderMap::new();
        headers.insert(
            LINK,
            "<https://api.github.com/user/repos?page=2>; rel=\"next\", <https://api.github.com/user/repos?page=5>; rel=\"last\""
                .parse()
                .unwrap(),
        );
        assert_eq!(
            next_link(&headers).unwrap(),
            "https://api.github.com/user/repos?page=2"
        );
        assert_eq!(next_link(&HeaderMap::new()), None);
    }
}
