//! Composer repositories with the real composer client: private installs with http-basic and
//! bearer credentials, package-limited deploy tokens, refused uploads, concurrent uploads,
//! conditional metadata.

use packistry_tests::composer::{
    self, output_text, package_zip, upload, zip_of, Credentials, Project,
};
use packistry_tests::{client, files_under, revoke_own_token, TestEnv, TestServer};
use serde_json::{json, Value};

/// A private composer repository `libs`, an uploader's token, and a reader's token.
struct Setup {
    env: TestEnv,
    server: TestServer,
    uploader: String,
    reader: String,
}

fn setup(env: TestEnv) -> Setup {
    env.cli_ok(&["repo", "create", "libs", "--format", "composer"]);
    env.create_user("dev@example.com", "user", "dev-password-1");
    env.create_user("reader@example.com", "user", "reader-password-1");
    env.cli_ok(&[
        "grant",
        "--repository",
        "libs",
        "--user",
        "dev@example.com",
        "--role",
        "uploader",
    ]);
    env.cli_ok(&[
        "grant",
        "--repository",
        "libs",
        "--user",
        "reader@example.com",
        "--role",
        "reader",
    ]);
    let uploader = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "dev@example.com",
        "--name",
        "ci",
        "--repository",
        "libs",
        "--role",
        "uploader",
    ]);
    let reader = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "reader@example.com",
        "--name",
        "app",
        "--repository",
        "libs",
        "--role",
        "reader",
    ]);
    let server = env.start();
    Setup {
        env,
        server,
        uploader,
        reader,
    }
}

async fn get(server: &TestServer, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn publish(s: &Setup, package: &str, version: &str) {
    let (status, body) = upload(
        &s.server,
        "libs",
        package,
        package_zip(package, version, json!({})),
        Some(version),
        Some(&s.uploader),
    )
    .await;
    assert_eq!(status, 201, "upload {package} {version}: {body}");
}

#[tokio::test]
async fn composer_installs_from_a_private_repository() {
    if !composer::available() {
        return;
    }
    let s = setup(TestEnv::new());
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        publish(&s, "acme/hello", version).await;
    }

    for (label, credentials) in [
        ("http-basic", Credentials::HttpBasic(&s.reader)),
        ("bearer", Credentials::Bearer(&s.reader)),
    ] {
        let project = Project::new(&s.server, "libs", credentials);
        let out = project.require("acme/hello:^1.0");
        assert!(out.status.success(), "{label}: {}", output_text(&out));
        assert_eq!(
            project.php(r"echo Acme\Hello\Greeter::version();"),
            "1.1.0",
            "{label} installs the newest 1.x"
        );
        let lock: Value =
            serde_json::from_slice(&std::fs::read(project.path().join("composer.lock")).unwrap())
                .unwrap();
        assert_eq!(lock["packages"][0]["version"], "1.1.0");
        assert!(lock["packages"][0]["dist"]["shasum"]
            .as_str()
            .is_some_and(|s| s.len() == 40));
    }

    let anonymous = Project::new(&s.server, "libs", Credentials::None);
    let out = anonymous.require("acme/hello:^1.0");
    assert!(!out.status.success(), "no credentials must fail");
    let text = output_text(&out).to_lowercase();
    assert!(
        text.contains("authentication") || text.contains("401"),
        "composer reports an authentication error: {text}"
    );
    let wrong = Project::new(
        &s.server,
        "libs",
        Credentials::Bearer("pkpat-not-a-real-token"),
    );
    assert!(!wrong.require("acme/hello:^1.0").status.success());
}

#[tokio::test]
async fn a_package_limited_deploy_token_sees_only_its_packages() {
    if !composer::available() {
        return;
    }
    let s = setup(TestEnv::new());
    publish(&s, "acme/visible", "1.0.0").await;
    publish(&s, "acme/hidden", "1.0.0").await;
    let deploy = s.env.cli_ok(&[
        "token",
        "create-deploy",
        "--name",
        "one-package",
        "--repository",
        "libs",
        "--package",
        "acme/visible",
        "--role",
        "developer",
    ]);

    let (status, body) = get(&s.server, "/composer/libs/packages.json", Some(&deploy)).await;
    assert_eq!(status, 200);
    let packages: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(packages["available-packages"], json!(["acme/visible"]));
    let (_, list) = get(&s.server, "/composer/libs/list.json", Some(&deploy)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&list).unwrap()["packageNames"],
        json!(["acme/visible"])
    );
    let (_, search) = get(
        &s.server,
        "/composer/libs/search.json?q=acme",
        Some(&deploy),
    )
    .await;
    let search: Value = serde_json::from_str(&search).unwrap();
    assert_eq!(search["total"], 1);
    assert_eq!(search["results"][0]["name"], "acme/visible");

    // Outside the limit is exactly like not existing.
    let hidden = get(
        &s.server,
        "/composer/libs/p2/acme/hidden.json",
        Some(&deploy),
    )
    .await;
    let missing = get(
        &s.server,
        "/composer/libs/p2/acme/nothing.json",
        Some(&deploy),
    )
    .await;
    assert_eq!(hidden.0, 404);
    assert_eq!(
        hidden.1.replace("hidden", "X"),
        missing.1.replace("nothing", "X")
    );
    let dist = get(
        &s.server,
        "/composer/libs/dists/acme/hidden/1.0.0.zip",
        Some(&deploy),
    )
    .await;
    assert_eq!(dist.0, 404);

    let project = Project::new(&s.server, "libs", Credentials::HttpBasic(&deploy));
    let out = project.require("acme/hidden:^1.0");
    assert!(!out.status.success(), "{}", output_text(&out));
    let out = project.require("acme/visible:^1.0");
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(
        project.php(r"echo Acme\Visible\Greeter::version();"),
        "1.0.0"
    );
}

#[tokio::test]
async fn refused_uploads_leave_nothing_behind() {
    let s = setup(TestEnv::new().with_env("PACKISTRY_MAX_BODY_SIZE", "1048576"));
    let good = package_zip("acme/pkg", "1.0.0", json!({}));
    let composer_json = |name: &str| json!({ "name": name }).to_string().into_bytes();
    let bomb = {
        let zeros = vec![0u8; 4 * 1024 * 1024];
        zip_of(&[
            ("composer.json", &composer_json("acme/pkg")),
            ("zeros.bin", &zeros),
        ])
    };
    let mut random = Vec::with_capacity(2 * 1024 * 1024);
    let mut x: u64 = 0x9E3779B97F4A7C15;
    while random.len() < 2 * 1024 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.extend_from_slice(&x.to_le_bytes());
    }
    let oversized = zip_of(&[
        ("composer.json", &composer_json("acme/pkg")),
        ("noise.bin", &random),
    ]);
    // (what, archive, version field, expected status, words the message must hold)
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "not a zip",
            b"plain text".to_vec(),
            Some("1.0.0"),
            400,
            "not a zip",
        ),
        (
            "no composer.json",
            zip_of(&[("src/A.php", b"<?php")]),
            Some("1.0.0"),
            400,
            "no composer.json",
        ),
        (
            "invalid JSON",
            zip_of(&[("composer.json", b"{\"name\": ")]),
            Some("1.0.0"),
            400,
            "not valid json",
        ),
        (
            "another name",
            zip_of(&[("composer.json", &composer_json("acme/other"))]),
            Some("1.0.0"),
            400,
            "acme/other",
        ),
        (
            "invalid version",
            good.clone(),
            Some("banana"),
            400,
            "invalid version",
        ),
        ("no version", good.clone(), None, 400, "no version"),
        (
            "dot-dot entry",
            zip_of(&[
                ("composer.json", &composer_json("acme/pkg")),
                ("../evil.php", b"x"),
            ]),
            Some("1.0.0"),
            400,
            "unsafe path",
        ),
        (
            "absolute entry",
            zip_of(&[
                ("composer.json", &composer_json("acme/pkg")),
                ("/etc/evil", b"x"),
            ]),
            Some("1.0.0"),
            400,
            "unsafe path",
        ),
        ("zip bomb", bomb, Some("1.0.0"), 400, "zip bomb"),
        (
            "over the size limit",
            oversized,
            Some("1.0.0"),
            413,
            "too large",
        ),
    ];
    for (label, zip, version, status, message) in cases {
        let (got, body) = upload(
            &s.server,
            "libs",
            "acme/pkg",
            zip,
            version,
            Some(&s.uploader),
        )
        .await;
        assert_eq!(got, status, "{label}: {body}");
        assert!(
            body.to_lowercase().contains(message),
            "{label}: \"{body}\" should mention \"{message}\""
        );
    }

    // Who may not upload at all.
    let (status, _) = upload(
        &s.server,
        "libs",
        "acme/pkg",
        good.clone(),
        Some("1.0.0"),
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = upload(
        &s.server,
        "libs",
        "acme/pkg",
        good.clone(),
        Some("1.0.0"),
        Some("pkpat-wrong"),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = upload(
        &s.server,
        "libs",
        "acme/pkg",
        good.clone(),
        Some("1.0.0"),
        Some(&s.reader),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = upload(
        &s.server,
        "nowhere",
        "acme/pkg",
        good.clone(),
        Some("1.0.0"),
        Some(&s.uploader),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = upload(
        &s.server,
        "libs",
        "Acme/Bad Name",
        good.clone(),
        Some("1.0.0"),
        Some(&s.uploader),
    )
    .await;
    assert_eq!(status, 400);
    let response = client()
        .post(s.server.url("/composer/libs/acme/pkg"))
        .bearer_auth(&s.uploader)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);

    // Nothing was stored: no package, no blob, no staging file.
    let (status, _) = get(&s.server, "/composer/libs/list.json", Some(&s.uploader)).await;
    assert_eq!(status, 403, "an uploader may not list");
    let admin_token = {
        s.env
            .create_user("admin@example.com", "admin", "admin-password-1");
        s.env.cli_ok(&[
            "token",
            "create",
            "--user",
            "admin@example.com",
            "--name",
            "a",
            "--all-repositories",
            "--role",
            "administrator",
        ])
    };
    let (_, list) = get(&s.server, "/composer/libs/list.json", Some(&admin_token)).await;
    assert_eq!(list, r#"{"packageNames":[]}"#);
    let data = s.env.data_dir.path();
    assert_eq!(
        files_under(&data.join("blobs").join("sha256")),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        files_under(&data.join("tmp")),
        Vec::<std::path::PathBuf>::new()
    );

    // The good archive goes in; the same version again is a conflict.
    let (status, body) = upload(
        &s.server,
        "libs",
        "acme/pkg",
        good.clone(),
        Some("1.0.0"),
        Some(&s.uploader),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = upload(
        &s.server,
        "libs",
        "acme/pkg",
        good,
        Some("1.0.0"),
        Some(&s.uploader),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(files_under(&data.join("blobs").join("sha256")).len(), 1);
}

#[tokio::test]
async fn concurrent_uploads_of_one_package_all_land() {
    let s = setup(TestEnv::new());
    let versions: Vec<String> = (0..8).map(|i| format!("1.{i}.0")).collect();
    let uploads = versions.iter().map(|version| {
        let zip = package_zip("acme/busy", version, json!({}));
        let server = &s.server;
        let token = s.uploader.clone();
        async move {
            upload(
                server,
                "libs",
                "acme/busy",
                zip,
                Some(version),
                Some(&token),
            )
            .await
        }
    });
    for (status, body) in futures_util::future::join_all(uploads).await {
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = get(
        &s.server,
        "/composer/libs/p2/acme/busy.json",
        Some(&s.reader),
    )
    .await;
    assert_eq!(status, 200);
    let document: Value = serde_json::from_str(&body).unwrap();
    let listed: Vec<&str> = document["packages"]["acme/busy"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    let mut expected: Vec<&str> = versions.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(listed, expected, "all versions, newest first");
}

#[tokio::test]
async fn metadata_is_conditional_and_split_by_stability() {
    let s = setup(TestEnv::new());
    publish(&s, "acme/lib", "1.0.0").await;
    publish(&s, "acme/lib", "dev-main").await;
    publish(&s, "acme/lib", "2.x-dev").await;

    let (_, tagged) = get(
        &s.server,
        "/composer/libs/p2/acme/lib.json",
        Some(&s.reader),
    )
    .await;
    let tagged: Value = serde_json::from_str(&tagged).unwrap();
    assert_eq!(tagged["minified"], "composer/2.0");
    assert_eq!(tagged["packages"]["acme/lib"].as_array().unwrap().len(), 1);
    let first = &tagged["packages"]["acme/lib"][0];
    assert_eq!(first["version_normalized"], "1.0.0.0");
    assert_eq!(first["license"], "MIT");
    assert_eq!(first["autoload"]["psr-4"]["Acme\\Lib\\"], "src/");
    assert!(first["dist"]["url"]
        .as_str()
        .unwrap()
        .starts_with(&s.server.url("/composer/libs/dists/")));
    let (_, dev) = get(
        &s.server,
        "/composer/libs/p2/acme/lib~dev.json",
        Some(&s.reader),
    )
    .await;
    let dev: Value = serde_json::from_str(&dev).unwrap();
    let normalized: Vec<&str> = dev["packages"]["acme/lib"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["version_normalized"].as_str())
        .collect();
    assert_eq!(normalized, ["2.9999999.9999999.9999999-dev", "dev-main"]);

    // The Packistry-compatible prefix serves the same, with its own URLs.
    let (status, body) = get(&s.server, "/r/libs/p2/acme/lib.json", Some(&s.reader)).await;
    assert_eq!(status, 200);
    assert!(body.contains("/r/libs/dists/acme/lib/1.0.0.zip"), "{body}");

    for path in [
        "/composer/libs/packages.json",
        "/composer/libs/p2/acme/lib.json",
        "/composer/libs/p2/acme/lib~dev.json",
    ] {
        let response = client()
            .get(s.server.url(path))
            .bearer_auth(&s.reader)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let last_modified = response.headers()["last-modified"]
            .to_str()
            .unwrap()
            .to_owned();
        let again = client()
            .get(s.server.url(path))
            .bearer_auth(&s.reader)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{path} by ETag");
        let again = client()
            .get(s.server.url(path))
            .bearer_auth(&s.reader)
            .header("if-modified-since", &last_modified)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{path} by date");
    }

    let (status, _) = get(
        &s.server,
        "/composer/libs/p2/acme/unknown.json",
        Some(&s.reader),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(&s.server, "/composer/libs/p2/acme/lib.xml", Some(&s.reader)).await;
    assert_eq!(status, 404);

    // A dist download is the uploaded archive.
    let (status, body) = get(
        &s.server,
        "/composer/libs/dists/acme/lib/1.0.0.zip",
        Some(&s.reader),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.starts_with("PK"));
}

/// Our port of `VersionParser::normalize` against Composer's own, on the same inputs.
#[test]
fn version_normalization_matches_composers_own() {
    if !composer::available() {
        return;
    }
    let inputs = [
        "1.0.0",
        "1.2",
        "v1.0.0",
        "1.0.0-beta1",
        "v2.0.0-RC2",
        "1.0.0-alpha.3.1+foo",
        "1.0.0rc1",
        "1.0.0.pl3-dev",
        "10.4.13beta.2",
        "2.x-dev",
        "2.3.x-dev",
        "dev-main",
        "dev-feature/foo",
        "master",
        "1.0-dev",
        "2010.01",
        "2010-01-02",
        "20100102-203040-p1",
        "201903.0",
        "1.0.0@dev",
        "1.0.0 as 2.0",
        "99999",
        "0",
        "1.0.0-stable",
        "v1.0.0-patch1",
        "1.0.0b2",
        "1.0.0a",
        "banana",
        "1.0.0.0.0",
        "1.0 foo",
        "feature-x",
        "1.0.0-meh",
        "",
    ];
    let script = "require '/usr/share/php/Composer/Semver/autoload.php';\
        $p = new Composer\\Semver\\VersionParser();\
        foreach (json_decode(stream_get_contents(STDIN)) as $v) {\
          try { echo $p->normalize($v), \"\\n\"; } catch (Exception $e) { echo \"!\\n\"; } }";
    let mut child = std::process::Command::new("php")
        .args(["-r", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("php runs");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(serde_json::to_string(&inputs.to_vec()).unwrap().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(theirs.len(), inputs.len(), "php answered every input");
    for (input, expected) in inputs.iter().zip(theirs) {
        let ours = packistry_server::formats::composer::version::normalize(input)
            .unwrap_or_else(|_| "!".to_owned());
        assert_eq!(ours, expected, "normalize({input:?})");
    }
}

async fn graphql_token(server: &TestServer, token: &str, query: &str, variables: Value) -> Value {
    client()
        .post(server.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn packages_through_graphql_upload_browse_count_and_delete() {
    let s = setup(TestEnv::new());
    s.env
        .create_user("admin@example.com", "admin", "admin-password-1");
    let admin = s.env.cli_ok(&[
        "token",
        "create",
        "--user",
        "admin@example.com",
        "--name",
        "a",
        "--all-repositories",
        "--role",
        "administrator",
    ]);

    // Upload through GraphQL's multipart request (the SPA's way).
    let operations = json!({
        "query": "mutation($file: Upload!) { uploadComposerPackage(repository: \"libs\", file: $file, version: \"1.0.0\") { package version stability files { sha256 size } } }",
        "variables": { "file": null },
    });
    let zip = package_zip(
        "acme/graph",
        "1.0.0",
        json!({ "require": { "php": ">=8.1", "psr/log": "^3.0" }, "require-dev": { "phpunit/phpunit": "^10" } }),
    );
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({ "0": ["variables.file"] }).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(zip).file_name("graph.zip"),
        );
    let answer: Value = client()
        .post(s.server.url("/graphql"))
        .bearer_auth(&s.uploader)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["data"]["uploadComposerPackage"]["package"], "acme/graph",
        "{answer}"
    );
    assert_eq!(
        answer["data"]["uploadComposerPackage"]["stability"],
        "stable"
    );
    publish(&s, "acme/graph", "1.1.0").await;

    // Multipart without a token or CSRF header is refused (a cross-site form could send it).
    let form = reqwest::multipart::Form::new().text("operations", operations.to_string());
    let refused = client()
        .post(s.server.url("/graphql"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    let list = graphql_token(
        &s.server,
        &admin,
        "{ packages(repository: \"libs\") { edges { node { name latestVersion versionCount } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        list["data"]["packages"]["edges"][0]["node"],
        json!({ "name": "acme/graph", "latestVersion": "1.1.0", "versionCount": 2 }),
        "{list}"
    );

    // Install once, so the download is counted (batched, so wait for the flush). Composer
    // also posts notify-batch afterwards: the same install must not count twice.
    if composer::available() {
        let project = Project::new(&s.server, "libs", Credentials::Bearer(&s.reader));
        let out = project.require("acme/graph:1.1.0");
        assert!(out.status.success(), "{}", output_text(&out));
    } else {
        let (status, _) = get(
            &s.server,
            "/composer/libs/dists/acme/graph/1.1.0.zip",
            Some(&s.reader),
        )
        .await;
        assert_eq!(status, 200);
    }
    let query = "{ package(repository: \"libs\", name: \"acme/graph\") { totalDownloads downloads(days: 7) { day count } versions { version downloads readmeHtml requires { name constraint } devRequires { name } files { url } } } }";
    let mut package = Value::Null;
    for _ in 0..40 {
        package = graphql_token(&s.server, &s.reader, query, json!({})).await;
        if package["data"]["package"]["totalDownloads"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let package = &package["data"]["package"];
    assert_eq!(package["totalDownloads"], 1, "{package}");
    assert_eq!(package["downloads"].as_array().unwrap().len(), 7);
    assert_eq!(package["downloads"][6]["count"], 1, "today's count");
    assert_eq!(package["versions"][0]["version"], "1.1.0");
    assert_eq!(package["versions"][0]["downloads"], 1);
    assert!(package["versions"][1]["readmeHtml"]
        .as_str()
        .unwrap()
        .contains("<h1>acme/graph</h1>"));
    assert!(package["versions"][1]["requires"]
        .as_array()
        .unwrap()
        .contains(&json!({ "name": "psr/log", "constraint": "^3.0" })));
    assert_eq!(
        package["versions"][1]["devRequires"][0]["name"],
        "phpunit/phpunit"
    );
    if composer::available() {
        assert!(
            s.server.logs().contains("/composer/libs/downloads"),
            "composer reported the install through notify-batch"
        );
    }

    // An install served from a client's cache is known only from notify-batch.
    let notified = client()
        .post(s.server.url("/composer/libs/downloads"))
        .bearer_auth(&s.reader)
        .json(&json!({ "downloads": [{ "name": "acme/graph", "version": "1.0.0.0" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(notified.status().as_u16(), 200);
    let mut total = Value::Null;
    for _ in 0..40 {
        total = graphql_token(
            &s.server,
            &s.reader,
            "{ package(repository: \"libs\", name: \"acme/graph\") { totalDownloads } }",
            json!({}),
        )
        .await;
        if total["data"]["package"]["totalDownloads"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(total["data"]["package"]["totalDownloads"], 2, "{total}");

    // Deleting needs the administrator role; the metadata changes at once.
    let delete = "mutation { deletePackageVersion(repository: \"libs\", package: \"acme/graph\", version: \"1.1.0\") }";
    let denied = graphql_token(&s.server, &s.uploader, delete, json!({})).await;
    assert_eq!(
        denied["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{denied}"
    );
    let deleted = graphql_token(&s.server, &admin, delete, json!({})).await;
    assert_eq!(deleted["data"]["deletePackageVersion"], true, "{deleted}");
    let (_, body) = get(
        &s.server,
        "/composer/libs/p2/acme/graph.json",
        Some(&s.reader),
    )
    .await;
    let document: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        document["packages"]["acme/graph"].as_array().unwrap().len(),
        1
    );
    assert_eq!(document["packages"]["acme/graph"][0]["version"], "1.0.0");

    let gone = graphql_token(
        &s.server,
        &admin,
        "mutation { deletePackage(repository: \"libs\", package: \"acme/graph\") }",
        json!({}),
    )
    .await;
    assert_eq!(gone["data"]["deletePackage"], true, "{gone}");
    let (status, _) = get(
        &s.server,
        "/composer/libs/p2/acme/graph.json",
        Some(&s.reader),
    )
    .await;
    assert_eq!(status, 404);
}

/// p2 answers are repeated to the same credentials for a moment, but an upload, a revoked
/// grant or a revoked token through this server takes effect on the very next request, and
/// a conditional request is still answered 304 from the kept answer.
#[tokio::test]
async fn repeated_metadata_answers_follow_uploads_and_revocations() {
    let s = setup(TestEnv::new());
    publish(&s, "acme/cached", "1.0.0").await;
    let path = "/composer/libs/p2/acme/cached.json";
    let versions = |body: &str| -> Vec<String> {
        let document: Value = serde_json::from_str(body).unwrap();
        document["packages"]["acme/cached"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut etag = String::new();
    for _ in 0..3 {
        let response = client()
            .get(s.server.url(path))
            .bearer_auth(&s.reader)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(versions(&response.text().await.unwrap()), ["1.0.0"]);
    }
    let unchanged = client()
        .get(s.server.url(path))
        .bearer_auth(&s.reader)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    // Another caller is not given the reader's answer.
    assert_eq!(get(&s.server, path, None).await.0, 401);
    assert_eq!(get(&s.server, path, Some("pkpat-not-a-token")).await.0, 401);

    publish(&s, "acme/cached", "1.1.0").await;
    let (status, body) = get(&s.server, path, Some(&s.reader)).await;
    assert_eq!(status, 200);
    assert_eq!(versions(&body), ["1.1.0", "1.0.0"]);

    // The reader's token is revoked through GraphQL: refused at once.
    revoke_own_token(&s.server, &s.reader).await;
    assert_eq!(get(&s.server, path, Some(&s.reader)).await.0, 401);
}

#[tokio::test]
async fn lists_page_and_refuse_what_they_cannot_page() {
    let env = TestEnv::new();
    let admin = env.admin_token("admin@example.com");
    env.cli_ok(&["repo", "create", "libs", "--format", "composer"]);
    let server = env.start();
    for name in ["acme/alpha", "acme/beta", "acme/gamma", "other/delta"] {
        let zip = package_zip(
            name,
            "1.0.0",
            json!({ "description": format!("the {name} 100% package") }),
        );
        let (status, body) = upload(&server, "libs", name, zip, Some("1.0.0"), Some(&admin)).await;
        assert_eq!(status, 201, "{body}");
    }

    // search.json pages with per_page/page, a total and the next page's URL.
    let (status, body) = get(
        &server,
        "/composer/libs/search.json?q=acme&per_page=2",
        Some(&admin),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let found: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(found["total"], 3);
    assert_eq!(found["results"][0]["name"], "acme/alpha");
    assert_eq!(found["results"][1]["name"], "acme/beta");
    let next = found["next"].as_str().unwrap();
    assert!(
        next.ends_with("/composer/libs/search.json?q=acme&per_page=2&page=2"),
        "{next}"
    );
    let (_, body) = get(
        &server,
        "/composer/libs/search.json?q=acme&per_page=2&page=2",
        Some(&admin),
    )
    .await;
    let found: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(found["results"][0]["name"], "acme/gamma");
    assert!(found["next"].is_null(), "{found}");
    // LIKE's wildcards in a search are literal.
    let (_, body) = get(&server, "/composer/libs/search.json?q=100%25", Some(&admin)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["total"],
        4,
        "{body}"
    );
    let (_, body) = get(&server, "/composer/libs/search.json?q=a_p", Some(&admin)).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["total"],
        0,
        "{body}"
    );
    // Too deep, too long: 400 with a reason.
    let (status, body) = get(
        &server,
        "/composer/libs/search.json?q=acme&page=100000",
        Some(&admin),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let long = "a".repeat(201);
    let (status, _) = get(
        &server,
        &format!("/composer/libs/search.json?q={long}"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = get(
        &server,
        &format!("/composer/libs/list.json?filter={}", "a".repeat(256)),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 400);
    // Wildcards are bounded: each may try every position of every name.
    let (status, body) = get(
        &server,
        &format!("/composer/libs/list.json?filter={}", "a*".repeat(9)),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = get(
        &server,
        &format!("/composer/libs/list.json?filter={}", "a*".repeat(8)),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 200);

    // list.json filters by wildcard; its wildcards are the only ones.
    let (_, body) = get(
        &server,
        "/composer/libs/list.json?filter=acme/*a",
        Some(&admin),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["packageNames"],
        json!(["acme/alpha", "acme/beta", "acme/gamma"])
    );
    let (_, body) = get(
        &server,
        "/composer/libs/list.json?filter=acme_*",
        Some(&admin),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["packageNames"],
        json!([])
    );

    // GraphQL pages by cursor; a cursor from elsewhere is refused.
    let page = |after: Value| {
        let server = &server;
        let admin = &admin;
        async move {
            graphql_token(
                server,
                admin,
                "query($after: String) { packages(repository: \"libs\", first: 3, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { name } } } }",
                json!({ "after": after }),
            )
            .await
        }
    };
    let first = page(Value::Null).await;
    let packages = &first["data"]["packages"];
    assert_eq!(packages["totalCount"], 4, "{first}");
    assert_eq!(packages["pageInfo"]["hasNextPage"], true);
    assert_eq!(packages["pageInfo"]["hasPreviousPage"], false);
    let second = page(packages["pageInfo"]["endCursor"].clone()).await;
    let packages = &second["data"]["packages"];
    assert_eq!(
        packages["edges"],
        json!([{ "node": { "name": "other/delta" } }]),
        "{second}"
    );
    assert_eq!(packages["pageInfo"]["hasNextPage"], false);
    assert_eq!(packages["pageInfo"]["hasPreviousPage"], true);
    for cursor in ["2", "not base64!", "cGFja2FnZQ"] {
        let refused = page(json!(cursor)).await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{cursor}: {refused}"
        );
    }
}
