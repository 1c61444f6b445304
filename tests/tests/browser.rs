//! A real browser signs in through the SPA.

use packistry_tests::{browser, TestEnv};

#[tokio::test]
async fn signs_in_through_the_spa_and_sees_the_shell() {
    if !browser::available() {
        return;
    }
    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "browser-password");
    env.create_user("plain@example.com", "user", "browser-password");
    let server = env.start();
    browser::run_against(
        &server,
        "signin.mjs",
        "admin@example.com",
        "browser-password",
        &[
            ("USER_EMAIL", "plain@example.com"),
            ("USER_PASSWORD", "browser-password"),
        ],
    )
    .await;
    assert!(browser::artifacts_dir().join("shell-laptop.png").exists());
    assert!(browser::artifacts_dir().join("shell-user.png").exists());
}

#[tokio::test]
async fn creates_sees_once_and_revokes_a_personal_token_in_the_spa() {
    if !browser::available() {
        return;
    }
    let env = TestEnv::new();
    env.create_user("maker@example.com", "developer", "browser-password");
    let server = env.start();
    let output = browser::run_against(
        &server,
        "tokens.mjs",
        "maker@example.com",
        "browser-password",
        &[],
    )
    .await;
    let secret = output
        .lines()
        .find_map(|l| l.strip_prefix("SECRET="))
        .expect("the script printed the secret")
        .to_owned();
    // The token the browser made belongs to its user, and its revocation holds.
    let response = packistry_tests::client()
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {secret}"))
        .body(r#"{"query":"{ viewer { user { email } } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{body}"
    );
}

#[tokio::test]
async fn creates_a_repository_and_edits_its_grants_in_the_spa() {
    if !browser::available() {
        return;
    }
    let env = TestEnv::new();
    env.create_user("lead@example.com", "developer", "browser-password");
    env.create_user("helper@example.com", "user", "helper-password");
    let server = env.start();
    let output = browser::run_against(
        &server,
        "repositories.mjs",
        "lead@example.com",
        "browser-password",
        &[("GRANTEE", "helper@example.com")],
    )
    .await;
    // The deploy token made in the browser works for its repository.
    let deploy = output
        .lines()
        .find_map(|l| l.strip_prefix("DEPLOY_SECRET="))
        .expect("the script printed the deploy secret")
        .to_owned();
    let response = packistry_tests::client()
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {deploy}"))
        .body(r#"{"query":"{ repositories { name permissions } }"}"#)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["repositories"],
        serde_json::json!([{ "name": "web-app", "permissions": ["UPLOAD", "DOWNLOAD"] }])
    );
    // The grant was revoked: the helper sees nothing of the private repository.
    let helper = packistry_tests::login(&server, "helper@example.com", "helper-password")
        .await
        .unwrap();
    let answer = packistry_tests::graphql(
        &server,
        "{ repositories { name } }",
        serde_json::json!({}),
        Some(&helper),
        false,
    )
    .await;
    assert_eq!(answer.data()["repositories"], serde_json::json!([]));
}

#[tokio::test]
async fn an_admin_manages_users_in_the_spa() {
    if !browser::available() {
        return;
    }
    let env = TestEnv::new();
    env.create_user("root@example.com", "admin", "browser-password");
    let server = env.start();
    browser::run_against(
        &server,
        "users.mjs",
        "root@example.com",
        "browser-password",
        &[],
    )
    .await;
    // The user exists with the password given in the form, and is deactivated.
    assert!(
        packistry_tests::login(&server, "newcomer@example.com", "newcomer-password")
            .await
            .is_err()
    );
    let out = env.cli(
        &["user", "activate", "--email", "newcomer@example.com"],
        None,
    );
    assert!(out.status.success());
    packistry_tests::login(&server, "newcomer@example.com", "newcomer-password")
        .await
        .expect("reactivated user signs in with the password set in the SPA");
}

#[tokio::test]
async fn manages_a_group_and_reads_the_audit_trail_in_the_spa() {
    if !browser::available() {
        return;
    }
    let env = TestEnv::new();
    env.create_user("root@example.com", "admin", "browser-password");
    env.create_user("mate@example.com", "user", "mate-password");
    let server = env.start();
    browser::run_against(
        &server,
        "groups_audit.mjs",
        "root@example.com",
        "browser-password",
        &[("MEMBER", "mate@example.com")],
    )
    .await;
    // The member made maintainer in the browser may now manage the group.
    let mate = packistry_tests::login(&server, "mate@example.com", "mate-password")
        .await
        .unwrap();
    let renamed = packistry_tests::graphql(
        &server,
        "mutation { renameGroup(name: \"backend\", newName: \"platform\") { name } }",
        serde_json::json!({}),
        Some(&mate),
        true,
    )
    .await;
    assert_eq!(
        renamed.data()["renameGroup"]["name"],
        "platform",
        "{:?}",
        renamed.body
    );
}

#[tokio::test]
async fn uploads_and_browses_a_composer_package_in_the_spa() {
    if !browser::available() {
        return;
    }
    use packistry_tests::composer::{package_zip, upload};
    let env = TestEnv::new();
    env.create_user("lead@example.com", "admin", "browser-password");
    env.cli_ok(&["repo", "create", "libs", "--format", "composer"]);
    let token = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "lead@example.com",
        "--name",
        "t",
        "--all-repositories",
        "--role",
        "administrator",
    ]);
    let server = env.start();
    let (status, body) = upload(
        &server,
        "libs",
        "acme/hello",
        package_zip("acme/hello", "1.0.0", serde_json::json!({})),
        Some("1.0.0"),
        Some(&token),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // 120 more, for the pages of the list.
    packistry_tests::seed::composer_packages(&env.database_url(), "libs", "acme/hello", 0, 120)
        .await
        .expect("seeded");
    // One download today, for the chart.
    let response = packistry_tests::client()
        .get(server.url("/composer/libs/dists/acme/hello/1.0.0.zip"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let zip_path = env.data_dir.path().join("hello-1.1.0.zip");
    std::fs::write(
        &zip_path,
        package_zip("acme/hello", "1.1.0", serde_json::json!({})),
    )
    .unwrap();
    let zip_path: &'static str = Box::leak(zip_path.display().to_string().into_boxed_str());
    // Downloads are written in batches: wait until the count is visible.
    for _ in 0..40 {
        let answer: serde_json::Value = packistry_tests::client()
            .post(server.url("/graphql"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "query": "{ package(repository: \"libs\", name: \"acme/hello\") { totalDownloads } }" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["data"]["package"]["totalDownloads"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    browser::run_against(
        &server,
        "packages.mjs",
        "lead@example.com",
        "browser-password",
        &[("PACKAGE_ZIP", zip_path)],
    )
    .await;
    let p2 = packistry_tests::client()
        .get(server.url("/composer/libs/p2/acme/hello.json"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        p2.contains("\"1.1.0\"") && !p2.contains("\"1.0.0\""),
        "{p2}"
    );
}

#[tokio::test]
async fn shows_maven_setup_retention_and_files_in_the_spa() {
    if !browser::available() {
        return;
    }
    let env = TestEnv::new();
    env.create_user("lead@example.com", "admin", "browser-password");
    env.cli_ok(&["repo", "create", "java", "--format", "maven"]);
    let token = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "lead@example.com",
        "--name",
        "t",
        "--all-repositories",
        "--role",
        "administrator",
    ]);
    let server = env.start();
    for (file, body) in [
        ("lib-1.0.jar", "jar bytes"),
        (
            "lib-1.0.pom",
            "<project><packaging>jar</packaging></project>",
        ),
    ] {
        let response = packistry_tests::client()
            .put(server.url(&format!("/maven/java/org/example/lib/1.0/{file}")))
            .basic_auth("token", Some(&token))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    browser::run_against(
        &server,
        "maven.mjs",
        "lead@example.com",
        "browser-password",
        &[],
    )
    .await;
}

#[tokio::test]
async fn shows_container_commands_and_image_tags_in_the_spa() {
    if !browser::available() {
        return;
    }
    use sha2::Digest;
    let env = TestEnv::new();
    env.create_user("lead@example.com", "admin", "browser-password");
    env.cli_ok(&["repo", "create", "images", "--format", "container"]);
    let token = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "lead@example.com",
        "--name",
        "t",
        "--all-repositories",
        "--role",
        "administrator",
    ]);
    let server = env.start();
    let digest = |bytes: &[u8]| {
        format!(
            "sha256:{}",
            sha2::Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    };
    let config = br#"{"architecture":"amd64","os":"linux","created":"2026-11-20T10:00:00Z","rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    let layer = b"a layer".to_vec();
    for blob in [&config, &layer] {
        let response = packistry_tests::client()
            .post(server.url(&format!(
                "/v2/images/team/app/blobs/uploads/?digest={}",
                digest(blob)
            )))
            .basic_auth("token", Some(&token))
            .body(blob.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len() }],
    })
    .to_string();
    for tag in ["v1", "latest"] {
        let response = packistry_tests::client()
            .put(server.url(&format!("/v2/images/team/app/manifests/{tag}")))
            .basic_auth("token", Some(&token))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    // One pull, which the image's page counts once it is written (in batches).
    let pulled = packistry_tests::client()
        .get(server.url("/v2/images/team/app/manifests/v1"))
        .basic_auth("token", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(pulled.status(), 200);
    for _ in 0..40 {
        let answer: serde_json::Value = packistry_tests::client()
            .post(server.url("/graphql"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "query": "{ package(repository: \"images\", name: \"team/app\") { totalDownloads } }" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if answer["data"]["package"]["totalDownloads"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    browser::run_against(
        &server,
        "containers.mjs",
        "lead@example.com",
        "browser-password",
        &[],
    )
    .await;
    let tags: serde_json::Value = packistry_tests::client()
        .get(server.url("/v2/images/team/app/tags/list"))
        .basic_auth("token", Some(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], serde_json::json!(["v1"]));
}

/// Single sign-on through a real OpenID Connect provider (`oidc-provider`), in Chromium.
#[tokio::test]
async fn signs_in_through_a_real_openid_connect_provider() {
    if !browser::available() {
        return;
    }
    use packistry_tests::{composer, graphql, login};
    use serde_json::json;

    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "admin-password");
    env.cli_ok(&["repo", "create", "acme-libs", "--format", "composer"]);
    let server = env.start();
    let admin_token = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "admin@example.com",
        "--name",
        "publish",
        "--all-repositories",
        "--role",
        "administrator",
    ]);
    let (status, body) = composer::upload(
        &server,
        "acme-libs",
        "acme/widget",
        composer::package_zip("acme/widget", "1.0.0", json!({})),
        Some("1.0.0"),
        Some(admin_token.trim()),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let redirect = server.url("/auth/sso/corp/callback");
    let provider = browser::NodeProcess::start(
        "oidc-provider.mjs",
        &[
            ("CLIENT_ID", "packistry"),
            ("CLIENT_SECRET", "oidc-client-secret-for-tests"),
            ("REDIRECT_URI", &redirect),
        ],
        "ISSUER",
    );
    let issuer = provider.announced["ISSUER"].clone();

    let admin = login(&server, "admin@example.com", "admin-password")
        .await
        .unwrap();
    let run = |step: &'static str, login: &'static str| {
        let base = server.base_url.clone();
        let issuer = issuer.clone();
        async move {
            let (ok, output) = tokio::task::spawn_blocking(move || {
                browser::run_script(
                    "sso.mjs",
                    &[
                        ("BASE_URL", &base),
                        ("STEP", step),
                        ("LOGIN", login),
                        ("LABEL", "Corp SSO"),
                        ("EMAIL", "admin@example.com"),
                        ("PASSWORD", "admin-password"),
                        ("CLIENT_ID", "packistry"),
                        ("CLIENT_SECRET", "oidc-client-secret-for-tests"),
                        ("ISSUER", &issuer),
                    ],
                )
            })
            .await
            .unwrap();
            (ok, output)
        }
    };
    let mut outputs = Vec::new();
    for (step, who) in [
        ("create", "admin@example.com"),
        ("first", "olivia@example.com"),
        ("again", "olivia@example.com"),
        ("tampered", "olivia@example.com"),
        ("domain", "mallory@elsewhere.org"),
    ] {
        let (ok, output) = run(step, who).await;
        assert!(ok, "step {step}:\n{output}\nserver log:\n{}", server.logs());
        outputs.push(output);
    }

    // Provisioned once, with the source's default role and repository grant.
    let users = graphql(
        &server,
        "{ users(first: 100) { edges { node { email globalRole } } } }",
        json!({}),
        Some(&admin),
        false,
    )
    .await;
    let edges = users.data()["users"]["edges"].as_array().unwrap().clone();
    let olivia: Vec<_> = edges
        .iter()
        .filter(|e| e["node"]["email"] == "olivia@example.com")
        .collect();
    assert_eq!(olivia.len(), 1, "{edges:?}");
    assert_eq!(olivia[0]["node"]["globalRole"], "DEVELOPER");
    assert!(!edges
        .iter()
        .any(|e| e["node"]["email"] == "mallory@elsewhere.org"));
    let grants = graphql(
        &server,
        "{ grants(repository: \"acme-libs\") { role user { email } } }",
        json!({}),
        Some(&admin),
        false,
    )
    .await;
    assert!(
        grants.body.to_string().contains("olivia@example.com"),
        "{:?}",
        grants.body
    );

    // The source the admin made in the SPA.
    let listed = graphql(
        &server,
        "{ authSources { id name callbackUrl allowedDomains } }",
        json!({}),
        Some(&admin),
        false,
    )
    .await;
    let source = &listed.data()["authSources"][0];
    assert_eq!(source["callbackUrl"], redirect);
    assert_eq!(source["allowedDomains"], json!(["example.com"]));
    let source_id = source["id"].as_str().unwrap().to_owned();

    // Olivia's personal token, then the source is turned off.
    let token = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "olivia@example.com",
        "--name",
        "laptop",
        "--repository",
        "acme-libs",
        "--role",
        "reader",
    ]);
    let deactivated = graphql(
        &server,
        "mutation($id: ID!) { setAuthSourceActive(id: $id, active: false) { active } }",
        json!({ "id": source_id }),
        Some(&admin),
        true,
    )
    .await;
    assert_eq!(deactivated.data()["setAuthSourceActive"]["active"], false);
    let (ok, output) = run("inactive", "olivia@example.com").await;
    assert!(
        ok,
        "step inactive:\n{output}\nserver log:\n{}",
        server.logs()
    );

    let http = packistry_tests::client();
    let metadata: serde_json::Value = http
        .get(server.url("/composer/acme-libs/p2/acme/widget.json"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dist_url = metadata["packages"]["acme/widget"][0]["dist"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no dist URL: {metadata}"))
        .to_owned();
    let dist = http
        .get(&dist_url)
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(dist.status(), 200, "the token of an SSO user keeps working");
    assert!(!server.logs().contains("oidc-client-secret-for-tests"));
    drop(provider);
}

/// Sources in the SPA: a Git source, an import followed on its progress bar, a rebuild.
#[tokio::test]
async fn imports_a_package_from_git_in_the_spa() {
    if !browser::available() {
        return;
    }
    use packistry_tests::git::{greeter, run, write, GitServer};

    let git = GitServer::start();
    let work = git.work.path();
    write(
        work,
        "composer.json",
        r#"{"name":"acme/browser","autoload":{"psr-4":{"Acme\\Browser\\":"src/"}}}"#,
    );
    write(work, "src/Greeter.php", &greeter("Acme\\Browser", "1.0.0"));
    git.commit("first");
    run(work, &["tag", "v1.0.0"]);
    git.push(&["main", "--tags"]);

    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "browser-password");
    env.cli_ok(&["repo", "create", "libs", "--format", "composer"]);
    let server = env.start();
    let project: &'static str = Box::leak(git.url.clone().into_boxed_str());
    let output = browser::run_against(
        &server,
        "sources.mjs",
        "admin@example.com",
        "browser-password",
        &[("PROJECT", project)],
    )
    .await;
    assert!(output.contains("IMPORTED"), "{output}");
}

/// Browsing a host's projects in the SPA (fixture GitHub API with Git over HTTPS).
#[tokio::test]
async fn browses_a_hosts_projects_and_adds_one_in_the_spa() {
    if !browser::available() {
        return;
    }
    use packistry_tests::git::{run, write};
    use packistry_tests::git_hosts::{FixtureHost, Host};

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
    run(work.path(), &["tag", "v1.0.0"]);
    run(
        work.path(),
        &["push", "--quiet", bare.to_str().unwrap(), "main", "--tags"],
    );
    let host = FixtureHost::start(Host::Github, "hub-token-value").await;
    host.serve_git(root.path());

    let env = TestEnv::new();
    env.create_user("admin@example.com", "admin", "browser-password");
    env.cli_ok(&["repo", "create", "libs", "--format", "composer"]);
    let server = env.start();
    let host_url: &'static str = Box::leak(host.base_url.clone().into_boxed_str());
    // The fixture runs on this test's runtime: the browser runs on a blocking thread.
    let output = browser::run_against(
        &server,
        "sources_browse.mjs",
        "admin@example.com",
        "browser-password",
        &[("HOST_URL", host_url), ("HOST_TOKEN", "hub-token-value")],
    )
    .await;
    assert!(output.contains("BROWSED"), "{output}");
    assert_eq!(host.hooks().len(), 1);
}
