//! Sources at GitHub, GitLab, Gitea and Bitbucket, against fixture APIs that answer as each
//! documents: "test connection" names what the token lacks, projects are listed past one
//! page and searched, adding a project creates its webhook (not on an archived project), and
//! the webhook verification uses each host's header names and schemes.

use packistry_tests::git_hosts::{FixtureHost, Host, PROJECTS};
use packistry_tests::{client, graphql, login, BrowserSession, TestEnv, TestServer};
use serde_json::{json, Value};

const TOKEN: &str = "host-token-value";

async fn setup() -> (TestEnv, TestServer, BrowserSession) {
    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "admin-password");
    env.cli_ok(&["repo", "create", "libs", "--format", "composer"]);
    let server = env.start();
    let admin = login(&server, "admin@example.com", "admin-password")
        .await
        .unwrap();
    (env, server, admin)
}

async fn gql(server: &TestServer, admin: &BrowserSession, query: &str, variables: Value) -> Value {
    let answer = graphql(server, query, variables, Some(admin), true).await;
    assert!(
        answer.body["errors"].is_null(),
        "{query}: {:?}",
        answer.body
    );
    answer.data().clone()
}

#[tokio::test]
async fn each_host_lists_projects_past_one_page_and_gets_a_webhook() {
    let (_env, server, admin) = setup().await;
    for host in Host::ALL {
        let fixture = FixtureHost::start(host, TOKEN).await;
        let name = host.graphql().to_lowercase();
        let created = gql(
            &server,
            &admin,
            "mutation($input: CreateSourceInput!) { createSource(input: $input) { name hasToken webhookUrl webhookSecret } }",
            json!({ "input": { "name": name, "provider": host.graphql(), "baseUrl": fixture.base_url, "token": TOKEN } }),
        )
        .await["createSource"]
            .clone();
        assert_eq!(created["hasToken"], true);
        let listed = gql(&server, &admin, "{ sources { name } }", json!({})).await;
        assert!(
            !listed.to_string().contains(TOKEN),
            "the token never comes back"
        );

        let tested = gql(
            &server,
            &admin,
            "query($n: String!) { testSource(name: $n) { ok account message } }",
            json!({ "n": name }),
        )
        .await["testSource"]
            .clone();
        assert_eq!(tested["ok"], true, "{host:?}: {tested}");
        assert_eq!(tested["account"], "acme-bot", "{host:?}");

        // Every project, page after page.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..20 {
            let page = gql(
                &server,
                &admin,
                "query($n: String!, $a: String) { sourceProjects(name: $n, after: $a) { projects { path archived } next } }",
                json!({ "n": name, "a": after }),
            )
            .await["sourceProjects"]
                .clone();
            for p in page["projects"].as_array().unwrap() {
                seen.push(p["path"].as_str().unwrap().to_owned());
            }
            after = page["next"].as_str().map(str::to_owned);
            if after.is_none() {
                break;
            }
        }
        assert_eq!(
            seen.len(),
            PROJECTS + 1,
            "{host:?}: all projects over several pages"
        );
        assert!(seen.contains(&"acme/lib-149".to_owned()));
        let searched = gql(
            &server,
            &admin,
            "query($n: String!) { sourceProjects(name: $n, search: \"lib-12\") { projects { path } } }",
            json!({ "n": name }),
        )
        .await;
        let found: Vec<&str> = searched["sourceProjects"]["projects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["path"].as_str())
            .collect();
        assert!(
            found.contains(&"acme/lib-120") && found.iter().all(|p| p.contains("lib-12")),
            "{host:?}: {found:?}"
        );

        // Adding a project creates its webhook with this source's URL and secret.
        let added = gql(
            &server,
            &admin,
            "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { package { project } webhook } }",
            json!({ "input": { "source": name, "repository": "libs", "project": "acme/lib-007" } }),
        )
        .await["addSourcePackage"]
            .clone();
        assert_eq!(added["webhook"], "webhook created", "{host:?}");
        let hooks = fixture.hooks();
        assert_eq!(hooks.len(), 1, "{host:?}");
        assert_eq!(hooks[0].0, "acme/lib-007");
        let body = hooks[0].1.to_string();
        assert!(
            body.contains(created["webhookUrl"].as_str().unwrap()),
            "{host:?}: {body}"
        );
        assert!(
            body.contains(created["webhookSecret"].as_str().unwrap()),
            "{host:?}: {body}"
        );

        if host != Host::Bitbucket {
            let old = gql(
                &server,
                &admin,
                "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { webhook } }",
                json!({ "input": { "source": name, "repository": "libs", "project": "acme/old" } }),
            )
            .await;
            assert!(
                old["addSourcePackage"]["webhook"]
                    .as_str()
                    .unwrap()
                    .contains("archived"),
                "{host:?}: {old}"
            );
            assert_eq!(
                fixture.hooks().len(),
                1,
                "no webhook on an archived project"
            );
        }
    }
}

#[tokio::test]
async fn test_connection_says_what_the_token_lacks() {
    let (_env, server, admin) = setup().await;
    for (host, scopes, expected) in [
        (Host::Github, vec!["read:user"], "repo scope"),
        (Host::Gitlab, vec!["read_user"], "needs api"),
    ] {
        let fixture = FixtureHost::start(host, TOKEN).await;
        fixture.set_scopes(&scopes);
        let name = format!("{}-narrow", host.graphql().to_lowercase());
        gql(
            &server,
            &admin,
            "mutation($input: CreateSourceInput!) { createSource(input: $input) { name } }",
            json!({ "input": { "name": name, "provider": host.graphql(), "baseUrl": fixture.base_url, "token": TOKEN } }),
        )
        .await;
        let tested = gql(
            &server,
            &admin,
            "query($n: String!) { testSource(name: $n) { ok message } }",
            json!({ "n": name }),
        )
        .await["testSource"]
            .clone();
        assert_eq!(tested["ok"], false, "{host:?}");
        assert!(
            tested["message"].as_str().unwrap().contains(expected),
            "{host:?}: {tested}"
        );
    }
    // A revoked token, and a host that does not answer.
    let fixture = FixtureHost::start(Host::Gitea, "another-token").await;
    gql(
        &server,
        &admin,
        "mutation($input: CreateSourceInput!) { createSource(input: $input) { name } }",
        json!({ "input": { "name": "revoked", "provider": "GITEA", "baseUrl": fixture.base_url, "token": TOKEN } }),
    )
    .await;
    let tested = gql(
        &server,
        &admin,
        "{ testSource(name: \"revoked\") { ok message } }",
        json!({}),
    )
    .await;
    assert_eq!(tested["testSource"]["ok"], false);
    assert!(tested["testSource"]["message"]
        .as_str()
        .unwrap()
        .contains("refused the token"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    gql(
        &server,
        &admin,
        "mutation($input: CreateSourceInput!) { createSource(input: $input) { name } }",
        json!({ "input": { "name": "dead", "provider": "GITEA", "baseUrl": dead, "token": TOKEN } }),
    )
    .await;
    let tested = gql(
        &server,
        &admin,
        "{ testSource(name: \"dead\") { ok message } }",
        json!({}),
    )
    .await;
    assert!(
        tested["testSource"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{tested}"
    );
}

/// Each host's webhook headers: a correct one queues, a wrong one is 401.
#[tokio::test]
async fn webhooks_are_verified_with_each_hosts_headers() {
    use hmac::{Hmac, Mac};
    let (_env, server, admin) = setup().await;
    for host in Host::ALL {
        let fixture = FixtureHost::start(host, TOKEN).await;
        let name = host.graphql().to_lowercase();
        let secret = gql(
            &server,
            &admin,
            "mutation($input: CreateSourceInput!) { createSource(input: $input) { webhookSecret } }",
            json!({ "input": { "name": name, "provider": host.graphql(), "baseUrl": fixture.base_url, "token": TOKEN } }),
        )
        .await["createSource"]["webhookSecret"]
            .as_str()
            .unwrap()
            .to_owned();
        gql(
            &server,
            &admin,
            "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { webhook } }",
            json!({ "input": { "source": name, "repository": "libs", "project": "acme/lib-001" } }),
        )
        .await;
        let (event_header, event, body) = match host {
            Host::Github => (
                "x-github-event",
                "push",
                json!({ "ref": "refs/tags/v1.0.0", "repository": { "full_name": "acme/lib-001" } }),
            ),
            Host::Gitea => (
                "x-gitea-event",
                "push",
                json!({ "ref": "refs/tags/v1.0.0", "repository": { "full_name": "acme/lib-001" } }),
            ),
            Host::Gitlab => (
                "x-gitlab-event",
                "Tag Push Hook",
                json!({ "ref": "refs/tags/v1.0.0", "after": "abc", "project": { "path_with_namespace": "acme/lib-001" } }),
            ),
            Host::Bitbucket => (
                "x-event-key",
                "repo:push",
                json!({ "repository": { "full_name": "acme/lib-001" }, "push": { "changes": [{ "new": { "type": "tag", "name": "v1.0.0" }, "old": null }] } }),
            ),
        };
        let body = body.to_string();
        let sign = |key: &str| {
            let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            mac.finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let auth = |key: &str| -> (&'static str, String) {
            match host {
                Host::Github => ("x-hub-signature-256", format!("sha256={}", sign(key))),
                Host::Gitea => ("x-gitea-signature", sign(key)),
                Host::Gitlab => ("x-gitlab-token", key.to_owned()),
                Host::Bitbucket => ("x-hub-signature", format!("sha256={}", sign(key))),
            }
        };
        for (key, expected) in [("wrong-secret", 401), (secret.as_str(), 202)] {
            let (header, value) = auth(key);
            let response = client()
                .post(server.url(&format!("/incoming/{name}/{name}")))
                .header(event_header, event)
                .header(header, value)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), expected, "{host:?} with {key}");
            if expected == 202 {
                let answer: Value = response.json().await.unwrap();
                assert_eq!(
                    answer["queued"].as_array().unwrap().len(),
                    1,
                    "{host:?}: {answer}"
                );
            }
        }
    }
}

/// A served project: `acme/lib-007` at the root and `acme/util` in `packages/util`, tag
/// v1.0.0 and branch main.
fn serve_project() -> tempfile::TempDir {
    use packistry_tests::git::{run, write};
    let root = tempfile::tempdir().unwrap();
    let bare = root.path().join("acme/lib-007.git");
    std::fs::create_dir_all(&bare).unwrap();
    run(
        &bare,
        &["init", "--bare", "--quiet", "--initial-branch=main"],
    );
    let work = tempfile::tempdir().unwrap();
    run(work.path(), &["init", "--quiet", "--initial-branch=main"]);
    write(work.path(), "composer.json", r#"{"name":"acme/lib-007"}"#);
    write(
        work.path(),
        "packages/util/composer.json",
        r#"{"name":"acme/util"}"#,
    );
    write(work.path(), "packages/util/src/Util.php", "<?php\n");
    run(work.path(), &["add", "-A"]);
    run(
        work.path(),
        &[
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@example.com",
            "commit",
            "--quiet",
            "-m",
            "one",
        ],
    );
    run(work.path(), &["tag", "-a", "v1.0.0", "-m", "release"]);
    run(
        work.path(),
        &["push", "--quiet", bare.to_str().unwrap(), "main", "--tags"],
    );
    root
}

async fn wait_for_jobs(
    server: &TestServer,
    admin: &BrowserSession,
    repository: &str,
) -> Vec<Value> {
    let mut jobs = Value::Null;
    for _ in 0..300 {
        jobs = gql(
            server,
            admin,
            "query($r: String!) { importedPackages(repository: $r) { source subdirectory packageName jobs(first: 1) { status error attempts refs { ref status version reason } } } }",
            json!({ "r": repository }),
        )
        .await;
        let ended = jobs["importedPackages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| {
                matches!(
                    p["jobs"][0]["status"].as_str(),
                    Some("SUCCEEDED" | "FAILED")
                )
            });
        if ended {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    jobs["importedPackages"].as_array().unwrap().clone()
}

/// Imports go through each host's API: refs from its tags and branches lists, the dist from
/// its archive (GitHub's through the redirect to its download host, without credentials),
/// a monorepo subdirectory cut out of it; a refused token fails for good.
#[tokio::test]
async fn imports_through_each_hosts_api() {
    let root = serve_project();
    let (_env, server, admin) = setup().await;
    for host in Host::ALL {
        let fixture = FixtureHost::start(host, TOKEN).await;
        fixture.serve_git(root.path());
        let repository = format!("libs-{}", host.graphql().to_lowercase());
        gql(
            &server,
            &admin,
            "mutation($n: String!) { createRepository(input: { name: $n, format: COMPOSER }) { name } }",
            json!({ "n": repository }),
        )
        .await;
        for (name, token, subdirectory) in [
            ("good", TOKEN, None),
            ("mono", TOKEN, Some("packages/util")),
            ("revoked", "revoked-token", None),
        ] {
            let source = format!("{}-{name}", host.graphql().to_lowercase());
            gql(
                &server,
                &admin,
                "mutation($input: CreateSourceInput!) { createSource(input: $input) { name } }",
                json!({ "input": { "name": source, "provider": host.graphql(), "baseUrl": fixture.base_url, "token": token } }),
            )
            .await;
            gql(
                &server,
                &admin,
                "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { webhook } }",
                json!({ "input": { "source": source, "repository": repository, "project": "acme/lib-007", "subdirectory": subdirectory } }),
            )
            .await;
        }
        let packages = wait_for_jobs(&server, &admin, &repository).await;
        let by = |suffix: &str| {
            packages
                .iter()
                .find(|p| p["source"].as_str().unwrap().ends_with(suffix))
                .unwrap()
                .clone()
        };
        for (suffix, package) in [("-good", "acme/lib-007"), ("-mono", "acme/util")] {
            let imported = by(suffix);
            assert_eq!(
                imported["jobs"][0]["status"],
                "SUCCEEDED",
                "{host:?}: {imported}\n{}",
                server.logs()
            );
            assert_eq!(imported["packageName"], package, "{host:?}: {imported}");
            let refs = imported["jobs"][0]["refs"].to_string();
            assert!(
                refs.contains("\"1.0.0\"") && refs.contains("dev-main"),
                "{host:?}: {refs}"
            );
        }
        let revoked = by("-revoked");
        assert_eq!(
            revoked["jobs"][0]["status"], "FAILED",
            "{host:?}: {revoked}"
        );
        assert!(
            revoked["jobs"][0]["error"]
                .as_str()
                .unwrap()
                .contains("refused the source's token"),
            "{host:?}: {revoked}"
        );
    }
    assert!(
        !server.logs().contains(TOKEN),
        "the token never reaches the log"
    );
}

/// A rate limit is waited out (the host's Retry-After, at least the backoff) and the import
/// then succeeds; a corrupt archive is a readable failure on the ref and the job.
#[tokio::test]
async fn rate_limits_are_waited_out_and_corrupt_archives_reported() {
    let root = serve_project();
    let (_env, server, admin) = setup().await;
    let fixture = FixtureHost::start(Host::Github, TOKEN).await;
    fixture.serve_git(root.path());
    fixture.rate_limit_once();
    gql(
        &server,
        &admin,
        "mutation($input: CreateSourceInput!) { createSource(input: $input) { name } }",
        json!({ "input": { "name": "hub", "provider": "GITHUB", "baseUrl": fixture.base_url, "token": TOKEN } }),
    )
    .await;
    gql(
        &server,
        &admin,
        "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { webhook } }",
        json!({ "input": { "source": "hub", "repository": "libs", "project": "acme/lib-007" } }),
    )
    .await;
    // The first run meets the limit and is queued again; the second succeeds.
    let mut seen_wait = false;
    let mut last = Value::Null;
    for _ in 0..200 {
        let packages = gql(
            &server,
            &admin,
            "{ importedPackages(repository: \"libs\") { jobs(first: 1) { status error attempts } } }",
            json!({}),
        )
        .await;
        last = packages["importedPackages"][0]["jobs"][0].clone();
        if last["status"] == "QUEUED" && last["attempts"] == 1 {
            assert!(
                last["error"].as_str().unwrap().contains("rate limiting"),
                "{last}"
            );
            seen_wait = true;
        }
        if last["status"] == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        seen_wait,
        "the rate limit was reported while waiting: {last}"
    );
    assert_eq!(last["status"], "SUCCEEDED", "{last}");
    assert_eq!(last["attempts"], 2);

    // A corrupt archive: the ref fails with the reason, and so does the job.
    fixture.set_corrupt(true);
    gql(
        &server,
        &admin,
        "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { webhook } }",
        json!({ "input": { "source": "hub", "repository": "libs", "project": "acme/lib-007", "subdirectory": "packages/util" } }),
    )
    .await;
    let packages = wait_for_jobs(&server, &admin, "libs").await;
    let mono = packages
        .iter()
        .find(|p| p["subdirectory"] == "packages/util")
        .unwrap();
    assert_eq!(mono["jobs"][0]["status"], "FAILED", "{mono}");
    assert!(
        mono["jobs"][0]["error"]
            .as_str()
            .unwrap()
            .contains("refs failed"),
        "{mono}"
    );
    assert!(
        mono["jobs"][0]["refs"].to_string().contains("unusable"),
        "{mono}"
    );
}

/// An archive over the upload limit fails its ref with the reason; nothing is published.
#[tokio::test]
async fn an_archive_over_the_upload_limit_is_refused() {
    let root = serve_project();
    let env = TestEnv::new().with_env("PACKISTRY_MAX_BODY_SIZE", "200");
    env.create_user("admin@example.com", "admin", "admin-password");
    env.cli_ok(&["repo", "create", "libs", "--format", "composer"]);
    let server = env.start();
    let admin = login(&server, "admin@example.com", "admin-password")
        .await
        .unwrap();
    let fixture = FixtureHost::start(Host::Gitea, TOKEN).await;
    fixture.serve_git(root.path());
    gql(
        &server,
        &admin,
        "mutation($input: CreateSourceInput!) { createSource(input: $input) { name } }",
        json!({ "input": { "name": "tea", "provider": "GITEA", "baseUrl": fixture.base_url, "token": TOKEN } }),
    )
    .await;
    gql(
        &server,
        &admin,
        "mutation($input: AddSourcePackageInput!) { addSourcePackage(input: $input) { webhook } }",
        json!({ "input": { "source": "tea", "repository": "libs", "project": "acme/lib-007" } }),
    )
    .await;
    let packages = wait_for_jobs(&server, &admin, "libs").await;
    let job = &packages[0]["jobs"][0];
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(
        job["refs"]
            .to_string()
            .contains("larger than the upload limit"),
        "{job}"
    );
    let listed = gql(
        &server,
        &admin,
        "{ packages(repository: \"libs\") { edges { node { name } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        listed["packages"]["edges"],
        json!([]),
        "nothing published: {listed}"
    );
}
