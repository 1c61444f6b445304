//! Fixture REST APIs of GitHub, GitLab, Gitea and Bitbucket (which cannot be reached from
//! here), answering as their documentation says: the token's user (GitHub's
//! `X-OAuth-Scopes`, GitLab's `personal_access_tokens/self`), project lists with each one's
//! pagination (GitHub and Gitea `Link` headers, GitLab `X-Next-Page`, Bitbucket `next` in the
//! body) and search, a project (with `archived`), and webhook creation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Github,
    Gitlab,
    Gitea,
    Bitbucket,
}

impl Host {
    pub const ALL: [Host; 4] = [Host::Github, Host::Gitlab, Host::Gitea, Host::Bitbucket];

    pub fn graphql(self) -> &'static str {
        match self {
            Host::Github => "GITHUB",
            Host::Gitlab => "GITLAB",
            Host::Gitea => "GITEA",
            Host::Bitbucket => "BITBUCKET",
        }
    }
}

/// How many projects the account has: more than one page everywhere.
pub const PROJECTS: usize = 150;

struct Inner {
    host: Host,
    token: String,
    /// GitHub classic token scopes / GitLab token scopes.
    scopes: Mutex<Vec<String>>,
    /// Hooks created: (project, body).
    hooks: Mutex<Vec<(String, Value)>>,
    base_url: Mutex<String>,
    /// Where `git http-backend` finds `{owner}/{name}.git`, once a test serves repositories.
    git_root: Mutex<Option<std::path::PathBuf>>,
    /// Answer archives with bytes that are no zip.
    corrupt: Mutex<bool>,
    /// Answer the next refs request with 429 and `Retry-After: 1`.
    rate_limit_once: Mutex<bool>,
}

pub struct FixtureHost {
    inner: Arc<Inner>,
    pub base_url: String,
}

/// `acme/lib-000` … `acme/lib-149`, and `acme/old`, which is archived.
fn project_names() -> Vec<String> {
    let mut names: Vec<String> = (0..PROJECTS).map(|i| format!("acme/lib-{i:03}")).collect();
    names.push("acme/old".into());
    names
}

impl FixtureHost {
    pub async fn start(host: Host, token: &str) -> FixtureHost {
        let inner = Arc::new(Inner {
            host,
            token: token.into(),
            scopes: Mutex::new(match host {
                Host::Github => vec!["repo".into(), "read:user".into()],
                _ => vec!["api".into()],
            }),
            hooks: Mutex::default(),
            base_url: Mutex::default(),
            git_root: Mutex::default(),
            corrupt: Mutex::default(),
            rate_limit_once: Mutex::default(),
        });
        let router = match host {
            Host::Github => Router::new()
                .route("/api/v3/user", get(user))
                .route("/api/v3/user/repos", get(list))
                .route("/api/v3/repos/{owner}/{name}", get(project))
                .route(
                    "/api/v3/repos/{owner}/{name}/hooks",
                    axum::routing::post(hook),
                )
                .route("/api/v3/repos/{owner}/{name}/{kind}", get(refs))
                .route(
                    "/api/v3/repos/{owner}/{name}/zipball/{sha}",
                    get(github_zipball),
                )
                .route("/_codeload/{owner}/{name}/{file}", get(archive)),
            Host::Gitea => Router::new()
                .route("/api/v1/user", get(user))
                .route("/api/v1/repos/search", get(list))
                .route("/api/v1/repos/{owner}/{name}", get(project))
                .route(
                    "/api/v1/repos/{owner}/{name}/hooks",
                    axum::routing::post(hook),
                )
                .route("/api/v1/repos/{owner}/{name}/{kind}", get(refs))
                .route("/api/v1/repos/{owner}/{name}/archive/{file}", get(archive)),
            Host::Gitlab => Router::new()
                .route("/api/v4/user", get(user))
                .route("/api/v4/personal_access_tokens/self", get(gitlab_token))
                .route("/api/v4/projects", get(list))
                .route("/api/v4/projects/{id}", get(gitlab_project))
                .route(
                    "/api/v4/projects/{id}/hooks",
                    axum::routing::post(gitlab_hook),
                )
                .route("/api/v4/projects/{id}/repository/{kind}", get(gitlab_refs))
                .route(
                    "/api/v4/projects/{id}/repository/archive.zip",
                    get(gitlab_archive),
                ),
            Host::Bitbucket => Router::new()
                .route("/!api/2.0/user", get(user))
                .route("/!api/2.0/repositories", get(list))
                .route("/!api/2.0/repositories/{owner}/{name}", get(project))
                .route(
                    "/!api/2.0/repositories/{owner}/{name}/hooks",
                    axum::routing::post(hook),
                )
                .route(
                    "/!api/2.0/repositories/{owner}/{name}/refs/{kind}",
                    get(refs),
                )
                .route("/{owner}/{name}/get/{file}", get(archive)),
        }
        // Git over HTTPS, as the hosts serve it: `{base}/{owner}/{name}.git/…`.
        .fallback(git_http)
        .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fixture host");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        *inner.base_url.lock().expect("base") = base_url.clone();
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("fixture host");
        });
        FixtureHost { inner, base_url }
    }

    pub fn set_scopes(&self, scopes: &[&str]) {
        *self.inner.scopes.lock().expect("scopes") =
            scopes.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Serve the bare repositories under `root` (`{root}/{owner}/{name}.git`) over smart HTTP,
    /// to clients that authenticate with the token as each host documents.
    pub fn serve_git(&self, root: &std::path::Path) {
        *self.inner.git_root.lock().expect("root") = Some(root.to_owned());
    }

    pub fn set_corrupt(&self, corrupt: bool) {
        *self.inner.corrupt.lock().expect("corrupt") = corrupt;
    }

    pub fn rate_limit_once(&self) {
        *self.inner.rate_limit_once.lock().expect("rate") = true;
    }

    pub fn hooks(&self) -> Vec<(String, Value)> {
        self.inner.hooks.lock().expect("hooks").clone()
    }
}

type Shared = State<Arc<Inner>>;

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    match inner.host {
        Host::Github | Host::Bitbucket => {
            header("authorization") == format!("Bearer {}", inner.token)
        }
        Host::Gitea => header("authorization") == format!("token {}", inner.token),
        Host::Gitlab => header("private-token") == inner.token,
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "message": "Bad credentials" })),
    )
        .into_response()
}

async fn user(State(inner): Shared, headers: HeaderMap) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    let body = match inner.host {
        Host::Github => json!({ "login": "acme-bot", "id": 1 }),
        Host::Gitea => json!({ "login": "acme-bot", "id": 1 }),
        Host::Gitlab => json!({ "username": "acme-bot", "id": 1 }),
        Host::Bitbucket => {
            json!({ "nickname": "acme-bot", "display_name": "Acme Bot", "uuid": "{1}" })
        }
    };
    let mut response = Json(body).into_response();
    if inner.host == Host::Github {
        let scopes = inner.scopes.lock().expect("scopes").join(", ");
        response
            .headers_mut()
            .insert("x-oauth-scopes", scopes.parse().expect("header"));
    }
    response
}

async fn gitlab_token(State(inner): Shared, headers: HeaderMap) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    let scopes = inner.scopes.lock().expect("scopes").clone();
    Json(json!({ "id": 9, "name": "packistry", "active": true, "scopes": scopes })).into_response()
}

fn item(host: Host, name: &str) -> Value {
    let archived = name == "acme/old";
    match host {
        Host::Gitlab => {
            json!({ "id": 1, "path_with_namespace": name, "description": "", "visibility": "private", "archived": archived })
        }
        Host::Bitbucket => json!({ "full_name": name, "description": "", "is_private": true }),
        _ => json!({ "full_name": name, "description": "", "private": true, "archived": archived }),
    }
}

async fn list(
    State(inner): Shared,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    let base = inner.base_url.lock().expect("base").clone();
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let (per_page, search) = match inner.host {
        Host::Github => (
            query
                .get("per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(30),
            None,
        ),
        Host::Gitlab => (
            query
                .get("per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(20),
            query.get("search").cloned(),
        ),
        Host::Gitea => (
            query
                .get("limit")
                .and_then(|p| p.parse().ok())
                .unwrap_or(30usize)
                .min(50),
            query.get("q").cloned(),
        ),
        Host::Bitbucket => (
            query
                .get("pagelen")
                .and_then(|p| p.parse().ok())
                .unwrap_or(10usize)
                .min(100),
            query.get("q").map(|q| {
                q.trim_start_matches("name ~ \"")
                    .trim_end_matches('"')
                    .to_owned()
            }),
        ),
    };
    let matching: Vec<String> = project_names()
        .into_iter()
        .filter(|n| search.as_ref().is_none_or(|s| n.contains(s.as_str())))
        .collect();
    let start = (page - 1) * per_page;
    let items: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(per_page)
        .map(|n| item(inner.host, n))
        .collect();
    let more = start + per_page < matching.len();
    let path = match inner.host {
        Host::Github => "/api/v3/user/repos",
        Host::Gitea => "/api/v1/repos/search",
        Host::Gitlab => "/api/v4/projects",
        Host::Bitbucket => "/!api/2.0/repositories",
    };
    let mut params: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| k.as_str() != "page")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    params.sort();
    params.push(("page".into(), (page + 1).to_string()));
    let next_url = format!(
        "{base}{path}?{}",
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
    );
    match inner.host {
        Host::Bitbucket => {
            let mut body = json!({ "pagelen": per_page, "page": page, "size": matching.len(), "values": items });
            if more {
                body["next"] = json!(next_url);
            }
            Json(body).into_response()
        }
        Host::Gitlab => {
            let mut response = Json(Value::Array(items)).into_response();
            let next = if more {
                (page + 1).to_string()
            } else {
                String::new()
            };
            response
                .headers_mut()
                .insert("x-next-page", next.parse().expect("header"));
            response
        }
        Host::Github | Host::Gitea => {
            let body = if inner.host == Host::Gitea {
                json!({ "ok": true, "data": items })
            } else {
                Value::Array(items)
            };
            let mut response = Json(body).into_response();
            if more {
                response.headers_mut().insert(
                    "link",
                    format!("<{next_url}>; rel=\"next\"")
                        .parse()
                        .expect("header"),
                );
            }
            response
        }
    }
}

async fn project(
    State(inner): Shared,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    let full = format!("{owner}/{name}");
    if !project_names().contains(&full) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found" })),
        )
            .into_response();
    }
    Json(item(inner.host, &full)).into_response()
}

async fn gitlab_project(
    State(inner): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    if !project_names().contains(&id) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "404 Project Not Found" })),
        )
            .into_response();
    }
    Json(item(inner.host, &id)).into_response()
}

async fn hook(
    State(inner): Shared,
    headers: HeaderMap,
    Path((owner, name)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    inner
        .hooks
        .lock()
        .expect("hooks")
        .push((format!("{owner}/{name}"), body.clone()));
    (
        StatusCode::CREATED,
        Json(json!({ "id": 1, "active": true })),
    )
        .into_response()
}

async fn gitlab_hook(
    State(inner): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    inner.hooks.lock().expect("hooks").push((id, body.clone()));
    (StatusCode::CREATED, Json(json!({ "id": 1 }))).into_response()
}

/// The user name each host documents for token authentication over HTTPS (Gitea takes any).
fn git_user(host: Host) -> Option<&'static str> {
    match host {
        Host::Github => Some("x-access-token"),
        Host::Gitlab => Some("oauth2"),
        Host::Bitbucket => Some("x-token-auth"),
        Host::Gitea => None,
    }
}

/// `git http-backend` behind the fixture, as a CGI program.
async fn git_http(
    State(inner): Shared,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    use base64::Engine;
    use tokio::io::AsyncWriteExt;
    let Some(root) = inner.git_root.lock().expect("root").clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok());
    let allowed = credentials
        .as_deref()
        .is_some_and(|c| match c.split_once(':') {
            Some((user, token)) => {
                token == inner.token && git_user(inner.host).is_none_or(|expected| user == expected)
            }
            None => false,
        });
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Basic realm=\"git\"")],
            "authentication required",
        )
            .into_response();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", uri.path())
        .env("REQUEST_METHOD", method.as_str())
        .env("QUERY_STRING", uri.query().unwrap_or(""))
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .env("REMOTE_USER", "fixture")
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("git http-backend runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&body).await;
    });
    let output = child.wait_with_output().await.expect("http-backend ends");
    let _ = writer.await;
    // CGI: headers, a blank line, the body.
    let text = output.stdout;
    let split = text
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| text.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, gap)) = split else {
        return (StatusCode::BAD_GATEWAY, "http-backend said nothing").into_response();
    };
    let head = String::from_utf8_lossy(&text[..end]).to_string();
    let mut response = Response::new(axum::body::Body::from(text[end + gap..].to_vec()));
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split(' ')
                .next()
                .and_then(|c| c.parse().ok())
                .unwrap_or(200);
            *response.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
        } else if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(name.trim().as_bytes()),
            axum::http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn served_repo(inner: &Inner, project: &str) -> Option<std::path::PathBuf> {
    let root = inner.git_root.lock().expect("root").clone()?;
    let dir = root.join(format!("{project}.git"));
    dir.exists().then_some(dir)
}

fn git_output(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default()
}

/// (name, commit) of the served repository's tags or branches.
fn served_refs(dir: &std::path::Path, tags: bool) -> Vec<(String, String)> {
    let namespace = if tags { "refs/tags" } else { "refs/heads" };
    let listed = git_output(
        dir,
        &[
            "for-each-ref",
            "--format=%(refname:lstrip=2) %(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)",
            namespace,
        ],
    );
    String::from_utf8_lossy(&listed)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_owned(), b.to_owned())))
        .collect()
}

fn refs_answer(inner: &Inner, project: &str, kind: &str) -> Response {
    if std::mem::take(&mut *inner.rate_limit_once.lock().expect("rate")) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({ "message": "API rate limit exceeded" })),
        )
            .into_response();
    }
    let Some(dir) = served_repo(inner, project) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "message": "Not Found" })),
        )
            .into_response();
    };
    let refs = served_refs(&dir, matches!(kind, "tags"));
    let items: Vec<Value> = refs
        .iter()
        .map(|(name, sha)| match (inner.host, kind) {
            (Host::Bitbucket, _) => json!({ "name": name, "target": { "hash": sha } }),
            (Host::Gitlab, _) | (Host::Gitea, "branches") => {
                json!({ "name": name, "commit": { "id": sha } })
            }
            _ => json!({ "name": name, "commit": { "sha": sha } }),
        })
        .collect();
    match inner.host {
        Host::Bitbucket => Json(json!({ "pagelen": 100, "values": items })).into_response(),
        _ => Json(Value::Array(items)).into_response(),
    }
}

async fn refs(
    State(inner): Shared,
    headers: HeaderMap,
    Path((owner, name, kind)): Path<(String, String, String)>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    if !matches!(kind.as_str(), "tags" | "branches") {
        return StatusCode::NOT_FOUND.into_response();
    }
    refs_answer(&inner, &format!("{owner}/{name}"), &kind)
}

async fn gitlab_refs(
    State(inner): Shared,
    headers: HeaderMap,
    Path((id, kind)): Path<(String, String)>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    refs_answer(&inner, &id, &kind)
}

fn zip_of(inner: &Inner, project: &str, sha: &str) -> Response {
    if *inner.corrupt.lock().expect("corrupt") {
        return (
            [("content-type", "application/zip")],
            b"this is not a zip".to_vec(),
        )
            .into_response();
    }
    let Some(dir) = served_repo(inner, project) else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let top = format!("{}-{}", project.replace('/', "-"), &sha[..7.min(sha.len())]);
    let bytes = git_output(
        &dir,
        &["archive", "--format=zip", &format!("--prefix={top}/"), sha],
    );
    ([("content-type", "application/zip")], bytes).into_response()
}

/// GitHub answers a zipball with a redirect to a temporary download URL on another host.
async fn github_zipball(
    State(inner): Shared,
    headers: HeaderMap,
    Path((owner, name, sha)): Path<(String, String, String)>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    (
        StatusCode::FOUND,
        [("location", format!("/_codeload/{owner}/{name}/{sha}.zip"))],
    )
        .into_response()
}

/// Gitea's `archive/{sha}.zip`, Bitbucket's `get/{sha}.zip`, GitHub's download URL.
async fn archive(
    State(inner): Shared,
    headers: HeaderMap,
    Path((owner, name, file)): Path<(String, String, String)>,
) -> Response {
    // GitHub's download URL is pre-signed: no credentials go there.
    if inner.host != Host::Github && !authorized(&inner, &headers) {
        return unauthorized();
    }
    if inner.host == Host::Github && headers.contains_key("authorization") {
        return (
            StatusCode::BAD_REQUEST,
            "credentials sent to the download host",
        )
            .into_response();
    }
    let sha = file.trim_end_matches(".zip");
    zip_of(&inner, &format!("{owner}/{name}"), sha)
}

async fn gitlab_archive(
    State(inner): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&inner, &headers) {
        return unauthorized();
    }
    zip_of(
        &inner,
        &id,
        query.get("sha").map(String::as_str).unwrap_or("HEAD"),
    )
}
