//! The store hands out exactly the bytes that were published (issue #16): racing chunks of
//! one upload cannot store bytes under another content's digest, closing chunks must
//! continue the upload, and a damaged key file stops the server instead of weakening it.

use packistry_tests::{client, TestEnv, TestServer};
use serde_json::json;
use sha2::{Digest, Sha256};

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

struct Registry {
    env: TestEnv,
    server: TestServer,
    token: String,
}

fn registry() -> Registry {
    let env = TestEnv::new();
    env.cli_ok(&["repo", "create", "images", "--format", "container"]);
    env.cli_ok(&["repo", "create", "other", "--format", "container"]);
    let token = env.admin_token("root@example.com");
    let server = env.start();
    Registry { env, server, token }
}

impl Registry {
    fn url(&self, location: &str) -> String {
        if location.starts_with("http") {
            location.to_owned()
        } else {
            self.server.url(location)
        }
    }

    async fn start_upload(&self, name: &str) -> String {
        let response = client()
            .post(self.server.url(&format!("/v2/{name}/blobs/uploads/")))
            .basic_auth("token", Some(&self.token))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        self.url(response.headers()["location"].to_str().unwrap())
    }

    async fn patch(&self, location: &str, body: Vec<u8>) -> u16 {
        let end = body.len().saturating_sub(1);
        client()
            .patch(location)
            .basic_auth("token", Some(&self.token))
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("0-{end}"))
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn close(&self, location: &str, digest: &str) -> u16 {
        client()
            .put(location)
            .basic_auth("token", Some(&self.token))
            .query(&[("digest", digest)])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn blob(&self, name: &str, digest: &str) -> Option<Vec<u8>> {
        let response = client()
            .get(self.server.url(&format!("/v2/{name}/blobs/{digest}")))
            .basic_auth("token", Some(&self.token))
            .send()
            .await
            .unwrap();
        (response.status() == 200).then_some(response.bytes().await.unwrap().to_vec())
    }
}

#[tokio::test]
async fn racing_chunks_never_store_bytes_under_another_digest() {
    let r = registry();
    let mut closed = 0;
    for round in 0..30 {
        // Two different contents of the same size sent as the first chunk at once.
        let a = format!("content A of round {round:04}").into_bytes();
        let b = format!("content B of round {round:04}").into_bytes();
        assert_eq!(a.len(), b.len());
        let location = r.start_upload("images/app").await;
        let (sent_a, sent_b) =
            tokio::join!(r.patch(&location, a.clone()), r.patch(&location, b.clone()));
        assert!(
            [sent_a, sent_b].contains(&202),
            "round {round}: one chunk is taken ({sent_a}, {sent_b})"
        );
        for status in [sent_a, sent_b] {
            assert!(status == 202 || status == 416, "round {round}: {status}");
        }
        // Close naming B's digest: allowed only if B's bytes are what was kept.
        let status = r.close(&location, &digest(&b)).await;
        if status == 201 {
            closed += 1;
        } else {
            assert_eq!(status, 400, "round {round}: a mismatch is DIGEST_INVALID");
        }
        // Whatever happened, B's digest serves B's bytes or nothing, in this repository
        // and after B is pushed honestly into another one.
        if let Some(bytes) = r.blob("images/app", &digest(&b)).await {
            assert_eq!(bytes, b, "round {round}: B's digest serves other bytes");
        }
        let honest = r.start_upload("other/app").await;
        assert_eq!(r.patch(&honest, b.clone()).await, 202);
        assert_eq!(r.close(&honest, &digest(&b)).await, 201);
        assert_eq!(
            r.blob("other/app", &digest(&b)).await,
            Some(b.clone()),
            "round {round}"
        );
        if let Some(bytes) = r.blob("images/app", &digest(&a)).await {
            assert_eq!(bytes, a, "round {round}: A's digest serves other bytes");
        }
    }
    assert!(closed > 0, "some rounds close with B's digest");
    // Every stored blob hashes to its name.
    for path in packistry_tests::files_under(&r.env.data_dir.path().join("blobs")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.len() == 64 && path.to_string_lossy().contains("/sha256/") {
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                format!("{:x}", Sha256::digest(&bytes)),
                name,
                "{}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn a_closing_chunk_must_continue_the_upload() {
    let r = registry();
    let location = r.start_upload("images/app").await;
    assert_eq!(r.patch(&location, b"0123456789".to_vec()).await, 202);
    let whole = b"0123456789abcdef".to_vec();
    let response = client()
        .put(&location)
        .basic_auth("token", Some(&r.token))
        .query(&[("digest", digest(&whole))])
        .header("content-range", "4-9")
        .body(b"abcdef".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 416);
    let response = client()
        .put(&location)
        .basic_auth("token", Some(&r.token))
        .query(&[("digest", digest(&whole))])
        .header("content-range", "10-15")
        .body(b"abcdef".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(r.blob("images/app", &digest(&whole)).await, Some(whole));
}

#[tokio::test]
async fn non_distributable_layers_with_urls_need_not_be_pushed() {
    let r = registry();
    let config = br#"{"architecture":"amd64","os":"windows"}"#.to_vec();
    let location = r.start_upload("images/win").await;
    assert_eq!(r.patch(&location, config.clone()).await, 202);
    assert_eq!(r.close(&location, &digest(&config)).await, 201);
    let foreign = json!({
        "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "digest": digest(b"never pushed"),
        "size": 12,
        "urls": ["https://example.com/base-layer"],
    });
    let manifest = |layer: serde_json::Value| {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len() },
            "layers": [layer],
        })
        .to_string()
    };
    let put = |tag: &'static str, body: String| {
        client()
            .put(r.server.url(&format!("/v2/images/win/manifests/{tag}")))
            .basic_auth("token", Some(&r.token))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body)
            .send()
    };
    assert_eq!(
        put("foreign", manifest(foreign.clone()))
            .await
            .unwrap()
            .status(),
        201
    );
    // Without urls, or as an ordinary layer, the blob must have been pushed.
    let mut without_urls = foreign.clone();
    without_urls.as_object_mut().unwrap().remove("urls");
    let mut ordinary = foreign;
    ordinary["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
    for (tag, layer) in [("no-urls", without_urls), ("ordinary", ordinary)] {
        let response = put(tag, manifest(layer)).await.unwrap();
        assert_eq!(response.status(), 400, "{tag}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("MANIFEST_BLOB_UNKNOWN"),
            "{tag}"
        );
    }
}

#[tokio::test]
async fn a_damaged_key_file_stops_the_server_with_one_clear_line() {
    let env = TestEnv::new();
    // A first start writes the key; then it is damaged (as a crash mid-write once could).
    env.cli_ok(&["repo", "create", "first", "--format", "composer"]);
    let key = env.data_dir.path().join("secret.key");
    let written = std::fs::read_to_string(&key).unwrap_or_default();
    if written.is_empty() {
        // The CLI does not need the key; a server start writes it.
        let server = env.start();
        drop(server);
    }
    assert_eq!(std::fs::read_to_string(&key).unwrap().len(), 64);
    std::fs::write(&key, "").unwrap();
    let out = env.cli(&["serve"], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a key"), "{stderr}");
    assert!(stderr.contains("secret.key"), "{stderr}");
}

#[tokio::test]
async fn garbage_collection_deletes_nothing_it_cannot_prove_unused() {
    let env = TestEnv::new()
        .with_env("PACKISTRY_MAINTENANCE_INTERVAL_SECONDS", "1")
        .with_env("PACKISTRY_GC_GRACE_SECONDS", "0");
    env.cli_ok(&["repo", "create", "images", "--format", "container"]);
    let token = env.admin_token("root@example.com");
    let server = env.start();
    let r = Registry { env, server, token };
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer = b"a layer of a tagged image".to_vec();
    let dropped = b"a layer of an untagged image".to_vec();
    for bytes in [&config, &layer, &dropped] {
        let location = r.start_upload("images/app").await;
        assert_eq!(r.patch(&location, bytes.clone()).await, 202);
        assert_eq!(r.close(&location, &digest(bytes)).await, 201);
    }
    let manifest = |layer: &[u8]| {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": layer.len() }],
        })
        .to_string()
    };
    let tagged = manifest(&layer);
    let untagged = manifest(&dropped);
    for (reference, body) in [
        ("v1".to_owned(), &tagged),
        (digest(untagged.as_bytes()), &untagged),
    ] {
        let response = client()
            .put(
                r.server
                    .url(&format!("/v2/images/app/manifests/{reference}")),
            )
            .basic_auth("token", Some(&r.token))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    // The tagged manifest's bytes become unreadable (a storage hiccup, a damaged file).
    let file = |bytes: &[u8]| {
        let hex = format!("{:x}", Sha256::digest(bytes));
        r.env
            .data_dir
            .path()
            .join("blobs/sha256")
            .join(&hex[..2])
            .join(hex)
    };
    std::fs::write(file(tagged.as_bytes()), b"not a manifest").unwrap();
    // Several passes run; none may delete anything, not even the untagged image's layer.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    for bytes in [&config, &layer, &dropped] {
        assert!(file(bytes).exists(), "a blob was deleted while in doubt");
    }
    assert!(
        r.server
            .logs()
            .contains("garbage collection stopped, nothing deleted"),
        "{}",
        r.server.logs()
    );
}

#[tokio::test]
async fn killed_during_first_starts_the_data_dir_still_works() {
    let env = TestEnv::new();
    // Killed again and again while creating the key and migrating an empty data dir.
    for n in 0..15u64 {
        let mut child = env
            .command()
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10 + (n * 37) % 50));
        let _ = child.kill();
        let _ = child.wait();
    }
    // Then everything works: the CLI, and a server.
    env.create_user("root@example.com", "admin", "root-password-1");
    env.cli_ok(&["repo", "create", "after", "--format", "composer"]);
    let server = env.start();
    let ready = client().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}
