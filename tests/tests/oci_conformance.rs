//! The OCI distribution specification's four workflows — pull, push, content discovery,
//! content management — walked over plain HTTP, asserting what the specification requires
//! of a registry (status codes, headers, error codes). Written for Packistry after the
//! categories of the specification's conformance suite, going further where the suite is
//! lenient (error codes, bodies, ranges); the suite itself, spec by spec, is ported in
//! `oci_conformance_suite.rs`, and the real clients (skopeo, podman, oras) are exercised in
//! `oci.rs`.

use packistry_tests::{client, TestEnv, TestServer};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const EMPTY_JSON: &str = "application/vnd.oci.empty.v1+json";

/// The error codes of the specification.
const ERROR_CODES: &[&str] = &[
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

/// A registry under test: a container repository `conformance`, a developer's token for
/// pushes and an administrator's for deletes.
struct Registry {
    _env: TestEnv,
    server: TestServer,
    writer: String,
    admin: String,
    name: &'static str,
}

fn registry() -> Registry {
    let env = TestEnv::new();
    env.cli_ok(&["repo", "create", "conformance", "--format", "container"]);
    env.create_user("dev@example.com", "user", "dev-password-1");
    env.create_user("admin@example.com", "admin", "admin-password-1");
    env.cli_ok(&[
        "grant",
        "--repository",
        "conformance",
        "--user",
        "dev@example.com",
        "--role",
        "developer",
    ]);
    let token = |user: &str, role: &str| {
        env.cli_ok(&[
            "token",
            "create",
            "--user",
            user,
            "--name",
            role,
            "--all-repositories",
            "--role",
            role,
        ])
    };
    let writer = token("dev@example.com", "developer");
    let admin = token("admin@example.com", "administrator");
    let server = env.start();
    Registry {
        _env: env,
        server,
        writer,
        admin,
        name: "conformance/app",
    }
}

struct Blob {
    bytes: Vec<u8>,
    digest: String,
}

fn blob(bytes: impl Into<Vec<u8>>) -> Blob {
    let bytes = bytes.into();
    let digest = format!("sha256:{}", hex(&Sha256::digest(&bytes)));
    Blob { bytes, digest }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn descriptor(media_type: &str, blob: &Blob) -> Value {
    json!({ "mediaType": media_type, "digest": blob.digest, "size": blob.bytes.len() })
}

impl Registry {
    /// A request to `path` with `{name}` replaced by the image name, as the developer.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.request_as(&self.writer, method, path)
    }

    fn request_as(&self, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
        let path = path.replace("{name}", self.name);
        let url = if path.starts_with("http") {
            path
        } else {
            self.server.url(&path)
        };
        client()
            .request(method, url)
            .basic_auth("token", Some(token))
    }

    /// Push a blob monolithically (POST, then PUT with the digest), as the suite's setup does.
    async fn push_blob(&self, blob: &Blob) {
        let started = self
            .request(Method::POST, "/v2/{name}/blobs/uploads/")
            .send()
            .await
            .unwrap();
        assert_eq!(started.status().as_u16(), 202);
        let response = self
            .request(Method::PUT, &location(&started))
            .query(&[("digest", &blob.digest)])
            .header("content-type", "application/octet-stream")
            .body(blob.bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201, "{}", body(response).await);
    }

    async fn put_manifest(&self, reference: &str, media_type: &str, manifest: &[u8]) -> Response {
        self.request(Method::PUT, &format!("/v2/{{name}}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(manifest.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn tags(&self, query: &str) -> (reqwest::header::HeaderMap, Vec<String>) {
        let response = self
            .request(Method::GET, &format!("/v2/{{name}}/tags/list{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let headers = response.headers().clone();
        let list: Value = response.json().await.unwrap();
        assert_eq!(list["name"], self.name);
        let tags = list["tags"]
            .as_array()
            .map(|t| t.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        (headers, tags)
    }
}

/// The `Location` of a response, resolved against nothing (the registry may answer an
/// absolute URL or a path).
fn location(response: &Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn body(response: Response) -> String {
    response.text().await.unwrap_or_default()
}

/// The first error code of an error response, checked to be one of the specification's.
async fn error_code(response: Response) -> String {
    let errors: Value = response.json().await.expect("an error body in JSON");
    let code = errors["errors"][0]["code"]
        .as_str()
        .expect("errors[0].code")
        .to_owned();
    assert!(errors["errors"][0]["message"].is_string(), "{errors}");
    assert!(ERROR_CODES.contains(&code.as_str()), "unknown code {code}");
    code
}

/// A config, a layer and an image manifest for them.
fn image(seed: &str) -> (Blob, Blob, Blob) {
    let config = blob(format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":"{seed}"}}"#
    ));
    let layer = blob(format!("layer of {seed}").repeat(100));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &config),
        "layers": [descriptor(OCI_LAYER, &layer)],
    });
    (config, layer, blob(serde_json::to_vec(&manifest).unwrap()))
}

#[tokio::test]
async fn pull() {
    let r = registry();
    let (config, layer, manifest) = image("pull");
    r.push_blob(&config).await;
    r.push_blob(&layer).await;
    let put = r
        .put_manifest("tagtest0", OCI_MANIFEST, &manifest.bytes)
        .await;
    assert_eq!(put.status().as_u16(), 201);
    let missing = blob("never pushed");

    // Blobs: HEAD and GET, present and absent.
    let head = r
        .request(
            Method::HEAD,
            &format!("/v2/{{name}}/blobs/{}", missing.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 404);
    let head = r
        .request(
            Method::HEAD,
            &format!("/v2/{{name}}/blobs/{}", config.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(
        header(&head, "docker-content-digest"),
        Some(config.digest.as_str())
    );
    assert_eq!(
        header(&head, "content-length"),
        Some(config.bytes.len().to_string().as_str())
    );
    let get = r
        .request(
            Method::GET,
            &format!("/v2/{{name}}/blobs/{}", missing.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 404);
    assert_eq!(error_code(get).await, "BLOB_UNKNOWN");
    let get = r
        .request(Method::GET, &format!("/v2/{{name}}/blobs/{}", layer.digest))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 200);
    assert_eq!(get.bytes().await.unwrap().as_ref(), layer.bytes.as_slice());
    // A range of a blob.
    let ranged = r
        .request(Method::GET, &format!("/v2/{{name}}/blobs/{}", layer.digest))
        .header("range", "bytes=5-14")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &layer.bytes[5..15]);

    // Manifests: HEAD and GET by digest and by tag, and absent.
    for reference in ["tagtest0", manifest.digest.as_str()] {
        for method in [Method::HEAD, Method::GET] {
            let response = r
                .request(
                    method.clone(),
                    &format!("/v2/{{name}}/manifests/{reference}"),
                )
                .header("accept", OCI_MANIFEST)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200, "{method} {reference}");
            assert_eq!(
                header(&response, "docker-content-digest"),
                Some(manifest.digest.as_str())
            );
            assert_eq!(header(&response, "content-type"), Some(OCI_MANIFEST));
            if method == Method::GET {
                assert_eq!(
                    response.bytes().await.unwrap().as_ref(),
                    manifest.bytes.as_slice()
                );
            }
        }
    }
    // No conversion: a client that accepts only another format is told it is unknown.
    let other_format = r
        .request(Method::GET, "/v2/{name}/manifests/tagtest0")
        .header(
            "accept",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other_format.status().as_u16(), 404);
    assert_eq!(error_code(other_format).await, "MANIFEST_UNKNOWN");
    let anything = r
        .request(Method::GET, "/v2/{name}/manifests/tagtest0")
        .header("accept", "*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(anything.status().as_u16(), 200);
    let head = r
        .request(Method::HEAD, "/v2/{name}/manifests/nonexistent")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 404);
    let get = r
        .request(Method::GET, "/v2/{name}/manifests/nonexistent")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 404);
    assert_eq!(error_code(get).await, "MANIFEST_UNKNOWN");
    // An unknown repository is NAME_UNKNOWN; a pull from it is not an upload.
    let get = r
        .request(Method::GET, "/v2/conformance/nothing-here/manifests/latest")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 404);
    assert!(
        ["NAME_UNKNOWN", "MANIFEST_UNKNOWN"].contains(&error_code(get).await.as_str()),
        "an unknown image"
    );

    // Error codes: a malformed manifest under a malformed digest is refused in the
    // specification's error format.
    let bad = r
        .put_manifest(
            "sha256:totallywrong",
            OCI_MANIFEST,
            b"{\"schemaVersion\": 2, \"mediaType\": 5}",
        )
        .await;
    let status = bad.status().as_u16();
    assert!(status == 400 || status == 404, "{status}");
    if status == 400 {
        error_code(bad).await;
    }
}

#[tokio::test]
async fn push() {
    let r = registry();

    // Streamed: POST, PATCH with the whole blob, PUT with the digest.
    let streamed = blob("streamed blob ".repeat(50));
    let started = r
        .request(Method::POST, "/v2/{name}/blobs/uploads/")
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 202);
    assert!(header(&started, "docker-upload-uuid").is_some());
    let patched = r
        .request(Method::PATCH, &location(&started))
        .header("content-type", "application/octet-stream")
        .body(streamed.bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status().as_u16(), 202);
    assert_eq!(
        header(&patched, "range"),
        Some(format!("0-{}", streamed.bytes.len() - 1).as_str())
    );
    let closed = r
        .request(Method::PUT, &location(&patched))
        .query(&[("digest", &streamed.digest)])
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status().as_u16(), 201);
    assert!(location(&closed).ends_with(&format!("/blobs/{}", streamed.digest)));
    assert_eq!(
        header(&closed, "docker-content-digest"),
        Some(streamed.digest.as_str())
    );

    // Streamed with a digest that is not the content's: refused, and no blob appears.
    let started = r
        .request(Method::POST, "/v2/{name}/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let patched = r
        .request(Method::PATCH, &location(&started))
        .body(b"streamed, then misnamed".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status().as_u16(), 202);
    let misnamed = blob("something else entirely");
    let refused = r
        .request(Method::PUT, &location(&patched))
        .query(&[("digest", &misnamed.digest)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(error_code(refused).await, "DIGEST_INVALID");
    for digest in [&misnamed.digest, &blob("streamed, then misnamed").digest] {
        let head = r
            .request(Method::HEAD, &format!("/v2/{{name}}/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status().as_u16(), 404);
    }

    // Monolithic in one POST with the digest.
    let single = blob("single post");
    let posted = r
        .request(Method::POST, "/v2/{name}/blobs/uploads/")
        .query(&[("digest", &single.digest)])
        .header("content-type", "application/octet-stream")
        .body(single.bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 201);
    assert!(location(&posted).ends_with(&single.digest));
    let got = r
        .request(
            Method::GET,
            &format!("/v2/{{name}}/blobs/{}", single.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);

    // Monolithic: POST, then PUT with the body and the digest.
    let (config, layer, manifest) = image("push");
    r.push_blob(&config).await;

    // A digest that does not match the body: DIGEST_INVALID, and nothing is stored.
    let liar = blob("the real content");
    let started = r
        .request(Method::POST, "/v2/{name}/blobs/uploads/")
        .send()
        .await
        .unwrap();
    let lied = r
        .request(Method::PUT, &location(&started))
        .query(&[("digest", &blob("other content").digest)])
        .body(liar.bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(lied.status().as_u16(), 400);
    assert_eq!(error_code(lied).await, "DIGEST_INVALID");
    let head = r
        .request(Method::HEAD, &format!("/v2/{{name}}/blobs/{}", liar.digest))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 404);

    // Chunked: out of order is 416; in order, 202 with Range; status with GET; close with PUT.
    let halves = layer.bytes.split_at(layer.bytes.len() / 2);
    let range = |start: usize, chunk: &[u8]| format!("{start}-{}", start + chunk.len() - 1);
    let started = r
        .request(Method::POST, "/v2/{name}/blobs/uploads/")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(started.status().as_u16(), 202);
    let upload = location(&started);
    let wrong = r
        .request(Method::PATCH, &upload)
        .header("content-type", "application/octet-stream")
        .header("content-range", range(halves.0.len(), halves.1))
        .body(halves.1.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 416);
    let first = r
        .request(Method::PATCH, &upload)
        .header("content-type", "application/octet-stream")
        .header("content-range", range(0, halves.0))
        .body(halves.0.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 202);
    assert_eq!(header(&first, "range"), Some(range(0, halves.0).as_str()));
    let status = r
        .request(Method::GET, &location(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(status.status().as_u16(), 204);
    assert_eq!(header(&status, "range"), Some(range(0, halves.0).as_str()));
    assert!(header(&status, "location").is_some());
    let last = r
        .request(Method::PUT, &location(&first))
        .query(&[("digest", &layer.digest)])
        .header("content-type", "application/octet-stream")
        .header("content-range", range(halves.0.len(), halves.1))
        .body(halves.1.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(last.status().as_u16(), 201);
    assert_eq!(
        header(&last, "docker-content-digest"),
        Some(layer.digest.as_str())
    );
    // The closed session is gone.
    let gone = r
        .request(Method::GET, &location(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(error_code(gone).await, "BLOB_UPLOAD_UNKNOWN");

    // Cross-repository mount: a known blob is mounted (201); an unknown one starts an upload.
    let mounted = r
        .request(Method::POST, "/v2/conformance/other/blobs/uploads/")
        .query(&[("mount", layer.digest.as_str()), ("from", r.name)])
        .send()
        .await
        .unwrap();
    assert_eq!(mounted.status().as_u16(), 201);
    assert!(location(&mounted).ends_with(&layer.digest));
    let unmounted = r
        .request(Method::POST, "/v2/conformance/other/blobs/uploads/")
        .query(&[("mount", blob("nowhere").digest.as_str()), ("from", r.name)])
        .send()
        .await
        .unwrap();
    assert_eq!(unmounted.status().as_u16(), 202);

    // Manifests: an unknown one is 404; one naming a missing blob is refused; four tags.
    let missing = r
        .request(Method::GET, "/v2/{name}/manifests/nonexistent")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let dangling = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &config),
        "layers": [descriptor(OCI_LAYER, &blob("never pushed layer"))],
    });
    let refused = r
        .put_manifest(
            "dangling",
            OCI_MANIFEST,
            &serde_json::to_vec(&dangling).unwrap(),
        )
        .await;
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(error_code(refused).await, "MANIFEST_BLOB_UNKNOWN");
    for i in 0..4 {
        let put = r
            .put_manifest(&format!("test{i}"), OCI_MANIFEST, &manifest.bytes)
            .await;
        assert_eq!(put.status().as_u16(), 201);
        assert!(location(&put).ends_with(&format!("/manifests/{}", manifest.digest)));
        assert_eq!(
            header(&put, "docker-content-digest"),
            Some(manifest.digest.as_str())
        );
    }
    // By digest, the reference must match the content.
    let by_digest = r
        .put_manifest(&manifest.digest, OCI_MANIFEST, &manifest.bytes)
        .await;
    assert_eq!(by_digest.status().as_u16(), 201);
    let mismatched = r
        .put_manifest(&blob("x").digest, OCI_MANIFEST, &manifest.bytes)
        .await;
    assert_eq!(mismatched.status().as_u16(), 400);
    assert_eq!(error_code(mismatched).await, "DIGEST_INVALID");
    let got = r
        .request(
            Method::GET,
            &format!("/v2/{{name}}/manifests/{}", manifest.digest),
        )
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
}

/// SHA-512 digests name blobs and manifests as SHA-256 ones do.
#[tokio::test]
async fn sha512_digests() {
    use sha2::Sha512;
    let r = registry();
    let sha512 = |bytes: &[u8]| format!("sha512:{}", hex(&Sha512::digest(bytes)));
    let (config, layer, _) = image("sha512");
    for blob in [&config, &layer] {
        let digest = sha512(&blob.bytes);
        let posted = r
            .request(Method::POST, "/v2/{name}/blobs/uploads/")
            .query(&[("digest", &digest)])
            .header("content-type", "application/octet-stream")
            .body(blob.bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status().as_u16(), 201, "{}", body(posted).await);
        assert_eq!(
            header(&posted, "docker-content-digest"),
            Some(digest.as_str())
        );
        let got = r
            .request(Method::GET, &format!("/v2/{{name}}/blobs/{digest}"))
            .send()
            .await
            .unwrap();
        assert_eq!(got.status().as_u16(), 200);
        assert_eq!(header(&got, "docker-content-digest"), Some(digest.as_str()));
        assert_eq!(got.bytes().await.unwrap().as_ref(), blob.bytes.as_slice());
    }
    // A digest that is not the content's is refused.
    let wrong = sha512(b"something else");
    let posted = r
        .request(Method::POST, "/v2/{name}/blobs/uploads/")
        .query(&[("digest", &wrong)])
        .body(b"not that".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 400);
    assert_eq!(error_code(posted).await, "DIGEST_INVALID");

    let descriptor512 = |media_type: &str, blob: &Blob| json!({ "mediaType": media_type, "digest": sha512(&blob.bytes), "size": blob.bytes.len() });
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor512(OCI_CONFIG, &config),
        "layers": [descriptor512(OCI_LAYER, &layer)],
    }))
    .unwrap();
    let digest = sha512(&manifest);
    let put = r.put_manifest(&digest, OCI_MANIFEST, &manifest).await;
    assert_eq!(put.status().as_u16(), 201, "{}", body(put).await);
    assert_eq!(header(&put, "docker-content-digest"), Some(digest.as_str()));
    let mismatched = r.put_manifest(&sha512(b"x"), OCI_MANIFEST, &manifest).await;
    assert_eq!(mismatched.status().as_u16(), 400);
    assert_eq!(error_code(mismatched).await, "DIGEST_INVALID");
    let got = r
        .request(Method::GET, &format!("/v2/{{name}}/manifests/{digest}"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(header(&got, "docker-content-digest"), Some(digest.as_str()));
    assert_eq!(got.bytes().await.unwrap().as_ref(), manifest.as_slice());
}

#[tokio::test]
async fn content_discovery() {
    let r = registry();
    let (config, layer, manifest) = image("discovery");
    r.push_blob(&config).await;
    r.push_blob(&layer).await;
    for tag in ["test0", "test1", "test2", "test3"] {
        let put = r.put_manifest(tag, OCI_MANIFEST, &manifest.bytes).await;
        assert_eq!(put.status().as_u16(), 201);
    }

    // Tags: all, limited by n (with a Link to the rest), continued after `last`.
    let (_, all) = r.tags("").await;
    assert_eq!(all, ["test0", "test1", "test2", "test3"]);
    let (page, first) = r.tags("?n=2").await;
    assert_eq!(first, ["test0", "test1"]);
    let link = page
        .get("link")
        .and_then(|v| v.to_str().ok())
        .expect("a Link to the next page");
    assert!(link.contains("rel=\"next\""), "{link}");
    assert!(link.contains("last=test1"), "{link}");
    let (_, rest) = r.tags("?n=2&last=test1").await;
    assert_eq!(rest, ["test2", "test3"]);
    let (_, none) = r.tags("?n=0").await;
    assert!(none.is_empty());

    // Referrers: artifacts whose subject is the image, found by its digest.
    let empty = blob("{}");
    r.push_blob(&empty).await;
    let signature = blob("a signature");
    let sbom = blob("an sbom");
    r.push_blob(&signature).await;
    r.push_blob(&sbom).await;
    let subject = descriptor(OCI_MANIFEST, &manifest);
    // artifactType carried by the config's media type.
    let by_config = blob(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.example.signature", &signature),
            "layers": [descriptor(EMPTY_JSON, &empty)],
            "subject": subject,
            "annotations": { "org.example.kind": "signature" },
        }))
        .unwrap(),
    );
    // artifactType given explicitly, with the empty config.
    let explicit = blob(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom",
            "config": descriptor(EMPTY_JSON, &empty),
            "layers": [descriptor("application/spdx+json", &sbom)],
            "subject": subject,
            "annotations": { "org.example.kind": "sbom" },
        }))
        .unwrap(),
    );
    // An index can refer too.
    let index = blob(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "artifactType": "application/vnd.example.bundle",
            "manifests": [],
            "subject": subject,
            "annotations": { "org.example.kind": "bundle" },
        }))
        .unwrap(),
    );
    for (artifact, media_type) in [
        (&by_config, OCI_MANIFEST),
        (&explicit, OCI_MANIFEST),
        (&index, OCI_INDEX),
    ] {
        let put = r
            .put_manifest(&artifact.digest, media_type, &artifact.bytes)
            .await;
        assert_eq!(put.status().as_u16(), 201, "{}", body(put).await);
    }
    // A subject the registry does not hold is accepted, and found later by its digest.
    let absent_subject = blob("an image pushed later");
    let early = blob(
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.example.early",
            "config": descriptor(EMPTY_JSON, &empty),
            "layers": [descriptor(EMPTY_JSON, &empty)],
            "subject": descriptor(OCI_MANIFEST, &absent_subject),
        }))
        .unwrap(),
    );
    let put = r
        .put_manifest(&early.digest, OCI_MANIFEST, &early.bytes)
        .await;
    assert_eq!(put.status().as_u16(), 201, "{}", body(put).await);
    assert_eq!(
        header(&put, "oci-subject"),
        Some(absent_subject.digest.as_str())
    );

    let referrers = |digest: String, filter: Option<&'static str>| {
        let mut request = r.request(Method::GET, &format!("/v2/{{name}}/referrers/{digest}"));
        if let Some(filter) = filter {
            request = request.query(&[("artifactType", filter)]);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            assert_eq!(header(&response, "content-type"), Some(OCI_INDEX));
            let filtered = header(&response, "oci-filters-applied").map(str::to_owned);
            let index: Value = response.json().await.unwrap();
            assert_eq!(index["schemaVersion"], 2);
            assert_eq!(index["mediaType"], OCI_INDEX);
            (index["manifests"].as_array().unwrap().clone(), filtered)
        }
    };
    let (found, _) = referrers(blob("nothing refers").digest, None).await;
    assert!(found.is_empty());
    let (found, _) = referrers(manifest.digest.clone(), None).await;
    assert_eq!(found.len(), 3);
    for (artifact, media_type, artifact_type, kind) in [
        (
            &by_config,
            OCI_MANIFEST,
            "application/vnd.example.signature",
            "signature",
        ),
        (
            &explicit,
            OCI_MANIFEST,
            "application/vnd.example.sbom",
            "sbom",
        ),
        (
            &index,
            OCI_INDEX,
            "application/vnd.example.bundle",
            "bundle",
        ),
    ] {
        let entry = found
            .iter()
            .find(|d| d["digest"] == artifact.digest.as_str())
            .unwrap_or_else(|| panic!("{kind} is listed"));
        assert_eq!(entry["mediaType"], media_type);
        assert_eq!(entry["size"], artifact.bytes.len());
        assert_eq!(entry["artifactType"], artifact_type);
        assert_eq!(entry["annotations"]["org.example.kind"], kind);
    }
    let (found, filtered) = referrers(
        manifest.digest.clone(),
        Some("application/vnd.example.sbom"),
    )
    .await;
    assert_eq!(filtered.as_deref(), Some("artifactType"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["digest"], explicit.digest.as_str());
    let (found, _) = referrers(absent_subject.digest.clone(), None).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["digest"], early.digest.as_str());
}

#[tokio::test]
async fn content_management() {
    let r = registry();
    let (config, layer, manifest) = image("management");
    r.push_blob(&config).await;
    r.push_blob(&layer).await;
    for tag in ["tagtest0", "keep"] {
        let put = r.put_manifest(tag, OCI_MANIFEST, &manifest.bytes).await;
        assert_eq!(put.status().as_u16(), 201);
    }
    let (_, before) = r.tags("").await;

    // A developer may push but not delete here: deletes need an administrator.
    let refused = r
        .request(Method::DELETE, "/v2/{name}/manifests/tagtest0")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(error_code(refused).await, "DENIED");

    // Delete a tag: 202; the manifest stays under its other tag and its digest.
    let deleted = r
        .request_as(&r.admin, Method::DELETE, "/v2/{name}/manifests/tagtest0")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 202);
    let (_, after) = r.tags("").await;
    assert!(after.len() < before.len());
    assert_eq!(after, ["keep"]);
    let still = r
        .request(
            Method::GET,
            &format!("/v2/{{name}}/manifests/{}", manifest.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(still.status().as_u16(), 200);

    // Delete the manifest by digest: 202, then 404 (and its tags go with it).
    let deleted = r
        .request_as(
            &r.admin,
            Method::DELETE,
            &format!("/v2/{{name}}/manifests/{}", manifest.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 202);
    let gone = r
        .request(
            Method::GET,
            &format!("/v2/{{name}}/manifests/{}", manifest.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(error_code(gone).await, "MANIFEST_UNKNOWN");
    let (_, after) = r.tags("").await;
    assert!(after.is_empty(), "{after:?}");
    let again = r
        .request_as(
            &r.admin,
            Method::DELETE,
            &format!("/v2/{{name}}/manifests/{}", manifest.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 404);

    // Delete a blob: 202, then 404.
    let deleted = r
        .request_as(
            &r.admin,
            Method::DELETE,
            &format!("/v2/{{name}}/blobs/{}", config.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 202);
    let gone = r
        .request(
            Method::GET,
            &format!("/v2/{{name}}/blobs/{}", config.digest),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    assert_eq!(error_code(gone).await, "BLOB_UNKNOWN");
}
