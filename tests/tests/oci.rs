//! Container repositories with the real clients (skopeo, podman, oras) and the distribution
//! specification's edge cases over plain HTTP.

use packistry_tests::oci::{self, build_image, run, text};
use packistry_tests::{client, files_under, revoke_own_token, TestEnv, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

struct Setup {
    env: TestEnv,
    server: TestServer,
    writer: String,
    reader: String,
    admin: String,
    host: String,
}

fn setup_with(env: TestEnv) -> Setup {
    env.cli_ok(&["repo", "create", "images", "--format", "container"]);
    env.cli_ok(&[
        "repo",
        "create",
        "public-images",
        "--format",
        "container",
        "--visibility",
        "public",
    ]);
    env.cli_ok(&["repo", "create", "secret-images", "--format", "container"]);
    env.create_user("dev@example.com", "user", "dev-password-1");
    env.create_user("reader@example.com", "user", "reader-password-1");
    env.create_user("admin@example.com", "admin", "admin-password-1");
    for repository in ["images", "public-images"] {
        env.cli_ok(&[
            "grant",
            "--repository",
            repository,
            "--user",
            "dev@example.com",
            "--role",
            "developer",
        ]);
    }
    env.cli_ok(&[
        "grant",
        "--repository",
        "images",
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
    let writer = token("dev@example.com", "ci", "developer");
    let reader = token("reader@example.com", "app", "reader");
    let admin = token("admin@example.com", "root", "administrator");
    let server = env.start();
    let host = server.base_url.trim_start_matches("http://").to_owned();
    Setup {
        env,
        server,
        writer,
        reader,
        admin,
        host,
    }
}

fn setup() -> Setup {
    setup_with(TestEnv::new())
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The manifest digest and layer digests of `img:v1` in an OCI layout.
fn layout_digests(layout: &std::path::Path, tag: &str) -> (String, Vec<String>) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap();
    let digest = manifest["digest"].as_str().unwrap().to_owned();
    let blob = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let body: Value = serde_json::from_slice(&std::fs::read(blob).unwrap()).unwrap();
    let layers = body["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect();
    (digest, layers)
}

#[tokio::test]
async fn skopeo_podman_and_oras_push_and_pull() {
    if !oci::available() {
        return;
    }
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    build_image(
        dir.path(),
        &[
            ("hello.txt", b"hello\n".to_vec()),
            ("data.bin", random_bytes(3 << 20, 7)),
            ("more.bin", random_bytes(1 << 20, 9)),
        ],
    );
    let (source_digest, source_layers) = layout_digests(&dir.path().join("img"), "v1");
    let remote = format!("docker://{}/images/team/app:v1", s.host);
    let creds = format!("token:{}", s.writer);

    let out = run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            "oci:img:v1",
            &remote,
        ],
        dir.path(),
    );
    assert!(out.status.success(), "skopeo push: {}", text(&out));
    let reader_creds = format!("token:{}", s.reader);
    let out = run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &reader_creds,
            &remote,
            "oci:out:v1",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "skopeo pull: {}", text(&out));
    let (pulled_digest, pulled_layers) = layout_digests(&dir.path().join("out"), "v1");
    assert_eq!(pulled_digest, source_digest, "identical manifest digest");
    assert_eq!(pulled_layers, source_layers, "identical layers");

    // The pull counts as the image's download (the push did not); fetching the manifest it
    // named again by digest, right after, is the same pull; another caller's is another.
    assert_eq!(pulls_counted(&s, "team/app", 1).await, 1);
    for (token, method) in [(&s.reader, "GET"), (&s.writer, "HEAD"), (&s.writer, "GET")] {
        let response = client()
            .request(
                method.parse().unwrap(),
                s.server
                    .url(&format!("/v2/images/team/app/manifests/{source_digest}")),
            )
            .basic_auth("token", Some(token))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(pulls_counted(&s, "team/app", 2).await, 2);

    // A reader may pull but not push.
    let out = run(
        "skopeo",
        &[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &reader_creds,
            "oci:img:v1",
            &format!("docker://{}/images/team/other:v1", s.host),
        ],
        dir.path(),
    );
    assert!(!out.status.success(), "a reader must not push");

    // podman pulls it and pushes it under another name (nested image names).
    let storage = dir.path().join("podman");
    let podman = |args: &[&str]| {
        let mut all = vec![
            "--root".to_owned(),
            storage.join("root").display().to_string(),
            "--runroot".to_owned(),
            storage.join("run").display().to_string(),
            "--storage-driver".to_owned(),
            "vfs".to_owned(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        run("podman", &refs, dir.path())
    };
    let image = format!("{}/images/team/app:v1", s.host);
    let out = podman(&["pull", "--tls-verify=false", "--creds", &creds, &image]);
    assert!(out.status.success(), "podman pull: {}", text(&out));
    let copy = format!("{}/images/team/nested/copy:v2", s.host);
    let out = podman(&["tag", &image, &copy]);
    assert!(out.status.success(), "podman tag: {}", text(&out));
    let out = podman(&["push", "--tls-verify=false", "--creds", &creds, &copy]);
    assert!(out.status.success(), "podman push: {}", text(&out));
    let response = client()
        .get(s.server.url("/v2/images/team/nested/copy/tags/list"))
        .basic_auth("token", Some(&s.writer))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["tags"],
        json!(["v2"])
    );

    // oras pushes an artifact whose subject is the image; the referrers API lists it.
    let manifest = client()
        .get(s.server.url("/v2/images/team/app/manifests/v1"))
        .basic_auth("token", Some(&s.writer))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    let media_type = manifest.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let size = manifest.bytes().await.unwrap().len();
    std::fs::write(dir.path().join("signature.txt"), b"signed").unwrap();
    let script = format!(
        r#"
import oras.client, oras.oci
c = oras.client.OrasClient(hostname="{host}", insecure=True)
c.login(username="token", password="{token}", hostname="{host}")
subject = oras.oci.Subject(mediaType="{media_type}", digest="{digest}", size={size})
r = c.push(files=["signature.txt"], target="{host}/images/team/app:signature", subject=subject, manifest_annotations={{"org.example.kind": "signature"}})
print(r.status_code, r.headers.get("OCI-Subject"))
"#,
        host = s.host,
        token = s.writer,
        digest = source_digest,
    );
    let out = run("python3", &["-c", &script], dir.path());
    assert!(out.status.success(), "oras push: {}", text(&out));
    assert!(
        text(&out).contains(&format!("201 {source_digest}")),
        "{}",
        text(&out)
    );
    let referrers: Value = client()
        .get(
            s.server
                .url(&format!("/v2/images/team/app/referrers/{source_digest}")),
        )
        .basic_auth("token", Some(&s.reader))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        referrers["manifests"].as_array().unwrap().len(),
        1,
        "{referrers} {}",
        s.server.logs()
    );
    let artifact_type = referrers["manifests"][0]["artifactType"]
        .as_str()
        .unwrap()
        .to_owned();
    let filtered = client()
        .get(s.server.url(&format!(
            "/v2/images/team/app/referrers/{source_digest}?artifactType=application/x-nothing"
        )))
        .basic_auth("token", Some(&s.reader))
        .send()
        .await
        .unwrap();
    assert_eq!(filtered.headers()["oci-filters-applied"], "artifactType");
    assert_eq!(
        filtered.json::<Value>().await.unwrap()["manifests"],
        json!([])
    );
    let matching: Value = client()
        .get(
            s.server
                .url(&format!("/v2/images/team/app/referrers/{source_digest}")),
        )
        .query(&[("artifactType", artifact_type.as_str())])
        .basic_auth("token", Some(&s.reader))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(matching["manifests"].as_array().unwrap().len(), 1);
}

/// The image's total downloads once it reaches `expected` and stays there past the next
/// batch write (pulls are written every two seconds), checked against its downloads per day.
async fn pulls_counted(s: &Setup, image: &str, expected: i64) -> i64 {
    let query = format!(
        "{{ package(repository: \"images\", name: \"{image}\") {{ totalDownloads downloads(days: 2) {{ count }} }} }}"
    );
    let read = || async {
        let answer: Value = client()
            .post(s.server.url("/graphql"))
            .bearer_auth(&s.reader)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["data"]["package"].clone()
    };
    for _ in 0..40 {
        if read().await["totalDownloads"] == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let package = read().await;
    let total = package["totalDownloads"].as_i64().expect("totalDownloads");
    let per_day: i64 = package["downloads"]
        .as_array()
        .expect("downloads per day")
        .iter()
        .map(|d| d["count"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(per_day, total, "{package}");
    total
}

#[tokio::test]
async fn anonymous_pulls_public_images_only_and_the_catalog_is_filtered() {
    if !oci::available() {
        return;
    }
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    build_image(dir.path(), &[("a.txt", b"a".to_vec())]);
    let creds = format!("token:{}", s.admin);
    for repository in ["public-images", "images", "secret-images"] {
        let out = run(
            "skopeo",
            &[
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                &creds,
                "oci:img:v1",
                &format!("docker://{}/{repository}/app:v1", s.host),
            ],
            dir.path(),
        );
        assert!(out.status.success(), "push to {repository}: {}", text(&out));
    }
    let out = run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--src-no-creds",
            &format!("docker://{}/public-images/app:v1", s.host),
            "oci:public:v1",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "anonymous pull of a public image: {}",
        text(&out)
    );
    let out = run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            "--src-no-creds",
            &format!("docker://{}/images/app:v1", s.host),
            "oci:private:v1",
        ],
        dir.path(),
    );
    assert!(
        !out.status.success(),
        "anonymous pull of a private image must fail"
    );

    // Anonymous: a challenge naming the token endpoint and the scope.
    let response = client()
        .get(s.server.url("/v2/images/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{}/v2/token\"", s.server.base_url)),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"repository:images/app:pull\""),
        "{challenge}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");

    // A token from /v2/token carries every action allowed, whatever was asked.
    let answer: Value = client()
        .get(
            s.server
                .url("/v2/token?service=x&scope=repository:images/app:pull"),
        )
        .basic_auth("anything", Some(&s.writer))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer["token"].is_string() && answer["access_token"] == answer["token"]);
    assert!(answer["expires_in"].as_i64().unwrap() > 0 && answer["issued_at"].is_string());
    let bearer = answer["token"].as_str().unwrap();
    let upload = client()
        .post(s.server.url("/v2/images/app/blobs/uploads/"))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        upload.status().as_u16(),
        202,
        "a pull-scoped token of a writer may push"
    );

    // The catalog lists only what the caller may list.
    let catalog = |token: String| {
        let s = &s;
        async move {
            let answer: Value = client()
                .get(s.server.url("/v2/_catalog"))
                .basic_auth("token", Some(&token))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["repositories"].clone()
        }
    };
    assert_eq!(
        catalog(s.writer.clone()).await,
        json!(["images/app", "public-images/app"])
    );
    // A token scoped to the reader role cannot list, not even where anonymous callers may.
    assert_eq!(
        catalog(s.reader.clone()).await,
        json!([]),
        "a reader may not list images"
    );
    assert_eq!(
        catalog(s.admin.clone()).await,
        json!(["images/app", "public-images/app", "secret-images/app"])
    );
    let page: Value = client()
        .get(s.server.url("/v2/_catalog?n=1"))
        .basic_auth("token", Some(&s.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["repositories"], json!(["images/app"]));
}

async fn start_upload(s: &Setup, name: &str) -> String {
    let response = client()
        .post(s.server.url(&format!("/v2/{name}/blobs/uploads/")))
        .basic_auth("token", Some(&s.writer))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn patch(s: &Setup, location: &str, start: usize, chunk: &[u8]) -> reqwest::Response {
    client()
        .patch(s.server.url(location))
        .basic_auth("token", Some(&s.writer))
        .header("content-type", "application/octet-stream")
        .header(
            "content-range",
            format!("{}-{}", start, start + chunk.len() - 1),
        )
        .body(chunk.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn chunked_uploads_resume_after_a_restart_and_refuse_out_of_order_chunks() {
    let env = TestEnv::new();
    let s = setup_with(env);
    let blob = random_bytes(200_000, 3);
    let digest = sha256(&blob);
    let location = start_upload(&s, "images/app").await;
    let first = patch(&s, &location, 0, &blob[..100_000]).await;
    assert_eq!(first.status().as_u16(), 202);
    assert_eq!(first.headers()["range"], "0-99999");
    // Out of order: 416.
    let wrong = patch(&s, &location, 150_000, &blob[150_000..]).await;
    assert_eq!(wrong.status().as_u16(), 416);
    // GET on the upload says how far it got.
    let status = client()
        .get(s.server.url(&location))
        .basic_auth("token", Some(&s.writer))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status().as_u16(), 204);
    assert_eq!(status.headers()["range"], "0-99999");

    // The server restarts; the upload lives on.
    let Setup {
        env,
        server,
        writer,
        reader,
        admin,
        host,
    } = s;
    server.stop();
    let server = env.start();
    let s = Setup {
        env,
        server,
        writer,
        reader,
        admin,
        host,
    };
    let second = patch(&s, &location, 100_000, &blob[100_000..]).await;
    assert_eq!(
        second.status().as_u16(),
        202,
        "{}",
        second.text().await.unwrap()
    );
    // A wrong digest is refused; the right one completes it.
    let bad = client()
        .put(
            s.server
                .url(&format!("{location}?digest={}", sha256(b"other"))),
        )
        .basic_auth("token", Some(&s.writer))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["errors"][0]["code"],
        "DIGEST_INVALID"
    );
    let done = client()
        .put(s.server.url(&format!("{location}?digest={digest}")))
        .basic_auth("token", Some(&s.writer))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 201);
    assert_eq!(
        done.headers()["docker-content-digest"].to_str().unwrap(),
        digest
    );
    let fetched = client()
        .get(s.server.url(&format!("/v2/images/app/blobs/{digest}")))
        .basic_auth("token", Some(&s.reader))
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.bytes().await.unwrap().to_vec(), blob);
    // Range requests on blobs.
    let part = client()
        .get(s.server.url(&format!("/v2/images/app/blobs/{digest}")))
        .basic_auth("token", Some(&s.reader))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(part.bytes().await.unwrap().to_vec(), blob[10..20].to_vec());
    // A cancelled upload is gone.
    let location = start_upload(&s, "images/app").await;
    let cancelled = client()
        .delete(s.server.url(&location))
        .basic_auth("token", Some(&s.writer))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status().as_u16(), 204);
    let gone = client()
        .get(s.server.url(&location))
        .basic_auth("token", Some(&s.writer))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(
        gone.json::<Value>().await.unwrap()["errors"][0]["code"],
        "BLOB_UPLOAD_UNKNOWN"
    );
}

#[tokio::test]
async fn manifests_are_validated_and_deletes_need_an_administrator() {
    let s = setup();
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let config_digest = sha256(&config);
    // Monolithic single-POST upload of the config.
    let posted = client()
        .post(s.server.url(&format!(
            "/v2/images/app/blobs/uploads/?digest={config_digest}"
        )))
        .basic_auth("token", Some(&s.writer))
        .header("content-type", "application/octet-stream")
        .body(config.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 201);
    let missing = sha256(b"not uploaded");
    let manifest = |layer: &str| {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 12 }],
        })
        .to_string()
    };
    let put = |reference: &str, body: String, token: &str| {
        client()
            .put(
                s.server
                    .url(&format!("/v2/images/app/manifests/{reference}")),
            )
            .basic_auth("token", Some(token))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body)
            .send()
    };
    let refused = put("v1", manifest(&missing), &s.writer).await.unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["errors"][0]["code"],
        "MANIFEST_BLOB_UNKNOWN"
    );
    let invalid = put("v1", "{not json".into(), &s.writer).await.unwrap();
    assert_eq!(
        invalid.json::<Value>().await.unwrap()["errors"][0]["code"],
        "MANIFEST_INVALID"
    );

    // With the layer present it goes in; by tag and by digest.
    let layer = b"layer bytes!".to_vec();
    let layer_digest = sha256(&layer);
    let location = start_upload(&s, "images/app").await;
    let done = client()
        .put(s.server.url(&format!("{location}?digest={layer_digest}")))
        .basic_auth("token", Some(&s.writer))
        .body(layer)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status().as_u16(), 201);
    let body = manifest(&layer_digest);
    let digest = sha256(body.as_bytes());
    let accepted = put("v1", body.clone(), &s.writer).await.unwrap();
    assert_eq!(accepted.status().as_u16(), 201);
    assert_eq!(
        accepted.headers()["docker-content-digest"]
            .to_str()
            .unwrap(),
        digest
    );
    let by_digest = client()
        .head(s.server.url(&format!("/v2/images/app/manifests/{digest}")))
        .basic_auth("token", Some(&s.reader))
        .send()
        .await
        .unwrap();
    assert_eq!(by_digest.status().as_u16(), 200);
    assert_eq!(
        by_digest.headers()["content-length"].to_str().unwrap(),
        body.len().to_string()
    );
    let wrong_digest = put(&sha256(b"x"), body.clone(), &s.writer).await.unwrap();
    assert_eq!(
        wrong_digest.json::<Value>().await.unwrap()["errors"][0]["code"],
        "DIGEST_INVALID"
    );

    // Deletes: a developer may not; an administrator may, by tag and by digest.
    let denied = client()
        .delete(s.server.url("/v2/images/app/manifests/v1"))
        .basic_auth("token", Some(&s.writer))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status().as_u16(), 403);
    assert_eq!(
        denied.json::<Value>().await.unwrap()["errors"][0]["code"],
        "DENIED"
    );
    let deleted = client()
        .delete(s.server.url("/v2/images/app/manifests/v1"))
        .basic_auth("token", Some(&s.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 202);
    let tags: Value = client()
        .get(s.server.url("/v2/images/app/tags/list"))
        .basic_auth("token", Some(&s.admin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tags["tags"], json!([]));
    let deleted = client()
        .delete(s.server.url(&format!("/v2/images/app/manifests/{digest}")))
        .basic_auth("token", Some(&s.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 202);
    let gone = client()
        .get(s.server.url(&format!("/v2/images/app/manifests/{digest}")))
        .basic_auth("token", Some(&s.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(
        gone.json::<Value>().await.unwrap()["errors"][0]["code"],
        "MANIFEST_UNKNOWN"
    );
    let _ = &s.env;
}

#[tokio::test]
async fn maintenance_collects_garbage_and_abandoned_uploads() {
    let env = TestEnv::new()
        .with_env("PACKISTRY_MAINTENANCE_INTERVAL_SECONDS", "1")
        .with_env("PACKISTRY_UPLOAD_TTL_SECONDS", "1")
        .with_env("PACKISTRY_GC_GRACE_SECONDS", "0");
    let s = setup_with(env);
    let push_blob = |bytes: Vec<u8>| {
        let s = &s;
        async move {
            let response = client()
                .post(s.server.url(&format!(
                    "/v2/images/app/blobs/uploads/?digest={}",
                    sha256(&bytes)
                )))
                .basic_auth("token", Some(&s.writer))
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 201);
        }
    };
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let kept_layer = b"kept layer".to_vec();
    let dropped_layer = b"dropped layer".to_vec();
    push_blob(config.clone()).await;
    push_blob(kept_layer.clone()).await;
    push_blob(dropped_layer.clone()).await;
    let manifest = |layer: &[u8]| {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(layer), "size": layer.len() }],
        })
        .to_string()
    };
    let tagged = manifest(&kept_layer);
    let untagged = manifest(&dropped_layer);
    for (reference, body) in [
        ("v1".to_owned(), tagged.clone()),
        (sha256(untagged.as_bytes()), untagged.clone()),
    ] {
        let response = client()
            .put(
                s.server
                    .url(&format!("/v2/images/app/manifests/{reference}")),
            )
            .basic_auth("token", Some(&s.writer))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    let abandoned = start_upload(&s, "images/app").await;

    let blob_file = |bytes: &[u8]| {
        let hex = sha256(bytes).trim_start_matches("sha256:").to_owned();
        s.env
            .data_dir
            .path()
            .join("blobs/sha256")
            .join(&hex[..2])
            .join(hex)
    };
    let mut collected = false;
    for _ in 0..60 {
        let gone = client()
            .get(s.server.url(&format!(
                "/v2/images/app/manifests/{}",
                sha256(untagged.as_bytes())
            )))
            .basic_auth("token", Some(&s.admin))
            .send()
            .await
            .unwrap();
        let upload = client()
            .get(s.server.url(&abandoned))
            .basic_auth("token", Some(&s.writer))
            .send()
            .await
            .unwrap();
        if gone.status().as_u16() == 404
            && upload.status().as_u16() == 404
            && !blob_file(&dropped_layer).exists()
        {
            collected = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(
        collected,
        "the untagged manifest, its layer and the abandoned upload are gone:\n{}",
        s.server.logs()
    );
    // What is tagged stays whole.
    for bytes in [&config, &kept_layer] {
        assert!(blob_file(bytes).exists());
        let response = client()
            .get(
                s.server
                    .url(&format!("/v2/images/app/blobs/{}", sha256(bytes))),
            )
            .basic_auth("token", Some(&s.reader))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
    let response = client()
        .get(s.server.url("/v2/images/app/manifests/v1"))
        .basic_auth("token", Some(&s.reader))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), tagged);
    assert!(files_under(&s.env.data_dir.path().join("blobs/uploads")).is_empty());

    // Pushed again: bytes still stored are only renewed, collected ones are written anew.
    assert!(!blob_file(untagged.as_bytes()).exists());
    for (tag, body) in [("v2", &tagged), ("again", &untagged)] {
        // With no grace period, the collector (every second) may take the layer pushed
        // again before the manifest naming it arrives: then the push is refused, and tried
        // again as a client would.
        let mut status = 0;
        for _ in 0..20 {
            if tag == "again" {
                push_blob(dropped_layer.clone()).await;
            }
            let response = client()
                .put(s.server.url(&format!("/v2/images/app/manifests/{tag}")))
                .basic_auth("token", Some(&s.writer))
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            status = response.status().as_u16();
            let errors: Value = response.json().await.unwrap_or(Value::Null);
            if status != 400 || errors["errors"][0]["code"] != "MANIFEST_BLOB_UNKNOWN" {
                break;
            }
        }
        assert_eq!(status, 201);
        assert!(blob_file(body.as_bytes()).exists());
        let response = client()
            .get(s.server.url(&format!("/v2/images/app/manifests/{tag}")))
            .basic_auth("token", Some(&s.reader))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(&response.text().await.unwrap(), body);
    }
}

/// A manifest asked again with the same credentials is answered from memory for a moment;
/// a push that moves the tag, and a revoked token, take effect at once all the same.
#[tokio::test]
async fn repeated_manifest_answers_follow_pushes_and_revocations() {
    let s = setup();
    let server = &s.server;
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = sha256(config);
    let posted = client()
        .post(server.url(&format!(
            "/v2/images/cached/blobs/uploads/?digest={config_digest}"
        )))
        .basic_auth("token", Some(&s.writer))
        .body(config.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    let push = |revision: &str| {
        let body = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len() },
            "layers": [],
            "annotations": { "org.example.revision": revision },
        })
        .to_string();
        let digest = sha256(body.as_bytes());
        let request = client()
            .put(server.url("/v2/images/cached/manifests/v1"))
            .basic_auth("token", Some(&s.writer))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body);
        async move {
            assert_eq!(request.send().await.unwrap().status(), 201);
            digest
        }
    };
    let get = |token: String| async move {
        let response = client()
            .get(server.url("/v2/images/cached/manifests/v1"))
            .basic_auth("token", Some(&token))
            .header("accept", "application/vnd.oci.image.manifest.v1+json")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let digest = response
            .headers()
            .get("docker-content-digest")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.bytes().await.unwrap();
        if let Some(digest) = &digest {
            assert_eq!(&sha256(&body), digest, "the body is the manifest named");
        }
        (status, digest)
    };
    let first = push("1").await;
    for _ in 0..3 {
        assert_eq!(get(s.reader.clone()).await, (200, Some(first.clone())));
    }
    let second = push("2").await;
    assert_eq!(get(s.reader.clone()).await, (200, Some(second.clone())));

    revoke_own_token(server, &s.reader).await;
    assert_eq!(get(s.reader.clone()).await.0, 401);
}
