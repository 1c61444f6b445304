//! Packistry on a real S3-compatible store (moto's server), two replicas sharing the
//! database and the bucket: uploads started on one replica finish on the other, every
//! format's bytes land in the bucket, nothing in the local data directory but staging.

use packistry_tests::oci::{self, build_image, run, text};
use packistry_tests::s3::{self, S3};
use packistry_tests::{client, files_under, TestEnv, TestServer};
use serde_json::json;
use sha2::{Digest, Sha256};

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

async fn send(
    server: &TestServer,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::RequestBuilder {
    let url = if path.starts_with("http") {
        path.to_owned()
    } else {
        server.url(path)
    };
    client()
        .request(method, url)
        .basic_auth("token", Some(token))
}

/// `env` storing in `bucket`, with a container repository `images` and an administrator's
/// token for all repositories.
fn on_bucket(mut env: TestEnv, bucket: &S3) -> (TestEnv, String) {
    for (key, value) in bucket.env("registry") {
        env = env.with_env(key, &value);
    }
    env.cli_ok(&["repo", "create", "images", "--format", "container"]);
    env.create_user("admin@example.com", "admin", "admin-password-1");
    let token = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "admin@example.com",
        "--name",
        "ci",
        "--all-repositories",
        "--role",
        "administrator",
    ]);
    (env, token)
}

#[tokio::test]
async fn two_replicas_share_the_bucket_and_finish_each_others_uploads() {
    if !s3::available() {
        return;
    }
    let bucket = S3::start("packistry").await;
    let (env, token) = on_bucket(TestEnv::new(), &bucket);
    env.cli_ok(&["repo", "create", "java", "--format", "maven"]);
    // Two replicas on the same database and bucket.
    let a = env.start();
    let b = env.start();

    // A chunked upload: started and half sent on A, finished on B.
    let layer: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let digest = sha256(&layer);
    let started = send(
        &a,
        &token,
        reqwest::Method::POST,
        "/v2/images/app/blobs/uploads/",
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(started.status().as_u16(), 202);
    let location = header(&started, "location");
    let first = send(&a, &token, reqwest::Method::PATCH, &location)
        .await
        .header("content-range", "0-149999")
        .body(layer[..150_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 202);
    let location = header(&first, "location");
    let second = send(&b, &token, reqwest::Method::PATCH, &location)
        .await
        .header("content-range", "150000-299999")
        .body(layer[150_000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(
        second.status().as_u16(),
        202,
        "{}",
        second.text().await.unwrap()
    );
    let location = header(&second, "location");
    let done = send(&b, &token, reqwest::Method::PUT, &location)
        .await
        .query(&[("digest", &digest)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        done.status().as_u16(),
        201,
        "{}",
        done.text().await.unwrap()
    );

    // A streamed upload (one PATCH, as skopeo and podman send) on B, closed on A: the part
    // is verified and promoted by a copy inside the bucket. A wrong digest is refused.
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = sha256(config);
    for (closing_digest, expected) in [
        (sha256(b"something else"), 400),
        (config_digest.clone(), 201),
    ] {
        let started = send(
            &b,
            &token,
            reqwest::Method::POST,
            "/v2/images/app/blobs/uploads/",
        )
        .await
        .send()
        .await
        .unwrap();
        let patched = send(
            &b,
            &token,
            reqwest::Method::PATCH,
            &header(&started, "location"),
        )
        .await
        .body(config.to_vec())
        .send()
        .await
        .unwrap();
        assert_eq!(patched.status().as_u16(), 202);
        let closed = send(
            &a,
            &token,
            reqwest::Method::PUT,
            &header(&patched, "location"),
        )
        .await
        .query(&[("digest", &closing_digest)])
        .send()
        .await
        .unwrap();
        assert_eq!(closed.status().as_u16(), expected);
        if expected == 400 {
            // A refused close leaves the session open for another try; cancel it.
            let cancelled = send(
                &a,
                &token,
                reqwest::Method::DELETE,
                &header(&patched, "location"),
            )
            .await
            .send()
            .await
            .unwrap();
            assert_eq!(cancelled.status().as_u16(), 204);
        }
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": layer.len() }],
    }))
    .unwrap();
    let put = send(
        &a,
        &token,
        reqwest::Method::PUT,
        "/v2/images/app/manifests/v1",
    )
    .await
    .header("content-type", "application/vnd.oci.image.manifest.v1+json")
    .body(manifest.clone())
    .send()
    .await
    .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    // Read back on the other replica.
    for (path, bytes) in [
        (format!("/v2/images/app/blobs/{digest}"), layer.clone()),
        (
            format!("/v2/images/app/blobs/{config_digest}"),
            config.to_vec(),
        ),
        ("/v2/images/app/manifests/v1".to_owned(), manifest.clone()),
    ] {
        let got = send(&b, &token, reqwest::Method::GET, &path)
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(got.status().as_u16(), 200, "{path}");
        assert_eq!(
            got.bytes().await.unwrap().as_ref(),
            bytes.as_slice(),
            "{path}"
        );
    }

    // Maven: deployed through A, its checksums served by B.
    let jar = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec();
    let put = send(
        &a,
        &token,
        reqwest::Method::PUT,
        "/maven/java/org/example/lib/1.0/lib-1.0.jar",
    )
    .await
    .body(jar.clone())
    .send()
    .await
    .unwrap();
    assert_eq!(put.status().as_u16(), 201);
    let sum = send(
        &b,
        &token,
        reqwest::Method::GET,
        "/maven/java/org/example/lib/1.0/lib-1.0.jar.sha256",
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(
        sum.text().await.unwrap(),
        sha256(&jar).trim_start_matches("sha256:")
    );

    // The real clients, across replicas.
    if oci::available() {
        let dir = tempfile::tempdir().unwrap();
        build_image(
            dir.path(),
            &[
                ("one.bin", vec![1u8; 50_000]),
                ("two.bin", vec![2u8; 70_000]),
            ],
        );
        let creds = format!("token:{token}");
        let host = |s: &TestServer| s.base_url.trim_start_matches("http://").to_owned();
        let pushed = run(
            "skopeo",
            &[
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                &creds,
                "oci:img:v1",
                &format!("docker://{}/images/skopeo:v1", host(&a)),
            ],
            dir.path(),
        );
        assert!(pushed.status.success(), "{}", text(&pushed));
        let pulled = run(
            "skopeo",
            &[
                "copy",
                "--src-tls-verify=false",
                "--src-creds",
                &creds,
                &format!("docker://{}/images/skopeo:v1", host(&b)),
                "oci:back:v1",
            ],
            dir.path(),
        );
        assert!(pulled.status.success(), "{}", text(&pulled));
    }

    // Everything is in the bucket under the prefix; no upload parts are left; the local
    // data directory holds no blobs.
    let keys = bucket.keys().await;
    let blob_key = |d: &str| {
        let hex = d.trim_start_matches("sha256:");
        format!("registry/sha256/{}/{hex}", &hex[..2])
    };
    for d in [&digest, &config_digest, &sha256(&manifest), &sha256(&jar)] {
        assert!(keys.contains(&blob_key(d)), "{d} missing from {keys:?}");
    }
    assert!(keys.iter().all(|k| k.starts_with("registry/")), "{keys:?}");
    assert!(
        !keys.iter().any(|k| k.starts_with("registry/uploads/")),
        "upload parts left: {keys:?}"
    );
    assert!(files_under(&env.data_dir.path().join("blobs")).is_empty());
    assert!(files_under(&env.data_dir.path().join("tmp")).is_empty());
}

/// Garbage collection on the bucket: an untagged manifest and the layer only it used go,
/// through the set-aside step (an object copied aside, then removed), and leave nothing
/// aside; a tagged image stays whole.
#[tokio::test]
async fn garbage_collection_clears_the_bucket_and_leaves_nothing_aside() {
    if !s3::available() {
        return;
    }
    let bucket = S3::start("packistry-gc").await;
    let env = TestEnv::new()
        .with_env("PACKISTRY_MAINTENANCE_INTERVAL_SECONDS", "1")
        .with_env("PACKISTRY_GC_GRACE_SECONDS", "0");
    let (env, token) = on_bucket(env, &bucket);
    let server = env.start();
    let push_blob = |bytes: Vec<u8>| {
        let (server, token) = (&server, &token);
        async move {
            let path = format!("/v2/images/app/blobs/uploads/?digest={}", sha256(&bytes));
            let response = send(server, token, reqwest::Method::POST, &path)
                .await
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 201);
        }
    };
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let kept = b"a layer the tagged image uses".to_vec();
    let dropped = b"a layer only the untagged manifest uses".to_vec();
    for bytes in [&config, &kept, &dropped] {
        push_blob(bytes.clone()).await;
    }
    let manifest = |layer: &[u8]| {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer), "size": layer.len() }],
        })
        .to_string()
    };
    let tagged = manifest(&kept);
    let untagged = manifest(&dropped);
    for (reference, body) in [
        ("v1".to_owned(), &tagged),
        (sha256(untagged.as_bytes()), &untagged),
    ] {
        let path = format!("/v2/images/app/manifests/{reference}");
        let response = send(&server, &token, reqwest::Method::PUT, &path)
            .await
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    let hex_of = |bytes: &[u8]| sha256(bytes).trim_start_matches("sha256:").to_owned();
    let mut keys = Vec::new();
    for _ in 0..60 {
        keys = bucket.keys().await;
        let gone = |bytes: &[u8]| !keys.iter().any(|k| k.ends_with(&hex_of(bytes)));
        if gone(&dropped) && gone(untagged.as_bytes()) && !keys.iter().any(|k| k.contains("trash/"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    for bytes in [dropped.as_slice(), untagged.as_bytes()] {
        assert!(
            !keys.iter().any(|k| k.ends_with(&hex_of(bytes))),
            "collected: {keys:?}"
        );
    }
    assert!(!keys.iter().any(|k| k.contains("trash/")), "{keys:?}");
    for bytes in [&config, &kept] {
        assert!(keys.iter().any(|k| k.ends_with(&hex_of(bytes))), "{keys:?}");
        let path = format!("/v2/images/app/blobs/{}", sha256(bytes));
        let response = send(&server, &token, reqwest::Method::GET, &path)
            .await
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let response = send(
        &server,
        &token,
        reqwest::Method::GET,
        "/v2/images/app/manifests/v1",
    )
    .await
    .send()
    .await
    .unwrap();
    assert_eq!(response.text().await.unwrap(), tagged);
}
