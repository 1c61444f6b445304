//! The authorization matrix: every kind of caller against every surface that touches a
//! repository or package, on public and private repositories of each format, with the
//! expected outcome computed by the permission engine in `packistry-shared` (DESIGN's role
//! table and formula) and compared with what the running server does. Refused writes are
//! checked to have changed nothing; listings are checked to show exactly what the engine
//! lets the caller list. One server, all cases; the count is printed.

use std::collections::BTreeSet;
use std::fmt;

use futures_util::StreamExt;
use packistry_shared::permissions::{
    decide, effective_permissions, Caller, Decision, Permission, PermissionSet, TokenFacts,
    UserFacts,
};
use packistry_shared::{GlobalRole, RepositoryRole, Visibility};
use packistry_tests::composer::package_zip;
use packistry_tests::{client, login, BrowserSession, TestEnv, TestServer};
use reqwest::RequestBuilder;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use RepositoryRole::{Administrator, Developer, Reader, Uploader};

const ROLES: [RepositoryRole; 4] = [Administrator, Developer, Uploader, Reader];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Format {
    Composer,
    Maven,
    Container,
}

struct Repo {
    name: &'static str,
    format: Format,
    visibility: Visibility,
}

const REPOS: [Repo; 6] = [
    Repo {
        name: "php-pub",
        format: Format::Composer,
        visibility: Visibility::Public,
    },
    Repo {
        name: "php-priv",
        format: Format::Composer,
        visibility: Visibility::Private,
    },
    Repo {
        name: "java-pub",
        format: Format::Maven,
        visibility: Visibility::Public,
    },
    Repo {
        name: "java-priv",
        format: Format::Maven,
        visibility: Visibility::Private,
    },
    Repo {
        name: "img-pub",
        format: Format::Container,
        visibility: Visibility::Public,
    },
    Repo {
        name: "img-priv",
        format: Format::Container,
        visibility: Visibility::Private,
    },
];

/// The package a deploy token may be limited to, and one outside that limit, per format.
fn packages_of(format: Format) -> [&'static str; 2] {
    match format {
        Format::Composer => ["acme/inside", "acme/outside"],
        Format::Maven => ["com.acme:inside", "com.acme:outside"],
        Format::Container => ["inside", "outside"],
    }
}

/// A user of the matrix: global role, a direct role and a group's role on every repository.
struct User {
    email: &'static str,
    global: GlobalRole,
    direct: Option<RepositoryRole>,
    group: Option<RepositoryRole>,
    active: bool,
}

fn users() -> Vec<User> {
    let mut users = vec![
        User {
            email: "admin@m.test",
            global: GlobalRole::Admin,
            direct: None,
            group: None,
            active: true,
        },
        User {
            email: "dev@m.test",
            global: GlobalRole::Developer,
            direct: None,
            group: None,
            active: true,
        },
        User {
            email: "plain@m.test",
            global: GlobalRole::User,
            direct: None,
            group: None,
            active: true,
        },
        User {
            email: "mixed@m.test",
            global: GlobalRole::User,
            direct: Some(Reader),
            group: Some(Developer),
            active: true,
        },
        User {
            email: "gone@m.test",
            global: GlobalRole::User,
            direct: Some(Administrator),
            group: None,
            active: false,
        },
    ];
    for (role, direct, group) in [
        (
            Administrator,
            "d-administrator@m.test",
            "g-administrator@m.test",
        ),
        (Developer, "d-developer@m.test", "g-developer@m.test"),
        (Uploader, "d-uploader@m.test", "g-uploader@m.test"),
        (Reader, "d-reader@m.test", "g-reader@m.test"),
    ] {
        users.push(User {
            email: direct,
            global: GlobalRole::User,
            direct: Some(role),
            group: None,
            active: true,
        });
        users.push(User {
            email: group,
            global: GlobalRole::User,
            direct: None,
            group: Some(role),
            active: true,
        });
    }
    users
}

/// Why a token is refused outright: DESIGN says 401 on every route for these.
#[derive(Clone, Copy, Debug)]
enum Bad {
    Expired,
    Revoked,
    OwnerDeactivated,
}

#[derive(Clone, Debug)]
enum Kind {
    Anonymous,
    Session {
        user: usize,
    },
    Personal {
        user: usize,
        listed: Option<Vec<&'static str>>,
        roles: Vec<RepositoryRole>,
        bad: Option<Bad>,
    },
    Deploy {
        repositories: Vec<&'static str>,
        roles: Vec<RepositoryRole>,
        limited: bool,
        bad: Option<Bad>,
    },
}

struct Who {
    label: String,
    kind: Kind,
    secret: Option<String>,
    session: Option<BrowserSession>,
}

impl fmt::Debug for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// What a surface answered, reduced to the engine's vocabulary.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Allow,
    Unauthenticated,
    Forbidden,
    NotFound,
    Other(String),
}

impl From<Decision> for Outcome {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Allow => Outcome::Allow,
            Decision::Unauthenticated => Outcome::Unauthenticated,
            Decision::Forbidden => Outcome::Forbidden,
            Decision::NotFound => Outcome::NotFound,
        }
    }
}

fn from_status(status: u16, body: &str) -> Outcome {
    match status {
        200..=299 => Outcome::Allow,
        401 => Outcome::Unauthenticated,
        403 => Outcome::Forbidden,
        404 => Outcome::NotFound,
        other => Outcome::Other(format!(
            "{other} {}",
            body.chars().take(200).collect::<String>()
        )),
    }
}

fn from_graphql(status: u16, body: &Value) -> Outcome {
    if status == 401 {
        return Outcome::Unauthenticated;
    }
    match body["errors"][0]["extensions"]["code"].as_str() {
        None if body["errors"].is_null() => Outcome::Allow,
        Some("UNAUTHENTICATED") => Outcome::Unauthenticated,
        Some("FORBIDDEN") => Outcome::Forbidden,
        Some("NOT_FOUND") => Outcome::NotFound,
        _ => Outcome::Other(body.to_string().chars().take(300).collect()),
    }
}

struct Matrix {
    users: Vec<User>,
    callers: Vec<Who>,
}

impl Matrix {
    /// The engine's facts about a caller on a repository, asking about `package` (or the
    /// repository as a whole). `None`: the credentials are refused before any repository.
    fn caller(&self, who: &Who, repo: &Repo, package: Option<&str>) -> Option<Caller> {
        let facts = |user: usize| {
            let u = &self.users[user];
            UserFacts {
                global_role: u.global,
                active: u.active,
                direct_role: u.direct,
                group_roles: u.group.into_iter().collect(),
            }
        };
        let token = |covers: bool, roles: &[RepositoryRole], limited: bool| TokenFacts {
            covers_repository: covers,
            permitted_roles: roles.to_vec(),
            package_allowed: match (limited, package) {
                (false, _) | (true, None) => None,
                (true, Some(p)) => Some(packages_of(repo.format)[0] == p),
            },
            expired: false,
            revoked: false,
        };
        match &who.kind {
            Kind::Anonymous => Some(Caller::Anonymous),
            Kind::Session { user } => Some(Caller::User(facts(*user))),
            Kind::Personal { bad: Some(_), .. } | Kind::Deploy { bad: Some(_), .. } => None,
            Kind::Personal {
                user,
                listed,
                roles,
                bad: None,
            } => Some(Caller::PersonalToken {
                owner: facts(*user),
                token: token(
                    listed.as_ref().is_none_or(|l| l.contains(&repo.name)),
                    roles,
                    false,
                ),
            }),
            Kind::Deploy {
                repositories,
                roles,
                limited,
                bad: None,
            } => Some(Caller::DeployToken(token(
                repositories.contains(&repo.name),
                roles,
                *limited,
            ))),
        }
    }

    fn permissions(&self, who: &Who, repo: &Repo, package: Option<&str>) -> PermissionSet {
        self.caller(who, repo, package)
            .map(|c| effective_permissions(&c, repo.visibility))
            .unwrap_or(PermissionSet::NONE)
    }

    /// What the engine says a protocol route needing `needed` answers.
    fn expect(&self, who: &Who, repo: &Repo, package: Option<&str>, needed: Permission) -> Outcome {
        match self.caller(who, repo, package) {
            None => Outcome::Unauthenticated,
            Some(caller) => {
                let granted = effective_permissions(&caller, repo.visibility);
                decide(
                    &caller,
                    repo.visibility,
                    granted,
                    PermissionSet::of(&[needed]),
                )
                .into()
            }
        }
    }

    /// GraphQL names a repository first: one the caller may not see at all is NOT_FOUND
    /// for everyone (anonymous included), as one that does not exist.
    fn expect_graphql(
        &self,
        who: &Who,
        repo: &Repo,
        package: Option<&str>,
        needed: Permission,
    ) -> Outcome {
        if self.caller(who, repo, None).is_none() {
            return Outcome::Unauthenticated;
        }
        let seen =
            !self.permissions(who, repo, None).is_empty() || repo.visibility == Visibility::Public;
        if !seen {
            return Outcome::NotFound;
        }
        self.expect(who, repo, package, needed)
    }

    /// Packages the engine lets the caller list in a repository.
    fn listable(&self, who: &Who, repo: &Repo) -> BTreeSet<String> {
        packages_of(repo.format)
            .into_iter()
            .filter(|p| {
                self.permissions(who, repo, Some(p))
                    .contains(Permission::List)
            })
            .map(str::to_owned)
            .collect()
    }
}

/// One checked combination: what was expected and what happened.
struct Check {
    what: String,
    expected: String,
    actual: String,
}

fn check(
    checks: &mut Vec<Check>,
    what: String,
    expected: impl fmt::Debug,
    actual: impl fmt::Debug,
) {
    checks.push(Check {
        what,
        expected: format!("{expected:?}"),
        actual: format!("{actual:?}"),
    });
}

fn with_caller(request: RequestBuilder, who: &Who) -> RequestBuilder {
    match (&who.secret, &who.session) {
        (Some(secret), _) => request.basic_auth("token", Some(secret)),
        (None, Some(session)) => request
            .header("cookie", session.cookie_header())
            .header("x-csrf-token", &session.csrf),
        (None, None) => request,
    }
}

async fn send(request: RequestBuilder) -> (u16, String) {
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn gql(server: &TestServer, who: &Who, query: &str, variables: Value) -> (u16, Value) {
    let request = client()
        .post(server.url("/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    let request = match (&who.secret, &who.session) {
        (Some(secret), _) => request.bearer_auth(secret),
        _ => with_caller(request, who),
    };
    let (status, text) = send(request).await;
    (
        status,
        serde_json::from_str(&text).unwrap_or(json!({ "raw": text })),
    )
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

const CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux"}"#;
const LAYER: &[u8] = b"the matrix layer";

fn manifest() -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(CONFIG), "size": CONFIG.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(LAYER), "size": LAYER.len() }],
    })
    .to_string()
}

fn maven_path(package: &str, version: &str) -> String {
    let artifact = package.split(':').nth(1).unwrap();
    format!("com/acme/{artifact}/{version}/{artifact}-{version}.jar")
}

/// Publish `package` at `version` into `repo` as the matrix's administrator.
async fn publish(
    server: &TestServer,
    admin: &str,
    repo: &Repo,
    package: &str,
    version: &str,
) -> u16 {
    let request = match repo.format {
        Format::Composer => {
            let form = reqwest::multipart::Form::new()
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(package_zip(package, version, json!({})))
                        .file_name("p.zip"),
                )
                .text("version", version.to_owned());
            client()
                .post(server.url(&format!("/composer/{}/{package}", repo.name)))
                .multipart(form)
        }
        Format::Maven => client()
            .put(server.url(&format!(
                "/maven/{}/{}",
                repo.name,
                maven_path(package, version)
            )))
            .body(format!("jar of {package} {version}")),
        Format::Container => client()
            .put(server.url(&format!("/v2/{}/{package}/manifests/{version}", repo.name)))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest()),
    };
    send(request.basic_auth("token", Some(admin))).await.0
}

async fn push_blobs(server: &TestServer, admin: &str, repo: &Repo, image: &str) {
    for bytes in [CONFIG, LAYER] {
        let response = client()
            .post(server.url(&format!("/v2/{}/{image}/blobs/uploads/", repo.name)))
            .basic_auth("token", Some(admin))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let url = if location.starts_with("http") {
            location
        } else {
            server.url(&location)
        };
        let (status, body) = send(
            client()
                .put(url)
                .basic_auth("token", Some(admin))
                .query(&[("digest", digest(bytes))])
                .body(bytes.to_vec()),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
}

/// Whether `package` has `version` in `repo`, as the administrator sees it.
async fn has_version(
    server: &TestServer,
    admin: &str,
    repo: &Repo,
    package: &str,
    version: &str,
) -> bool {
    let path = match repo.format {
        Format::Composer => {
            let (status, body) = send(
                client()
                    .get(server.url(&format!("/composer/{}/p2/{package}.json", repo.name)))
                    .basic_auth("token", Some(admin)),
            )
            .await;
            return status == 200 && body.contains(&format!("\"{version}\""));
        }
        Format::Maven => format!("/maven/{}/{}", repo.name, maven_path(package, version)),
        Format::Container => format!("/v2/{}/{package}/manifests/{version}", repo.name),
    };
    let request = client()
        .get(server.url(&path))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .basic_auth("token", Some(admin));
    send(request).await.0 == 200
}

fn set_of(values: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    values.into_iter().collect()
}

/// Every check for one caller on one repository.
async fn run_case(
    matrix: &Matrix,
    server: &TestServer,
    admin: &str,
    who: &Who,
    repo: &Repo,
    case: usize,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let [inside, outside] = packages_of(repo.format);
    let at = |what: &str| format!("{who:?} · {} · {what}", repo.name);
    let is_session = matches!(who.kind, Kind::Session { .. });

    // Protocol reads (tokens and anonymous callers; the browser uses GraphQL).
    if !is_session {
        for package in [inside, outside] {
            let path = match repo.format {
                Format::Composer => format!("/composer/{}/p2/{package}.json", repo.name),
                Format::Maven => format!("/maven/{}/{}", repo.name, maven_path(package, "1.0.0")),
                Format::Container => format!("/v2/{}/{package}/manifests/1.0.0", repo.name),
            };
            let request = client()
                .get(server.url(&path))
                .header("accept", "application/vnd.oci.image.manifest.v1+json");
            let (status, body) = send(with_caller(request, who)).await;
            check(
                &mut checks,
                at(&format!("GET {path}")),
                matrix.expect(who, repo, Some(package), Permission::Download),
                from_status(status, &body),
            );
        }
        let metadata = match repo.format {
            Format::Composer => format!("/composer/{}/packages.json", repo.name),
            Format::Maven => format!("/maven/{}/com/acme/inside/maven-metadata.xml", repo.name),
            Format::Container => format!("/v2/{}/inside/tags/list", repo.name),
        };
        let scope = match repo.format {
            Format::Composer => None,
            _ => Some(inside),
        };
        let (status, body) = send(with_caller(client().get(server.url(&metadata)), who)).await;
        check(
            &mut checks,
            at(&format!("GET {metadata}")),
            matrix.expect(who, repo, scope, Permission::Download),
            from_status(status, &body),
        );
        // Listings need List on the repository, and show what List allows per package.
        let listing = match repo.format {
            Format::Composer => Some(format!("/composer/{}/list.json", repo.name)),
            Format::Maven => Some(format!("/maven/{}/com/acme/", repo.name)),
            Format::Container => None,
        };
        if let Some(path) = listing {
            let (status, body) = send(with_caller(client().get(server.url(&path)), who)).await;
            let gate = matrix.expect(who, repo, None, Permission::List);
            let outcome = from_status(status, &body);
            check(&mut checks, at(&format!("GET {path}")), &gate, &outcome);
            if outcome == Outcome::Allow && gate == Outcome::Allow {
                let listed = match repo.format {
                    Format::Composer => serde_json::from_str::<Value>(&body).unwrap()
                        ["packageNames"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|n| n.as_str().unwrap().to_owned())
                        .collect(),
                    _ => set_of(
                        ["inside", "outside"]
                            .into_iter()
                            .filter(|a| body.contains(&format!("\"{a}/\"")))
                            .map(|a| format!("com.acme:{a}")),
                    ),
                };
                check(
                    &mut checks,
                    at(&format!("listed by {path}")),
                    matrix.listable(who, repo),
                    listed,
                );
            }
        }
    }

    // GraphQL reads.
    for package in [inside, outside] {
        let (status, body) = gql(
            server,
            who,
            "query($r: String!, $p: String!) { package(repository: $r, name: $p) { name } }",
            json!({ "r": repo.name, "p": package }),
        )
        .await;
        check(
            &mut checks,
            at(&format!("graphql package {package}")),
            matrix.expect_graphql(who, repo, Some(package), Permission::Download),
            from_graphql(status, &body),
        );
    }
    let (status, body) = gql(
        server,
        who,
        "query($r: String!) { packages(repository: $r) { edges { node { name } } } }",
        json!({ "r": repo.name }),
    )
    .await;
    let gate = matrix.expect_graphql(who, repo, None, Permission::List);
    let outcome = from_graphql(status, &body);
    check(&mut checks, at("graphql packages"), &gate, &outcome);
    if outcome == Outcome::Allow && gate == Outcome::Allow {
        let listed = body["data"]["packages"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["name"].as_str().unwrap().to_owned());
        check(
            &mut checks,
            at("graphql packages listed"),
            matrix.listable(who, repo),
            set_of(listed),
        );
    }
    let (status, body) = gql(
        server,
        who,
        "query($r: String!) { grants(repository: $r) { role } }",
        json!({ "r": repo.name }),
    )
    .await;
    check(
        &mut checks,
        at("graphql grants"),
        matrix.expect_graphql(who, repo, None, Permission::ViewGrants),
        from_graphql(status, &body),
    );

    // Writes: an upload of a new version, allowed or refused; refused ones leave nothing.
    if !is_session {
        for package in [inside, outside] {
            let version = format!("5.{case}.0");
            let request = match repo.format {
                Format::Composer => {
                    let form = reqwest::multipart::Form::new()
                        .part(
                            "file",
                            reqwest::multipart::Part::bytes(package_zip(
                                package,
                                &version,
                                json!({}),
                            ))
                            .file_name("p.zip"),
                        )
                        .text("version", version.clone());
                    client()
                        .post(server.url(&format!("/composer/{}/{package}", repo.name)))
                        .multipart(form)
                }
                Format::Maven => client()
                    .put(server.url(&format!(
                        "/maven/{}/{}",
                        repo.name,
                        maven_path(package, &version)
                    )))
                    .body("a jar"),
                Format::Container => client()
                    .put(server.url(&format!("/v2/{}/{package}/manifests/{version}", repo.name)))
                    .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                    .body(manifest()),
            };
            let (status, body) = send(with_caller(request, who)).await;
            let expected = matrix.expect(who, repo, Some(package), Permission::Upload);
            let outcome = from_status(status, &body);
            check(
                &mut checks,
                at(&format!("upload {package} {version}")),
                &expected,
                &outcome,
            );
            let stored = has_version(server, admin, repo, package, &version).await;
            check(
                &mut checks,
                at(&format!("{package} {version} stored after the upload")),
                expected == Outcome::Allow,
                stored,
            );
        }
    }

    let (status, body) = gql(
        server,
        who,
        "query($r: String!) { repository(name: $r) { name } }",
        json!({ "r": repo.name }),
    )
    .await;
    let seen = match matrix.caller(who, repo, None) {
        None => Outcome::Unauthenticated,
        Some(_) if !matrix.permissions(who, repo, None).is_empty() => Outcome::Allow,
        Some(_) if repo.visibility == Visibility::Public => Outcome::Allow,
        Some(_) => Outcome::NotFound,
    };
    check(
        &mut checks,
        at("graphql repository"),
        &seen,
        from_graphql(status, &body),
    );
    let (status, body) = gql(
        server,
        who,
        "query($r: String!) { deployTokens(repository: $r) { name } }",
        json!({ "r": repo.name }),
    )
    .await;
    check(
        &mut checks,
        at("graphql deployTokens"),
        matrix.expect_graphql(who, repo, None, Permission::Administer),
        from_graphql(status, &body),
    );

    // Administration through GraphQL: delete a version made for this case, edit the
    // repository, grant a role; each has effect exactly when allowed.
    if repo.format != Format::Container {
        let version = format!("7.{case}.0");
        assert_eq!(publish(server, admin, repo, inside, &version).await, 201);
        let (status, body) = gql(
            server,
            who,
            "mutation($r: String!, $p: String!, $v: String!) { deletePackageVersion(repository: $r, package: $p, version: $v) }",
            json!({ "r": repo.name, "p": inside, "v": version }),
        )
        .await;
        let expected = matrix.expect_graphql(who, repo, Some(inside), Permission::Administer);
        check(
            &mut checks,
            at("graphql deletePackageVersion"),
            &expected,
            from_graphql(status, &body),
        );
        let kept = has_version(server, admin, repo, inside, &version).await;
        check(
            &mut checks,
            at("version kept after delete"),
            expected != Outcome::Allow,
            kept,
        );
    }
    let description = format!("case {case}");
    let (status, body) = gql(
        server,
        who,
        "mutation($r: String!, $d: String!) { updateRepository(input: { name: $r, description: $d }) { name } }",
        json!({ "r": repo.name, "d": description }),
    )
    .await;
    let expected = matrix.expect_graphql(who, repo, None, Permission::Administer);
    check(
        &mut checks,
        at("graphql updateRepository"),
        &expected,
        from_graphql(status, &body),
    );
    let target = "target@m.test";
    let (status, body) = gql(
        server,
        who,
        "mutation($r: String!, $e: String!) { grantRole(repository: $r, grantee: { userEmail: $e }, role: READER) }",
        json!({ "r": repo.name, "e": target }),
    )
    .await;
    let expected = matrix.expect_graphql(who, repo, None, Permission::Administer);
    check(
        &mut checks,
        at("graphql grantRole"),
        &expected,
        from_graphql(status, &body),
    );
    checks
}

impl Matrix {
    /// What an account-level action answers (DESIGN "Tokens"): a session, or a personal
    /// token nothing narrows, acts for its account; any other caller is refused.
    fn expect_account(&self, who: &Who) -> Result<GlobalRole, Outcome> {
        match &who.kind {
            Kind::Anonymous => Err(Outcome::Unauthenticated),
            Kind::Personal { bad: Some(_), .. } | Kind::Deploy { bad: Some(_), .. } => {
                Err(Outcome::Unauthenticated)
            }
            Kind::Session { user } => Ok(self.users[*user].global),
            Kind::Personal {
                user,
                listed,
                roles,
                ..
            } if listed.is_none() && roles.contains(&Administrator) => Ok(self.users[*user].global),
            Kind::Personal { .. } | Kind::Deploy { .. } => Err(Outcome::Forbidden),
        }
    }
}

/// The checks that do not name a repository: account-level actions, admin queries, the
/// registry catalog.
async fn run_caller(matrix: &Matrix, server: &TestServer, who: &Who, n: usize) -> Vec<Check> {
    let mut checks = Vec::new();
    let at = |what: &str| format!("{who:?} · {what}");
    let account = matrix.expect_account(who);
    let creates = |role: GlobalRole| {
        if matches!(role, GlobalRole::Admin | GlobalRole::Developer) {
            Outcome::Allow
        } else {
            Outcome::Forbidden
        }
    };
    let (status, body) = gql(server, who, "{ myTokens { id } }", json!({})).await;
    let expected = account
        .as_ref()
        .map(|_| Outcome::Allow)
        .unwrap_or_else(Clone::clone);
    check(
        &mut checks,
        at("graphql myTokens"),
        &expected,
        from_graphql(status, &body),
    );
    let (status, body) = gql(
        server,
        who,
        "mutation($n: String!) { createPersonalToken(input: { name: $n, roles: [READER] }) { secret } }",
        json!({ "n": format!("minted-{n}") }),
    )
    .await;
    check(
        &mut checks,
        at("graphql createPersonalToken"),
        &expected,
        from_graphql(status, &body),
    );
    let (status, body) = gql(
        server,
        who,
        "mutation($n: String!) { createGroup(name: $n) { name } }",
        json!({ "n": format!("mx-group-{n}") }),
    )
    .await;
    let expected = account.clone().map(creates).unwrap_or_else(|e| e);
    check(
        &mut checks,
        at("graphql createGroup"),
        &expected,
        from_graphql(status, &body),
    );
    let (status, body) = gql(
        server,
        who,
        "mutation($n: String!) { createRepository(input: { name: $n, format: COMPOSER }) { name } }",
        json!({ "n": format!("mx-repo-{n}") }),
    )
    .await;
    check(
        &mut checks,
        at("graphql createRepository"),
        &expected,
        from_graphql(status, &body),
    );
    let (status, body) = gql(
        server,
        who,
        "{ users(first: 1) { edges { node { email } } } }",
        json!({}),
    )
    .await;
    let expected = match &account {
        Ok(GlobalRole::Admin) => Outcome::Allow,
        Ok(_) => Outcome::Forbidden,
        // Deploy and narrowed tokens are signed in, but not admins.
        Err(Outcome::Forbidden) => Outcome::Forbidden,
        Err(other) => other.clone(),
    };
    check(
        &mut checks,
        at("graphql users"),
        &expected,
        from_graphql(status, &body),
    );

    // The registry catalog lists what List allows on each image, anonymous included
    // (protocol routes take tokens; the browser's session is not one).
    if matches!(who.kind, Kind::Session { .. }) {
        return checks;
    }
    let (status, body) = send(with_caller(
        client().get(server.url("/v2/_catalog?n=1000")),
        who,
    ))
    .await;
    let outcome = from_status(status, &body);
    let expected = if matches!(
        who.kind,
        Kind::Personal { bad: Some(_), .. } | Kind::Deploy { bad: Some(_), .. }
    ) {
        Outcome::Unauthenticated
    } else {
        Outcome::Allow
    };
    check(&mut checks, at("GET /v2/_catalog"), &expected, &outcome);
    if outcome == Outcome::Allow && expected == Outcome::Allow {
        let listed = serde_json::from_str::<Value>(&body).unwrap()["repositories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect::<BTreeSet<String>>();
        let listable: BTreeSet<String> = REPOS
            .iter()
            .filter(|r| r.format == Format::Container)
            .flat_map(|r| {
                matrix
                    .listable(who, r)
                    .into_iter()
                    .map(move |p| format!("{}/{p}", r.name))
            })
            .collect();
        check(&mut checks, at("listed by /v2/_catalog"), listable, listed);
    }
    checks
}

#[tokio::test]
async fn every_caller_on_every_surface_gets_what_the_engine_decides() {
    let env = TestEnv::new();
    let users = users();
    for user in &users {
        let role = match user.global {
            GlobalRole::Admin => "admin",
            GlobalRole::Developer => "developer",
            GlobalRole::User => "user",
        };
        env.create_user(user.email, role, "matrix-password-1");
    }
    for repo in &REPOS {
        let visibility = match repo.visibility {
            Visibility::Public => "public",
            Visibility::Private => "private",
        };
        let format = match repo.format {
            Format::Composer => "composer",
            Format::Maven => "maven",
            Format::Container => "container",
        };
        env.cli_ok(&[
            "repo",
            "create",
            repo.name,
            "--format",
            format,
            "--visibility",
            visibility,
        ]);
    }
    // Direct grants, and one group per role holding that role on every repository.
    for role in ROLES {
        env.cli_ok(&["group", "create", &format!("g-{}", role.as_str())]);
    }
    for user in &users {
        for repo in &REPOS {
            if let Some(role) = user.direct {
                env.cli_ok(&[
                    "grant",
                    "--repository",
                    repo.name,
                    "--user",
                    user.email,
                    "--role",
                    role.as_str(),
                ]);
            }
        }
        if let Some(role) = user.group {
            env.cli_ok(&[
                "group",
                "add-member",
                &format!("g-{}", role.as_str()),
                "--user",
                user.email,
            ]);
        }
    }
    for role in ROLES {
        for repo in &REPOS {
            env.cli_ok(&[
                "grant",
                "--repository",
                repo.name,
                "--group",
                &format!("g-{}", role.as_str()),
                "--role",
                role.as_str(),
            ]);
        }
    }
    // The grantee of the grantRole attempts: a user no case calls as.
    env.create_user("target@m.test", "user", "matrix-password-1");

    let index = |email: &str| users.iter().position(|u| u.email == email).unwrap();
    let mut callers = vec![Who {
        label: "anonymous".into(),
        kind: Kind::Anonymous,
        secret: None,
        session: None,
    }];
    let mut token_count = 0;
    let mut personal = |callers: &mut Vec<Who>,
                        user: &str,
                        listed: Option<Vec<&'static str>>,
                        roles: Vec<RepositoryRole>,
                        bad: Option<Bad>| {
        token_count += 1;
        let name = format!("t{token_count}");
        let mut args = vec!["token", "create", "--user", user, "--name", &name];
        match &listed {
            None => args.push("--all-repositories"),
            Some(list) => {
                for repo in list {
                    args.extend(["--repository", repo]);
                }
            }
        }
        let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        for role in &role_names {
            args.extend(["--role", role]);
        }
        let secret = env.cli_ok(&args);
        let label = format!(
            "token of {user} on {} as {role_names:?}{}",
            listed.as_ref().map_or("all".to_owned(), |l| l.join("+")),
            bad.map_or(String::new(), |b| format!(" ({b:?})"))
        );
        callers.push(Who {
            label,
            kind: Kind::Personal {
                user: index(user),
                listed,
                roles,
                bad,
            },
            secret: Some(secret),
            session: None,
        });
        name
    };
    let role_sets: Vec<Vec<RepositoryRole>> = vec![
        vec![],
        vec![Reader],
        vec![Uploader],
        vec![Developer],
        vec![Administrator],
        vec![Reader, Uploader],
    ];
    let private_ones = vec!["php-priv", "java-priv", "img-priv"];
    for owner in ["d-administrator@m.test", "g-uploader@m.test"] {
        for listed in [None, Some(private_ones.clone())] {
            // Tokens without roles are made through GraphQL below (the CLI wants a role).
            for roles in role_sets.iter().filter(|r| !r.is_empty()) {
                personal(&mut callers, owner, listed.clone(), roles.clone(), None);
            }
        }
    }
    for owner in [
        "admin@m.test",
        "dev@m.test",
        "plain@m.test",
        "mixed@m.test",
        "d-reader@m.test",
        "g-developer@m.test",
    ] {
        personal(&mut callers, owner, None, vec![Administrator], None);
    }
    personal(
        &mut callers,
        "admin@m.test",
        Some(vec!["php-priv", "java-pub"]),
        vec![Reader, Developer],
        None,
    );
    let expired = personal(
        &mut callers,
        "d-administrator@m.test",
        None,
        vec![Administrator],
        Some(Bad::Expired),
    );
    let revoked = personal(
        &mut callers,
        "d-administrator@m.test",
        None,
        vec![Administrator],
        Some(Bad::Revoked),
    );
    personal(
        &mut callers,
        "gone@m.test",
        None,
        vec![Administrator],
        Some(Bad::OwnerDeactivated),
    );

    let all: Vec<&'static str> = REPOS.iter().map(|r| r.name).collect();
    let mut deploy = |callers: &mut Vec<Who>,
                      repositories: Vec<&'static str>,
                      roles: Vec<RepositoryRole>,
                      limited: bool,
                      bad: Option<Bad>| {
        token_count += 1;
        let name = format!("t{token_count}");
        let mut args = vec!["token", "create-deploy", "--name", &name];
        for repo in &repositories {
            args.extend(["--repository", repo]);
        }
        if limited {
            for format in [Format::Composer, Format::Maven, Format::Container] {
                args.extend(["--package", packages_of(format)[0]]);
            }
        }
        let role_names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        for role in &role_names {
            args.extend(["--role", role]);
        }
        let secret = env.cli_ok(&args);
        let label = format!(
            "deploy token on {} as {role_names:?}{}{}",
            if repositories.len() == REPOS.len() {
                "all".to_owned()
            } else {
                repositories.join("+")
            },
            if limited {
                " limited to the inside packages"
            } else {
                ""
            },
            bad.map_or(String::new(), |b| format!(" ({b:?})"))
        );
        callers.push(Who {
            label,
            kind: Kind::Deploy {
                repositories,
                roles,
                limited,
                bad,
            },
            secret: Some(secret),
            session: None,
        });
        name
    };
    for role in ROLES {
        for limited in [false, true] {
            deploy(&mut callers, all.clone(), vec![role], limited, None);
        }
    }
    deploy(
        &mut callers,
        vec!["php-priv", "img-pub"],
        vec![Uploader],
        false,
        None,
    );
    let expired_deploy = deploy(
        &mut callers,
        all.clone(),
        vec![Administrator],
        false,
        Some(Bad::Expired),
    );

    // Make the bad ones bad: expire two, revoke one, deactivate an owner.
    env.cli_ok(&[
        "token",
        "revoke",
        "--name",
        &revoked,
        "--user",
        "d-administrator@m.test",
    ]);
    env.cli_ok(&["user", "deactivate", "--email", "gone@m.test"]);
    let past = "2000-01-01 00:00:00+00:00";
    for name in [&expired, &expired_deploy] {
        env.execute_sql(&format!(
            "UPDATE tokens SET expires_at = '{past}' WHERE name = '{name}'"
        ))
        .await;
    }

    let server = env.start();
    // Browser sessions of a few users.
    for email in [
        "admin@m.test",
        "dev@m.test",
        "plain@m.test",
        "mixed@m.test",
        "d-developer@m.test",
        "g-reader@m.test",
        "d-uploader@m.test",
    ] {
        let session = login(&server, email, "matrix-password-1").await.unwrap();
        callers.push(Who {
            label: format!("session of {email}"),
            kind: Kind::Session { user: index(email) },
            secret: None,
            session: Some(session),
        });
    }

    // Tokens permitting no role, minted by each owner's unrestricted token.
    for owner in ["d-administrator@m.test", "g-uploader@m.test"] {
        let parent = callers
            .iter()
            .find(|w| {
                matches!(&w.kind, Kind::Personal { user, listed: None, roles, bad: None }
                if *user == index(owner) && roles == &vec![Administrator])
            })
            .and_then(|w| w.secret.clone())
            .unwrap();
        for (n, listed) in [None, Some(private_ones.clone())].into_iter().enumerate() {
            let parent = Who {
                label: String::new(),
                kind: Kind::Anonymous,
                secret: Some(parent.clone()),
                session: None,
            };
            let (_, body) = gql(
                &server,
                &parent,
                "mutation($n: String!, $r: [String!]) { createPersonalToken(input: { name: $n, repositories: $r, roles: [] }) { secret } }",
                json!({ "n": format!("none-{n}"), "r": listed }),
            )
            .await;
            let secret = body["data"]["createPersonalToken"]["secret"]
                .as_str()
                .expect("a token without roles")
                .to_owned();
            let label = format!(
                "token of {owner} on {} as []",
                listed.as_ref().map_or("all".to_owned(), |l| l.join("+"))
            );
            callers.push(Who {
                label,
                kind: Kind::Personal {
                    user: index(owner),
                    listed,
                    roles: vec![],
                    bad: None,
                },
                secret: Some(secret),
                session: None,
            });
        }
    }

    // What every case reads: the inside and outside packages, published by an administrator.
    let admin = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "admin@m.test",
        "--name",
        "setup",
        "--all-repositories",
        "--role",
        "administrator",
    ]);
    for repo in &REPOS {
        for package in packages_of(repo.format) {
            if repo.format == Format::Container {
                push_blobs(&server, &admin, repo, package).await;
            }
            assert_eq!(
                publish(&server, &admin, repo, package, "1.0.0").await,
                201,
                "{} {package}",
                repo.name
            );
        }
    }

    let matrix = Matrix { users, callers };
    let cases: Vec<(usize, &Who, &Repo)> = matrix
        .callers
        .iter()
        .flat_map(|who| REPOS.iter().map(move |repo| (who, repo)))
        .enumerate()
        .map(|(n, (who, repo))| (n, who, repo))
        .collect();
    let checks: Vec<Check> = futures_util::stream::iter(cases)
        .map(|(n, who, repo)| run_case(&matrix, &server, &admin, who, repo, n))
        .buffer_unordered(6)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await;

    let mut checks = checks;
    let per_caller: Vec<Check> = futures_util::stream::iter(matrix.callers.iter().enumerate())
        .map(|(n, who)| run_caller(&matrix, &server, who, n))
        .buffer_unordered(6)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await;
    checks.extend(per_caller);
    let mismatches: Vec<&Check> = checks.iter().filter(|c| c.expected != c.actual).collect();
    packistry_tests::report(&format!(
        "authorization matrix: {} combinations checked ({} callers × {} repositories), {} mismatches",
        checks.len(),
        matrix.callers.len(),
        REPOS.len(),
        mismatches.len()
    ));
    for m in mismatches.iter().take(60) {
        println!(
            "MISMATCH {}: expected {}, got {}",
            m.what, m.expected, m.actual
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches (listed above)",
        mismatches.len()
    );
}
