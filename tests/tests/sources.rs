//! Importing Composer packages from a real Git server (`git daemon`): tags and branches
//! become versions, a monorepo subdirectory is its own package, real composer installs
//! them; webhooks import a pushed tag and remove a deleted one.

use std::time::Duration;

use hmac::{Hmac, Mac};
use packistry_tests::composer::{self, Credentials, Project};
use packistry_tests::git::{greeter, run, write, GitServer};
use packistry_tests::{client, graphql, login, BrowserSession, TestEnv, TestServer};
use serde_json::{json, Value};
use sha2::Sha256;

/// The project: `acme/imported` at the root, `acme/util` in `packages/util`.
fn project_at(git: &GitServer, version: &str) {
    let work = git.work.path();
    write(
        work,
        "composer.json",
        &json!({ "name": "acme/imported", "description": "Imported from Git",
                 "autoload": { "psr-4": { "Acme\\Imported\\": "src/" } } })
        .to_string(),
    );
    write(work, "src/Greeter.php", &greeter("Acme\\Imported", version));
    write(
        work,
        "packages/util/composer.json",
        &json!({ "name": "acme/util", "autoload": { "psr-4": { "Acme\\Util\\": "src/" } } })
            .to_string(),
    );
    write(
        work,
        "packages/util/src/Greeter.php",
        &greeter("Acme\\Util", version),
    );
}

struct World {
    env: TestEnv,
    server: TestServer,
    admin: BrowserSession,
}

async fn world() -> World {
    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "admin-password");
    env.cli_ok(&["repo", "create", "libs", "--format", "composer"]);
    let server = env.start();
    let admin = login(&server, "admin@example.com", "admin-password")
        .await
        .unwrap();
    World { env, server, admin }
}

impl World {
    async fn gql(&self, query: &str, variables: Value) -> Value {
        let answer = graphql(&self.server, query, variables, Some(&self.admin), true).await;
        assert!(
            answer.body["errors"].is_null(),
            "{query}: {:?}",
            answer.body
        );
        answer.data().clone()
    }

    /// The imported packages with their newest job, once every newest job has ended.
    async fn settled(&self) -> Vec<Value> {
        for _ in 0..600 {
            let data = self
                .gql(
                    "{ importedPackages(repository: \"libs\") { project subdirectory packageName jobs(first: 1) { status progress error attempts refs { ref status version reason } } } }",
                    json!({}),
                )
                .await;
            let packages = data["importedPackages"].as_array().unwrap().clone();
            let ended = packages.iter().all(|p| {
                matches!(
                    p["jobs"][0]["status"].as_str(),
                    Some("SUCCEEDED" | "FAILED")
                ) || (p["jobs"][0]["status"] == "QUEUED" && p["jobs"][0]["attempts"] != 0)
            });
            if ended {
                return packages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("imports did not end: {}", self.server.logs());
    }

    async fn versions(&self, package: &str) -> Vec<String> {
        let data = self
            .gql(
                "query($p: String!) { package(repository: \"libs\", name: $p) { versions { version } } }",
                json!({ "p": package }),
            )
            .await;
        let mut versions: Vec<String> = data["package"]["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap().to_owned())
            .collect();
        versions.sort();
        versions
    }
}

fn signed(secret: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex_of(&mac.finalize().into_bytes()))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn post_webhook(
    server: &TestServer,
    event: &str,
    signature: &str,
    body: &str,
) -> (u16, Value) {
    let response = client()
        .post(server.url("/incoming/git/local"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-hub-signature-256", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn tags_and_branches_become_versions_and_webhooks_keep_them_current() {
    if !composer::available() {
        return;
    }
    let git = GitServer::start();
    project_at(&git, "1.0.0");
    git.commit("first");
    run(git.work.path(), &["tag", "v1.0.0"]);
    project_at(&git, "1.1.0");
    git.commit("second");
    run(git.work.path(), &["tag", "-a", "v1.1.0", "-m", "annotated"]);
    run(git.work.path(), &["tag", "not-a-version"]);
    git.push(&["main", "--tags"]);

    let world = world().await;
    let source = world
        .gql(
            "mutation { createSource(input: { name: \"local\", provider: GIT }) { name webhookUrl webhookSecret hasToken } }",
            json!({}),
        )
        .await["createSource"]
        .clone();
    assert_eq!(
        source["webhookUrl"],
        world.server.url("/incoming/git/local")
    );
    assert_eq!(source["hasToken"], false);
    let secret = source["webhookSecret"].as_str().unwrap().to_owned();
    for subdirectory in [Value::Null, json!("packages/util")] {
        world
            .gql(
                "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { package { project } webhook } }",
                json!({ "input": { "source": "local", "repository": "libs", "project": git.url, "subdirectory": subdirectory } }),
            )
            .await;
    }

    let packages = world.settled().await;
    for package in &packages {
        let job = &package["jobs"][0];
        assert_eq!(job["status"], "SUCCEEDED", "{package}");
        assert_eq!(job["progress"], 100);
        let skipped = job["refs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["ref"] == "refs/tags/not-a-version")
            .expect("the odd tag is reported");
        assert_eq!(skipped["status"], "skipped");
        assert!(skipped["reason"]
            .as_str()
            .unwrap()
            .contains("not a version"));
    }
    let names: Vec<&str> = packages
        .iter()
        .filter_map(|p| p["packageName"].as_str())
        .collect();
    assert!(
        names.contains(&"acme/imported") && names.contains(&"acme/util"),
        "{names:?}"
    );
    assert_eq!(
        world.versions("acme/imported").await,
        vec!["1.0.0", "1.1.0", "dev-main"]
    );
    assert_eq!(
        world.versions("acme/util").await,
        vec!["1.0.0", "1.1.0", "dev-main"]
    );

    // Real composer installs what was imported.
    let token = world.env.cli_ok(&[
        "token",
        "create",
        "--user",
        "admin@example.com",
        "--name",
        "ci",
        "--repository",
        "libs",
        "--role",
        "reader",
    ]);
    let project = Project::new(&world.server, "libs", Credentials::Bearer(token.trim()));
    let out = project.require("acme/imported:1.1.0");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = project.require("acme/util:1.0.0");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        project.php("echo \\Acme\\Imported\\Greeter::version();"),
        "1.1.0"
    );
    assert_eq!(
        project.php("echo \\Acme\\Util\\Greeter::version();"),
        "1.0.0"
    );

    // An import again (from the command line, and from GraphQL) changes nothing.
    let job = world.env.cli_ok(&[
        "package",
        "rebuild",
        "--repository",
        "libs",
        "--package",
        "acme/imported",
    ]);
    assert!(
        uuid::Uuid::parse_str(job.trim()).is_ok(),
        "prints the job id: {job}"
    );
    world
        .gql(
            "mutation { rebuildPackage(repository: \"libs\", package: \"acme/util\") { id } }",
            json!({}),
        )
        .await;
    let refused = world.env.cli(
        &[
            "package",
            "rebuild",
            "--repository",
            "libs",
            "--package",
            "acme/none",
        ],
        None,
    );
    assert!(!refused.status.success());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = world.settled().await;
    let imported = again
        .iter()
        .find(|p| p["packageName"] == "acme/imported")
        .unwrap();
    assert!(
        imported["jobs"][0]["refs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["version"] == "1.0.0")
            .all(|r| r["status"] == "unchanged"),
        "{imported}"
    );

    // A new tag, announced by a webhook.
    project_at(&git, "1.2.0");
    git.commit("third");
    run(git.work.path(), &["tag", "v1.2.0"]);
    git.push(&["main", "--tags"]);
    let push = json!({ "ref": "refs/tags/v1.2.0", "deleted": false,
                       "repository": { "full_name": "acme/acme", "clone_url": git.url } })
    .to_string();
    let (status, body) = post_webhook(&world.server, "push", "sha256=00", &push).await;
    assert_eq!(status, 401, "a bad signature is refused: {body}");
    let (status, body) = post_webhook(&world.server, "ping", &signed(&secret, "{}"), "{}").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["queued"], json!([]));
    let (status, body) = post_webhook(&world.server, "push", &signed(&secret, &push), &push).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body["queued"].as_array().unwrap().len(),
        2,
        "both packages of the project"
    );
    world.settled().await;
    assert_eq!(
        world.versions("acme/imported").await,
        vec!["1.0.0", "1.1.0", "1.2.0", "dev-main"]
    );

    // The tag is deleted: its version goes.
    run(git.work.path(), &["tag", "-d", "v1.2.0"]);
    git.push(&[":refs/tags/v1.2.0"]);
    let deleted = json!({ "ref": "refs/tags/v1.2.0", "deleted": true,
                          "after": "0000000000000000000000000000000000000000",
                          "repository": { "clone_url": format!("{}/", git.url) } })
    .to_string();
    let (status, _) =
        post_webhook(&world.server, "push", &signed(&secret, &deleted), &deleted).await;
    assert_eq!(status, 202);
    world.settled().await;
    assert_eq!(
        world.versions("acme/imported").await,
        vec!["1.0.0", "1.1.0", "dev-main"]
    );
    let _ = &git.root;
}

#[tokio::test]
async fn an_unreachable_project_is_a_readable_failure_retried_later() {
    let world = world().await;
    world
        .gql(
            "mutation { createSource(input: { name: \"local\", provider: GIT }) { name } }",
            json!({}),
        )
        .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("git://{}/nothing.git", closed.local_addr().unwrap());
    drop(closed);
    world
        .gql(
            "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { package { project } webhook } }",
            json!({ "input": { "source": "local", "repository": "libs", "project": dead } }),
        )
        .await;
    let packages = world.settled().await;
    let job = &packages[0]["jobs"][0];
    assert_eq!(job["status"], "QUEUED", "retried later: {job}");
    assert_eq!(job["attempts"], 1);
    assert!(job["error"].as_str().unwrap().contains("fetching"), "{job}");

    // Bad input is refused before anything is queued.
    for (project, field) in [
        ("file:///etc", "project"),
        ("https://ok.example/x.git", "subdirectory"),
    ] {
        let answer = graphql(
            &world.server,
            "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { package { project } webhook } }",
            json!({ "input": { "source": "local", "repository": "libs", "project": project, "subdirectory": "../up" } }),
            Some(&world.admin),
            true,
        )
        .await;
        assert_eq!(
            answer.error_code(),
            Some("BAD_USER_INPUT"),
            "{:?}",
            answer.body
        );
        assert!(
            answer.error_message().unwrap().starts_with(field),
            "{:?}",
            answer.body
        );
    }
}

/// A job whose worker died (its lease ran out) is taken over and finished.
#[tokio::test]
async fn a_job_left_by_a_dead_worker_is_taken_over() {
    let git = GitServer::start();
    project_at(&git, "1.0.0");
    git.commit("first");
    run(git.work.path(), &["tag", "v1.0.0"]);
    git.push(&["main", "--tags"]);
    let world = world().await;
    world
        .gql(
            "mutation { createSource(input: { name: \"local\", provider: GIT }) { name } }",
            json!({}),
        )
        .await;
    world
        .gql(
            "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { webhook } }",
            json!({ "input": { "source": "local", "repository": "libs", "project": git.url } }),
        )
        .await;
    assert_eq!(world.settled().await[0]["jobs"][0]["status"], "SUCCEEDED");
    // As if a replica had claimed it and died mid-run an hour ago.
    world
        .env
        .execute_sql(
            "UPDATE jobs SET status = 'running', locked_by = 'dead-replica', progress = 40, \
             locked_at = '2020-01-01 00:00:00+00:00' WHERE kind = 'import'",
        )
        .await;
    let mut job = Value::Null;
    for _ in 0..100 {
        job = world.settled().await[0]["jobs"][0].clone();
        if job["status"] == "SUCCEEDED" && job["attempts"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(job["status"], "SUCCEEDED", "{job}");
    assert_eq!(job["attempts"], 2, "claimed again after the lease: {job}");
}
