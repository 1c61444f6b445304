//! The server process: start with no setup, health, readiness, metrics, the SPA, restart,
//! graceful shutdown, and configuration errors.

use packistry_tests::{client, TestEnv};

#[tokio::test]
async fn starts_with_no_setup_and_reports_health_readiness_and_metrics() {
    let env = TestEnv::new();
    let server = env.start();
    let http = client();

    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["database"], "ok");
    assert_eq!(ready["storage"], "ok");

    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    // Later requests of a series count on the same handles; another status is its own series.
    for _ in 0..2 {
        let health = http.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
    }
    // Anonymous on a repository that does not exist: the same 401 as on a private one.
    let missing = http
        .get(server.url("/composer/nowhere/packages.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    // Invented methods all count as one series, whatever their names.
    for n in 0..3 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{n}").as_bytes()).unwrap();
        http.request(method, server.url("/healthz"))
            .send()
            .await
            .unwrap();
    }
    let text = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"http_requests_total{method="GET",route="/healthz",status="200"} 3"#,
        r#"http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 3"#,
        r#"http_requests_total{method="GET",route="/composer/{repo}/packages.json",status="401"} 1"#,
        r#"http_requests_total{method="OTHER",route="/healthz",status="405"} 3"#,
        r#"http_requests_total{method="GET",route="/metrics",status="200"} 1"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    assert!(!text.contains("INVENTED"), "{text}");
    // Each response is logged at info, inside the request's span.
    let logs = server.logs();
    assert!(
        logs.lines().any(|l| l.contains("http.request")
            && l.contains(r#"http.route="/composer/{repo}/packages.json""#)
            && l.contains("http.status=401")
            && l.contains("response")),
        "{logs}"
    );

    // First start with no users: the log says exactly how to create the first admin.
    assert!(
        server.logs().contains(
            "packistry user create --email you@example.com --role admin --password-stdin"
        ),
        "{}",
        server.logs()
    );
    if !env.database.is_postgres() {
        assert!(env.data_dir.path().join("packistry.db").exists());
    }
    assert!(env.data_dir.path().join("blobs").is_dir());
    let key = env.data_dir.path().join("secret.key");
    assert!(key.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[tokio::test]
async fn readiness_fails_when_blob_storage_is_gone() {
    let env = TestEnv::new();
    let server = env.start();
    // Replace the blob directory by a file: the store can no longer write.
    let blobs = env.data_dir.path().join("blobs");
    std::fs::remove_dir_all(&blobs).unwrap();
    std::fs::write(&blobs, b"not a directory").unwrap();
    let ready = client().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["storage"], "unreachable");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn serves_the_spa_for_client_routes_and_caches_only_hashed_assets() {
    let env = TestEnv::new();
    let server = env.start();
    let http = client();
    for path in ["/", "/login", "/repositories", "/users/someone"] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache", "{path}");
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let body = response.text().await.unwrap();
        assert!(body.contains("Packistry"), "{path}: {body}");
    }
    let missing = http
        .get(server.url("/no-such-file.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let post = http.post(server.url("/repositories")).send().await.unwrap();
    assert_eq!(post.status(), 404);

    // When the SPA is built, its hashed assets are cached for a year.
    let dist = packistry_tests::workspace_root().join("frontend/dist");
    if let Some(asset) = std::fs::read_dir(&dist).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|name| name.ends_with(".js"))
    }) {
        let response = http
            .get(server.url(&format!("/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript"));
    }
}

#[tokio::test]
async fn keeps_everything_across_a_restart() {
    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "first-password");
    let server = env.start();
    packistry_tests::login(&server, "admin@example.com", "first-password")
        .await
        .expect("signs in");
    let key_before = std::fs::read(env.data_dir.path().join("secret.key")).unwrap();
    assert!(server.stop().success());

    let server = env.start();
    packistry_tests::login(&server, "admin@example.com", "first-password")
        .await
        .expect("signs in after a restart");
    assert!(!server.logs().contains("no users yet"));
    let key_after = std::fs::read(env.data_dir.path().join("secret.key")).unwrap();
    assert_eq!(key_before, key_after);
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = TestEnv::new();
    let server = env.start();
    let address = server.base_url.trim_start_matches("http://").to_owned();
    // A request whose body is still arriving when SIGTERM comes: it is truly in flight.
    let body = serde_json::json!({ "query": "{ viewer { authenticated } }" }).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stopping = tokio::task::spawn_blocking(move || server.stop());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stream.write_all(rest.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains(r#"{"data":{"viewer":{"authenticated":false}}}"#),
        "{response}"
    );
    let status = stopping.await.unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn bad_configuration_exits_with_one_line_naming_the_variable() {
    let env = TestEnv::new().with_env("PACKISTRY_DATABASE_URL", "mysql://root:hunter2@db/x");
    let out = env.cli(&["serve"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("PACKISTRY_DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "a secret leaked: {stderr}");

    let env = TestEnv::new().with_env("PACKISTRY_LISTEN", "not-an-address");
    let out = env.cli(&["serve"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PACKISTRY_LISTEN"));

    let blocker = tempfile::NamedTempFile::new().unwrap();
    let unwritable = blocker.path().join("data");
    let env = TestEnv::new().with_env("PACKISTRY_DATA_DIR", unwritable.to_str().unwrap());
    let out = env.cli(&["serve"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PACKISTRY_DATA_DIR"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[tokio::test]
async fn a_port_in_use_is_reported() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let env = TestEnv::new().with_env("PACKISTRY_LISTEN", &address);
    let out = env.cli(&["serve"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PACKISTRY_LISTEN"), "{stderr}");
    assert!(stderr.contains(&address), "{stderr}");
}

#[tokio::test]
async fn layers_file_then_environment_then_flags() {
    let env = TestEnv::new();
    std::fs::write(
        env.data_dir.path().join("packistry.toml"),
        "listen = \"from-file\"\n",
    )
    .unwrap();
    let stderr_of = |command: &mut std::process::Command| {
        let out = command.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // The file in the working directory is read…
    let stderr = stderr_of(env.command().env_remove("PACKISTRY_LISTEN").arg("serve"));
    assert!(stderr.contains("\"from-file\""), "{stderr}");
    // …the environment beats it…
    let stderr = stderr_of(
        env.command()
            .env("PACKISTRY_LISTEN", "from-env")
            .arg("serve"),
    );
    assert!(stderr.contains("\"from-env\""), "{stderr}");
    // …and a flag beats the environment.
    let stderr = stderr_of(env.command().env("PACKISTRY_LISTEN", "from-env").args([
        "--listen",
        "from-flag",
        "serve",
    ]));
    assert!(stderr.contains("\"from-flag\""), "{stderr}");
    // --config names another file.
    let other = env.data_dir.path().join("other.toml");
    std::fs::write(&other, "listen = \"from-other-file\"\n").unwrap();
    let stderr = stderr_of(env.command().env_remove("PACKISTRY_LISTEN").args([
        "--config",
        other.to_str().unwrap(),
        "serve",
    ]));
    assert!(stderr.contains("\"from-other-file\""), "{stderr}");
}

#[tokio::test]
async fn schema_command_prints_the_committed_sdl() {
    let env = TestEnv::new();
    let out = env.cli(&["schema"], None);
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(packistry_tests::workspace_root().join("schema.graphql")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "run `packistry schema > schema.graphql`"
    );
}
