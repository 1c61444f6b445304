//! Maven repositories with the real mvn client: releases and SNAPSHOTs deployed and resolved,
//! deploy-file with a classifier, checksums, permissions, concurrent deploys, generated
//! metadata, path safety, browsing.

use std::io::{Read, Write};

use packistry_tests::maven::{self, Maven};
use packistry_tests::{client, TestEnv, TestServer};

struct Setup {
    env: TestEnv,
    server: TestServer,
    uploader: String,
    reader: String,
    admin: String,
}

fn setup() -> Setup {
    let env = TestEnv::new();
    env.cli_ok(&["repo", "create", "java", "--format", "maven"]);
    env.create_user("dev@example.com", "user", "dev-password-1");
    env.create_user("reader@example.com", "user", "reader-password-1");
    env.create_user("admin@example.com", "admin", "admin-password-1");
    env.cli_ok(&[
        "grant",
        "--repository",
        "java",
        "--user",
        "dev@example.com",
        "--role",
        "uploader",
    ]);
    env.cli_ok(&[
        "grant",
        "--repository",
        "java",
        "--user",
        "reader@example.com",
        "--role",
        "reader",
    ]);
    let token = |user: &str, name: &str, role: &str| {
        env.cli_ok(&[
            "token",
            "create",
            "--user",
            user,
            "--name",
            name,
            "--all-repositories",
            "--role",
            role,
        ])
    };
    let uploader = token("dev@example.com", "ci", "uploader");
    let reader = token("reader@example.com", "app", "reader");
    let admin = token("admin@example.com", "root", "administrator");
    let server = env.start();
    Setup {
        env,
        server,
        uploader,
        reader,
        admin,
    }
}

async fn get(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
) -> (u16, Vec<u8>, reqwest::header::HeaderMap) {
    let mut request = client().get(server.url(path));
    if let Some(token) = token {
        request = request.basic_auth("token", Some(token));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.bytes().await.unwrap().to_vec(), headers)
}

async fn put(server: &TestServer, path: &str, token: &str, body: Vec<u8>) -> (u16, String) {
    let response = client()
        .put(server.url(path))
        .basic_auth("token", Some(token))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A checksum computed by coreutils (`md5sum`, `sha1sum`, …).
fn coreutils_sum(tool: &str, bytes: &[u8]) -> String {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bytes).unwrap();
    let out = std::process::Command::new(tool)
        .arg(file.path())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn mvn_deploys_and_resolves_releases_snapshots_and_classifiers() {
    if !maven::available() {
        return;
    }
    let s = setup();
    let uploader = Maven::new(&s.server, "java", &s.uploader);

    let lib = uploader.project(
        "greeting",
        "org.example:greeting:1.0",
        &[],
        "public class Greeting { public static String hello() { return \"hello from 1.0\"; } }",
    );
    let out = uploader.mvn(&lib, &["deploy"]);
    assert!(out.status.success(), "release deploy: {}", text(&out));

    let snap = uploader.project(
        "snap",
        "org.example:snap:1.1-SNAPSHOT",
        &[],
        "public class Snap { public static String version() { return \"snapshot\"; } }",
    );
    for round in 1..=2 {
        let out = uploader.mvn(&snap, &["deploy"]);
        assert!(
            out.status.success(),
            "snapshot deploy {round}: {}",
            text(&out)
        );
    }
    let (status, body, _) = get(
        &s.server,
        "/maven/java/org/example/snap/1.1-SNAPSHOT/maven-metadata.xml",
        Some(&s.reader),
    )
    .await;
    assert_eq!(status, 200);
    let xml = String::from_utf8(body).unwrap();
    assert!(xml.contains("<buildNumber>2</buildNumber>"), "{xml}");
    assert!(
        xml.contains("<extension>jar</extension>") && xml.contains("<extension>pom</extension>"),
        "{xml}"
    );

    // A second project, with only the reader's token, resolves both and builds.
    let reader = Maven::new(&s.server, "java", &s.reader);
    let app = reader.project(
        "app",
        "org.example:app:1.0",
        &["org.example:greeting:1.0", "org.example:snap:1.1-SNAPSHOT"],
        "public class App { public static void main(String[] a) { System.out.println(Greeting.hello() + \" \" + Snap.version()); } }",
    );
    let out = reader.mvn(&app, &["package"]);
    assert!(out.status.success(), "consumer build: {}", text(&out));
    assert!(app.join("target/app-1.0.jar").exists());

    // deploy-file with a classifier.
    let jar = app.join("target/app-1.0.jar");
    let out = uploader.mvn(
        &app,
        &[
            "org.apache.maven.plugins:maven-deploy-plugin:3.0.0:deploy-file",
            &format!("-Dfile={}", jar.display()),
            "-DgroupId=org.example",
            "-DartifactId=tool",
            "-Dversion=2.0",
            "-Dclassifier=linux",
            "-Dpackaging=jar",
            "-DgeneratePom=true",
            &format!("-Durl={}", uploader.repository_url),
            "-DrepositoryId=packistry",
        ],
    );
    assert!(out.status.success(), "deploy-file: {}", text(&out));
    let (status, tool, headers) = get(
        &s.server,
        "/maven/java/org/example/tool/2.0/tool-2.0-linux.jar",
        Some(&s.reader),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(tool, std::fs::read(&jar).unwrap());
    assert!(headers.contains_key("last-modified"));
    assert_eq!(
        headers["content-length"].to_str().unwrap(),
        tool.len().to_string()
    );

    // Checksums served for every file match the file.
    let (_, released, _) = get(
        &s.server,
        "/maven/java/org/example/greeting/1.0/greeting-1.0.jar",
        Some(&s.reader),
    )
    .await;
    for (extension, tool) in [
        ("md5", "md5sum"),
        ("sha1", "sha1sum"),
        ("sha256", "sha256sum"),
        ("sha512", "sha512sum"),
    ] {
        let (status, served, _) = get(
            &s.server,
            &format!("/maven/java/org/example/greeting/1.0/greeting-1.0.jar.{extension}"),
            Some(&s.reader),
        )
        .await;
        assert_eq!(status, 200, "{extension}");
        assert_eq!(
            String::from_utf8(served).unwrap(),
            coreutils_sum(tool, &released),
            "{extension}"
        );
    }
    let (status, metadata, _) = get(
        &s.server,
        "/maven/java/org/example/greeting/maven-metadata.xml",
        Some(&s.reader),
    )
    .await;
    assert_eq!(status, 200);
    let (_, metadata_sha1, _) = get(
        &s.server,
        "/maven/java/org/example/greeting/maven-metadata.xml.sha1",
        Some(&s.reader),
    )
    .await;
    assert_eq!(
        String::from_utf8(metadata_sha1).unwrap(),
        coreutils_sum("sha1sum", &metadata)
    );

    // A reader cannot deploy: mvn fails and nothing is stored.
    let denied = reader.project(
        "denied",
        "org.example:denied:1.0",
        &[],
        "public class Denied {}",
    );
    let out = reader.mvn(&denied, &["deploy"]);
    assert!(!out.status.success(), "a reader must not deploy");
    let (status, _, _) = get(
        &s.server,
        "/maven/java/org/example/denied/1.0/denied-1.0.jar",
        Some(&s.admin),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = get(
        &s.server,
        "/maven/java/org/example/denied/maven-metadata.xml",
        Some(&s.admin),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn five_concurrent_deploys_all_reach_the_metadata() {
    if !maven::available() {
        return;
    }
    let s = setup();
    let maven = std::sync::Arc::new(Maven::new(&s.server, "java", &s.uploader));
    let jar = maven.dir.path().join("payload.jar");
    std::fs::write(&jar, b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").unwrap();
    let threads: Vec<_> = (1..=5)
        .map(|i| {
            let maven = maven.clone();
            let jar = jar.clone();
            std::thread::spawn(move || {
                let out = maven.mvn(
                    maven.dir.path(),
                    &[
                        "org.apache.maven.plugins:maven-deploy-plugin:3.0.0:deploy-file",
                        &format!("-Dfile={}", jar.display()),
                        "-DgroupId=org.example",
                        "-DartifactId=busy",
                        &format!("-Dversion={i}.0"),
                        "-Dpackaging=jar",
                        "-DgeneratePom=true",
                        &format!("-Durl={}", maven.repository_url),
                        "-DrepositoryId=packistry",
                        // Each deployer has its own local repository, as on separate
                        // machines: Maven 3.8 rewrites the local copy of
                        // maven-metadata.xml without a lock, and a file truncated by
                        // another process is sent as an empty body after its
                        // Content-Length (the client then waits forever).
                        &format!(
                            "-Dmaven.repo.local={}",
                            maven.dir.path().join(format!("local-repo-{i}")).display()
                        ),
                    ],
                );
                (i, out)
            })
        })
        .collect();
    for thread in threads {
        let (i, out) = thread.join().unwrap();
        assert!(
            out.status.success(),
            "deploy {i}: {}\nserver:\n{}",
            text(&out),
            s.server.logs()
        );
    }
    let (_, xml, _) = get(
        &s.server,
        "/maven/java/org/example/busy/maven-metadata.xml",
        Some(&s.reader),
    )
    .await;
    let xml = String::from_utf8(xml).unwrap();
    for i in 1..=5 {
        assert!(xml.contains(&format!("<version>{i}.0</version>")), "{xml}");
    }
    assert!(xml.contains("<release>5.0</release>"), "{xml}");
}

/// Send a request line exactly as given (no client normalizes the path), and read the status.
fn raw_status(server: &TestServer, method: &str, path: &str, token: &str) -> u16 {
    let address = server.base_url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let credentials = base64_encode(&format!("token:{token}"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {credentials}\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test]
async fn unsafe_and_invalid_paths_are_refused_and_nothing_is_written() {
    let s = setup();
    for path in [
        "/maven/java/org/../../etc/passwd",
        "/maven/java/org/%2e%2e/x/1/x-1.jar",
        "/maven/java/org/%2E%2E/%2E%2E/x-1.jar",
        "/maven/java/org/a%2Fb/x/1/x-1.jar",
        "/maven/java/org\\x\\1\\x-1.jar",
        "/maven/java/org/%5cx/1/x-1.jar",
        "/maven/java/org//x/1/x-1.jar",
        "/maven/java/org/x/1/x-1.jar%00",
        "/maven/java/org/x%07/1/x-1.jar",
        "/maven/java/org/x/1/other-1.jar",
        "/maven/java/org/x/1/x-2.jar",
        "/maven/java/x/1/x-1.jar",
        "/maven/java/org/x/1.0-SNAPSHOT/x-1.0-nonsense.jar",
        "/maven/java/org/.hidden/1/.hidden-1.jar",
        "/maven/java/maven-metadata.xml",
    ] {
        assert_eq!(
            raw_status(&s.server, "PUT", path, &s.uploader),
            400,
            "PUT {path}"
        );
    }
    let blobs = s.env.data_dir.path().join("blobs").join("sha256");
    assert!(
        !blobs.exists() || std::fs::read_dir(&blobs).unwrap().next().is_none(),
        "nothing stored"
    );
}

#[tokio::test]
async fn policies_checksums_challenges_and_browsing() {
    let s = setup();
    let jar = b"first jar".to_vec();
    let base = "/maven/java/org/example/lib/1.0";
    assert_eq!(
        put(
            &s.server,
            &format!("{base}/lib-1.0.jar"),
            &s.uploader,
            jar.clone()
        )
        .await
        .0,
        201
    );

    // Checksums from the client are compared with the server's.
    let good = coreutils_sum("sha1sum", &jar);
    assert_eq!(
        put(
            &s.server,
            &format!("{base}/lib-1.0.jar.sha1"),
            &s.uploader,
            good.into_bytes()
        )
        .await
        .0,
        201
    );
    let wrong = "0".repeat(40);
    let (status, message) = put(
        &s.server,
        &format!("{base}/lib-1.0.jar.sha1"),
        &s.uploader,
        wrong.clone().into_bytes(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        message.contains(&wrong) && message.contains(&coreutils_sum("sha1sum", &jar)),
        "{message}"
    );

    // Releases are immutable unless an administrator overwrites; SNAPSHOTs are replaceable.
    let (status, message) = put(
        &s.server,
        &format!("{base}/lib-1.0.jar"),
        &s.uploader,
        b"second".to_vec(),
    )
    .await;
    assert_eq!(status, 409, "{message}");
    assert_eq!(
        put(
            &s.server,
            &format!("{base}/lib-1.0.jar?overwrite=true"),
            &s.uploader,
            b"second".to_vec()
        )
        .await
        .0,
        403
    );
    assert_eq!(
        put(
            &s.server,
            &format!("{base}/lib-1.0.jar?overwrite=true"),
            &s.admin,
            b"second".to_vec()
        )
        .await
        .0,
        201
    );
    let (_, body, _) = get(&s.server, &format!("{base}/lib-1.0.jar"), Some(&s.reader)).await;
    assert_eq!(body, b"second");
    let snapshot = "/maven/java/org/example/lib/2.0-SNAPSHOT/lib-2.0-SNAPSHOT.jar";
    assert_eq!(
        put(&s.server, snapshot, &s.uploader, b"one".to_vec())
            .await
            .0,
        201
    );
    assert_eq!(
        put(&s.server, snapshot, &s.uploader, b"two".to_vec())
            .await
            .0,
        201
    );

    // The client's metadata is accepted and ignored; GET answers the server's view.
    assert_eq!(
        put(
            &s.server,
            "/maven/java/org/example/lib/maven-metadata.xml",
            &s.uploader,
            b"<metadata/>".to_vec()
        )
        .await
        .0,
        201
    );
    let (_, xml, _) = get(
        &s.server,
        "/maven/java/org/example/lib/maven-metadata.xml",
        Some(&s.reader),
    )
    .await;
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains("<version>1.0</version>") && xml.contains("<version>2.0-SNAPSHOT</version>"),
        "{xml}"
    );

    // Anonymous on a private repository: a Basic challenge, so Maven sends credentials.
    let (status, _, headers) = get(&s.server, &format!("{base}/lib-1.0.jar"), None).await;
    assert_eq!(status, 401);
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic realm="));
    let (status, _, _) = get(
        &s.server,
        &format!("{base}/lib-1.0.jar"),
        Some("pkpat-unknown"),
    )
    .await;
    assert_eq!(status, 401);
    // A reader may not deploy; HEAD answers the size.
    assert_eq!(
        put(
            &s.server,
            &format!("{base}/lib-1.0.pom"),
            &s.reader,
            b"<project/>".to_vec()
        )
        .await
        .0,
        403
    );
    let head = client()
        .head(s.server.url(&format!("{base}/lib-1.0.jar")))
        .basic_auth("token", Some(&s.reader))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.headers()["content-length"], "6");

    // Browsing needs the list permission.
    let (status, html, _) = get(&s.server, "/maven/java/org/example/lib/", Some(&s.admin)).await;
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("href=\"1.0/\"") && html.contains("maven-metadata.xml.sha1"),
        "{html}"
    );
    let (status, html, _) = get(&s.server, "/maven/java/", Some(&s.admin)).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(html).unwrap().contains("href=\"org/\""));
    let (status, _, _) = get(&s.server, "/maven/java/org/example/lib/", Some(&s.reader)).await;
    assert_eq!(status, 403);
    let (status, _, _) = get(&s.server, "/maven/java/org/nothing/", Some(&s.admin)).await;
    assert_eq!(status, 404);
}

async fn graphql(server: &TestServer, token: &str, query: &str) -> serde_json::Value {
    client()
        .post(server.url("/graphql"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn snapshot_retention_and_maven_packages_in_graphql() {
    let s = setup();
    let set = graphql(
        &s.server,
        &s.admin,
        "mutation { updateRepository(input: { name: \"java\", snapshotRetention: 2 }) { snapshotRetention } }",
    )
    .await;
    assert_eq!(
        set["data"]["updateRepository"]["snapshotRetention"], 2,
        "{set}"
    );

    let folder = "/maven/java/org/example/lib/1.0-SNAPSHOT";
    for build in 1..=3 {
        for extension in ["jar", "pom"] {
            let body = if extension == "pom" {
                b"<project><packaging>jar</packaging></project>".to_vec()
            } else {
                format!("build {build}").into_bytes()
            };
            let path = format!("{folder}/lib-1.0-20261123.10000{build}-{build}.{extension}");
            assert_eq!(
                put(&s.server, &path, &s.uploader, body).await.0,
                201,
                "{path}"
            );
        }
    }
    // Retention runs in the background after the deploy.
    let oldest = format!("{folder}/lib-1.0-20261123.100001-1.jar");
    let mut status = 0;
    for _ in 0..40 {
        status = get(&s.server, &oldest, Some(&s.reader)).await.0;
        if status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 404, "the oldest build is removed");
    for build in 2..=3 {
        let path = format!("{folder}/lib-1.0-20261123.10000{build}-{build}.jar");
        assert_eq!(
            get(&s.server, &path, Some(&s.reader)).await.0,
            200,
            "{path}"
        );
    }
    let (_, xml, _) = get(
        &s.server,
        &format!("{folder}/maven-metadata.xml"),
        Some(&s.reader),
    )
    .await;
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains("<buildNumber>3</buildNumber>") && !xml.contains("100001-1"),
        "{xml}"
    );

    let release = "/maven/java/org/example/lib/0.9/lib-0.9.jar";
    assert_eq!(
        put(&s.server, release, &s.uploader, b"release".to_vec())
            .await
            .0,
        201
    );
    let listed = graphql(
        &s.server,
        &s.admin,
        "{ packages(repository: \"java\") { edges { node { name latestVersion versionCount } } } package(repository: \"java\", name: \"org.example:lib\") { versions { version stability files { name size url } } } }",
    )
    .await;
    assert_eq!(
        listed["data"]["packages"]["edges"][0]["node"],
        serde_json::json!({ "name": "org.example:lib", "latestVersion": "1.0-SNAPSHOT", "versionCount": 2 }),
        "{listed}"
    );
    let versions = &listed["data"]["package"]["versions"];
    assert_eq!(versions[0]["version"], "1.0-SNAPSHOT");
    assert_eq!(versions[0]["stability"], "snapshot");
    assert_eq!(versions[0]["files"].as_array().unwrap().len(), 4);
    assert_eq!(versions[1]["files"][0]["url"], s.server.url(release));
    assert_eq!(versions[1]["files"][0]["size"], 7);

    let deleted = graphql(
        &s.server,
        &s.admin,
        "mutation { deletePackageVersion(repository: \"java\", package: \"org.example:lib\", version: \"0.9\") }",
    )
    .await;
    assert_eq!(deleted["data"]["deletePackageVersion"], true, "{deleted}");
    assert_eq!(get(&s.server, release, Some(&s.reader)).await.0, 404);
    let (_, xml, _) = get(
        &s.server,
        "/maven/java/org/example/lib/maven-metadata.xml",
        Some(&s.reader),
    )
    .await;
    assert!(!String::from_utf8(xml)
        .unwrap()
        .contains("<version>0.9</version>"));
}

#[tokio::test]
async fn an_upload_that_stops_sending_is_abandoned_with_408_and_nothing_is_kept() {
    let env = TestEnv::new().with_env("PACKISTRY_UPLOAD_IDLE_SECONDS", "1");
    env.cli_ok(&["repo", "create", "java", "--format", "maven"]);
    env.create_user("dev@example.com", "user", "dev-password-1");
    env.cli_ok(&[
        "grant",
        "--repository",
        "java",
        "--user",
        "dev@example.com",
        "--role",
        "uploader",
    ]);
    let token = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "dev@example.com",
        "--name",
        "ci",
        "--all-repositories",
        "--role",
        "uploader",
    ]);
    let server = env.start();
    let address = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    // Ten bytes of a promised hundred, then silence (a client whose source file shrank).
    write!(
        stream,
        "PUT /maven/java/org/example/idle/1.0/idle-1.0.jar HTTP/1.1\r\nHost: {address}\r\nAuthorization: Basic {}\r\nContent-Length: 100\r\n\r\n0123456789",
        base64_encode(&format!("token:{token}"))
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("nothing was kept"), "{answer}");
    let (status, _, _) = get(
        &server,
        "/maven/java/org/example/idle/1.0/idle-1.0.jar",
        Some(&token),
    )
    .await;
    assert_eq!(status, 404);
    let staged = packistry_tests::files_under(&env.data_dir.path().join("tmp"));
    assert!(staged.is_empty(), "staging files left: {staged:?}");
}
