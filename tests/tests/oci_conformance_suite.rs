//! The OCI distribution-spec v1.1 conformance suite (`opencontainers/distribution-spec`,
//! `conformance/`: setup.go, 01_pull, 02_push, 03_discovery, 04_management), ported spec by
//! spec, in the suite's order and with its test data, because the Go suite itself (ginkgo v2,
//! gomega, reggie) cannot be fetched on these machines.
//!
//! Run as the suite is run against a registry: one namespace (`OCI_NAMESPACE`), one user and
//! password (here an administrator's token), a cross-mount namespace inside the same
//! repository (`OCI_CROSSMOUNT_NAMESPACE`; the suite's default, a random top-level name, would
//! be a repository that does not exist), `OCI_DELETE_MANIFEST_BEFORE_BLOBS` left at its
//! default (true), `OCI_AUTOMATIC_CROSSMOUNT` unset. Authentication goes the way the suite's
//! client goes: a request, a `401` with a Bearer challenge, a token from the realm with Basic
//! credentials for the challenge's scope, the request again with the token.
//!
//! Every expectation the suite has is checked; a failing one is recorded with its spec's
//! title and the run goes on, as ginkgo's does, and the test fails at the end listing them.

use base64::Engine as _;
use packistry_tests::{client, TestEnv};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const EMPTY_JSON: &str = "application/vnd.oci.empty.v1+json";
const NAMESPACE: &str = "conformance/suite";
const CROSSMOUNT_NAMESPACE: &str = "conformance/crossmount";
const TAG: &str = "tagtest0";
const EMPTY_LAYER_TAG: &str = "emptylayer";
/// The suite's "nonexistent" reference is not even a valid tag: a registry must still answer
/// 404 for it, not 400.
const NONEXISTENT_MANIFEST: &str = ".INVALID_MANIFEST_NAME";
const ANNOTATION: &str = "org.opencontainers.conformance.test";
const TYPE_A: &str = "application/vnd.nhl.peanut.butter.bagel";
const TYPE_B: &str = "application/vnd.nba.strawberry.jam.croissant";
const TYPE_INDEX: &str = "application/vnd.food.stand";

/// The suite's error codes (setup.go), the only ones an error body may carry.
const ERROR_CODES: &[&str] = &[
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "TAG_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
];

#[derive(Clone)]
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

/// `n` reproducible pseudo-random bytes (the suite seeds math/rand; any fixed bytes do).
fn random_bytes(n: usize, seed: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 32);
    let mut state = Sha256::digest(seed.as_bytes());
    while out.len() < n {
        out.extend_from_slice(&state);
        state = Sha256::digest(state);
    }
    out.truncate(n);
    out
}

fn descriptor(media_type: &str, blob: &Blob) -> Value {
    json!({ "mediaType": media_type, "digest": blob.digest, "size": blob.bytes.len() })
}

/// Pretty-printed JSON, as the suite's `json.MarshalIndent` makes it.
fn pretty(value: &Value) -> Blob {
    blob(serde_json::to_vec_pretty(value).unwrap())
}

/// The suite's test data (setup.go `init`).
struct Data {
    /// One config per workflow (pull, push, discovery, management, and a fifth for the
    /// referrers' subject), made unique by a random author.
    configs: Vec<Blob>,
    layer: Blob,
    /// An image manifest per config, each with the config embedded as `data` and a field
    /// the registry does not know.
    manifests: Vec<Blob>,
    /// An image manifest without layers and without `mediaType`.
    empty_layer_manifest: Blob,
    blob_a: Blob,
    blob_b: Blob,
    chunk1: Vec<u8>,
    chunk2: Vec<u8>,
    empty_json: Blob,
    ref_blob_a: Blob,
    ref_blob_b: Blob,
    refs_a_config: Blob,
    refs_b_config: Blob,
    refs_a_layer: Blob,
    refs_b_layer: Blob,
    /// Refers to manifests[3], which is not pushed before it.
    refs_c_layer: Blob,
    refs_index: Blob,
    dummy_digest: String,
}

impl Data {
    fn new() -> Data {
        let base64 = base64::engine::general_purpose::STANDARD;
        let configs: Vec<Blob> = (0..5)
            .map(|_| {
                pretty(&json!({
                    "author": uuid::Uuid::new_v4().simple().to_string()[..16].to_owned(),
                    "architecture": "amd64",
                    "os": "linux",
                    "rootfs": { "type": "layers", "diff_ids": [] },
                }))
            })
            .collect();
        let layer = blob(random_bytes(113, "a small tarball"));
        let manifests = configs
            .iter()
            .map(|config| {
                pretty(&json!({
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": OCI_CONFIG,
                        "digest": config.digest,
                        "size": config.bytes.len(),
                        "data": base64.encode(&config.bytes),
                        "newUnspecifiedField": base64.encode("hello world"),
                    },
                    "layers": [descriptor(OCI_LAYER, &layer)],
                }))
            })
            .collect::<Vec<_>>();
        let empty_layer_manifest = pretty(&json!({
            "schemaVersion": 2,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": configs[1].digest,
                "size": configs[1].bytes.len(),
                "data": base64.encode(&configs[1].bytes),
                "newUnspecifiedField": base64.encode("hello world"),
            },
            "layers": [],
        }));
        let blob_b = blob(random_bytes(42, "blob b"));
        let (chunk1, chunk2) = blob_b.bytes.split_at(42 / 2 + 1);
        let (chunk1, chunk2) = (chunk1.to_vec(), chunk2.to_vec());
        let empty_json = blob("{}");
        let ref_blob_a = blob("NHL Peanut Butter on my NHL bagel");
        let ref_blob_b = blob("NBA Strawberry Jam on my NBA croissant");
        let subject = descriptor(OCI_MANIFEST, &manifests[4]);
        let by_config = |artifact_type: &str, content: &Blob, note: &str| {
            pretty(&json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor(artifact_type, content),
                "subject": subject,
                "layers": [descriptor(EMPTY_JSON, &empty_json)],
                "annotations": { ANNOTATION: note },
            }))
        };
        let by_type = |artifact_type: &str, content: &Blob, subject: &Value, note: Option<&str>| {
            let mut manifest = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": artifact_type,
                "config": descriptor(EMPTY_JSON, &empty_json),
                "subject": subject,
                "layers": [descriptor(artifact_type, content)],
            });
            if let Some(note) = note {
                manifest["annotations"] = json!({ ANNOTATION: note });
            }
            pretty(&manifest)
        };
        let refs_a_config = by_config(TYPE_A, &ref_blob_a, "test config a");
        let refs_b_config = by_config(TYPE_B, &ref_blob_b, "test config b");
        let refs_a_layer = by_type(TYPE_A, &ref_blob_a, &subject, Some("test layer a"));
        let refs_b_layer = by_type(TYPE_B, &ref_blob_b, &subject, Some("test layer b"));
        let missing_subject = descriptor(OCI_MANIFEST, &manifests[3]);
        let refs_c_layer = by_type(TYPE_B, &ref_blob_b, &missing_subject, None);
        let refs_index = pretty(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "artifactType": TYPE_INDEX,
            "manifests": [
                descriptor(OCI_MANIFEST, &refs_a_config),
                descriptor(OCI_MANIFEST, &refs_a_layer),
            ],
            "subject": subject,
            "annotations": { ANNOTATION: "test index" },
        }));
        Data {
            configs,
            layer,
            manifests,
            empty_layer_manifest,
            blob_a: blob(random_bytes(42, "blob a")),
            blob_b,
            chunk1,
            chunk2,
            empty_json,
            ref_blob_a,
            ref_blob_b,
            refs_a_config,
            refs_b_config,
            refs_a_layer,
            refs_b_layer,
            refs_c_layer,
            refs_index,
            dummy_digest: blob("hello world").digest,
        }
    }

    /// The annotation each referrer carries, by digest.
    fn annotation_of(&self, digest: &str) -> Option<&'static str> {
        [
            (&self.refs_a_config, "test config a"),
            (&self.refs_b_config, "test config b"),
            (&self.refs_a_layer, "test layer a"),
            (&self.refs_b_layer, "test layer b"),
            (&self.refs_index, "test index"),
        ]
        .into_iter()
        .find(|(b, _)| b.digest == digest)
        .map(|(_, note)| note)
    }
}

/// A response, read whole.
struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// `Location` without scheme and host, as reggie's `GetRelativeLocation`.
    fn location(&self) -> String {
        let location = self.header("location");
        match url::Url::parse(location) {
            Ok(url) => match url.query() {
                Some(query) => format!("{}?{query}", url.path()),
                None => url.path().to_owned(),
            },
            Err(_) => location.to_owned(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn describe(&self) -> String {
        format!(
            "{} {}",
            self.status,
            String::from_utf8_lossy(&self.body[..self.body.len().min(300)])
        )
    }
}

/// A request, built like the suite's: `<name>` in the path is the namespace.
struct Call<'a> {
    method: Method,
    path: String,
    query: Vec<(&'a str, String)>,
    headers: Vec<(&'a str, String)>,
    body: Option<Vec<u8>>,
}

fn call<'a>(method: Method, path: &str) -> Call<'a> {
    Call {
        method,
        path: path.replace("<name>", NAMESPACE),
        query: Vec::new(),
        headers: Vec::new(),
        body: None,
    }
}

impl<'a> Call<'a> {
    fn query(mut self, key: &'a str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    fn header(mut self, key: &'a str, value: impl Into<String>) -> Self {
        self.headers.push((key, value.into()));
        self
    }

    fn body(mut self, body: &[u8]) -> Self {
        self.body = Some(body.to_vec());
        self
    }
}

/// The suite's client and its results.
struct Suite {
    base: String,
    username: String,
    password: String,
    bearer: Option<String>,
    section: &'static str,
    checked: usize,
    failures: Vec<String>,
}

impl Suite {
    async fn send(&mut self, call: &Call<'_>) -> Reply {
        let first = self.send_once(call).await;
        if first.status != 401 {
            return first;
        }
        // The Bearer challenge: a token for its scope, with Basic credentials.
        let challenge = first.header("www-authenticate").to_owned();
        let param = |name: &str| {
            let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
            let end = challenge[start..].find('"')? + start;
            Some(challenge[start..end].to_owned())
        };
        let Some(realm) = param("realm") else {
            return first;
        };
        let mut query = Vec::new();
        if let Some(service) = param("service") {
            query.push(("service", service));
        }
        if let Some(scope) = param("scope") {
            query.push(("scope", scope));
        }
        let token = client()
            .get(realm)
            .query(&query)
            .basic_auth(&self.username, Some(&self.password))
            .send()
            .await
            .unwrap();
        if !token.status().is_success() {
            return first;
        }
        let token: Value = token.json().await.unwrap();
        self.bearer = token["token"].as_str().map(str::to_owned);
        self.send_once(call).await
    }

    async fn send_once(&self, call: &Call<'_>) -> Reply {
        let mut request = client()
            .request(call.method.clone(), format!("{}{}", self.base, call.path))
            .query(&call.query);
        for (key, value) in &call.headers {
            request = request.header(*key, value);
        }
        if let Some(bearer) = &self.bearer {
            request = request.bearer_auth(bearer);
        }
        if let Some(body) = &call.body {
            request = request.body(body.clone());
        } else if matches!(call.method, Method::PUT | Method::POST | Method::PATCH)
            && !call
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            request = request.header("content-length", "0");
        }
        let response = request.send().await.unwrap();
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.bytes().await.unwrap().to_vec(),
        }
    }

    fn expect(&mut self, spec: &str, ok: bool, detail: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.failures
                .push(format!("[{}] {spec}: {}", self.section, detail()));
        }
    }

    fn expect_status(&mut self, spec: &str, reply: &Reply, allowed: &[u16]) {
        self.expect(spec, allowed.contains(&reply.status), || {
            format!("expected {allowed:?}, got {}", reply.describe())
        });
    }

    /// 2xx, or one of `also`.
    fn expect_ok_or(&mut self, spec: &str, reply: &Reply, also: &[u16]) {
        self.expect(spec, reply.ok() || also.contains(&reply.status), || {
            format!("expected 2xx or {also:?}, got {}", reply.describe())
        });
    }

    /// A monolithic upload as the setups do it: POST, then PUT with the digest.
    async fn upload(&mut self, blob: &Blob) -> Reply {
        let started = self
            .send(&call(Method::POST, "/v2/<name>/blobs/uploads/"))
            .await;
        let put = call(Method::PUT, &started.location())
            .query("digest", &blob.digest)
            .header("content-type", "application/octet-stream")
            .body(&blob.bytes);
        self.send(&put).await
    }

    async fn put_manifest(&mut self, reference: &str, media_type: &str, body: &Blob) -> Reply {
        let put = call(Method::PUT, &format!("/v2/<name>/manifests/{reference}"))
            .header("content-type", media_type)
            .body(&body.bytes);
        self.send(&put).await
    }

    async fn delete(&mut self, what: &str, reference: &str) -> Reply {
        self.send(&call(
            Method::DELETE,
            &format!("/v2/<name>/{what}/{reference}"),
        ))
        .await
    }

    async fn tags(&mut self, n: Option<usize>, last: Option<&str>) -> (Reply, Vec<String>) {
        let mut list = call(Method::GET, "/v2/<name>/tags/list");
        if let Some(n) = n {
            list = list.query("n", n.to_string());
        }
        if let Some(last) = last {
            list = list.query("last", last);
        }
        let reply = self.send(&list).await;
        let tags = reply.json()["tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        (reply, tags)
    }

    async fn referrers(
        &mut self,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> (Reply, Vec<Value>) {
        let mut request = call(Method::GET, &format!("/v2/<name>/referrers/{digest}"));
        if let Some(artifact_type) = artifact_type {
            request = request.query("artifactType", artifact_type);
        }
        let reply = self.send(&request).await;
        let manifests = reply.json()["manifests"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (reply, manifests)
    }
}

#[tokio::test]
async fn distribution_spec_conformance_suite() {
    let env = TestEnv::new();
    env.cli_ok(&["repo", "create", "conformance", "--format", "container"]);
    env.create_user("suite@example.com", "user", "suite-password-1");
    env.cli_ok(&[
        "grant",
        "--repository",
        "conformance",
        "--user",
        "suite@example.com",
        "--role",
        "administrator",
    ]);
    let password = env.cli_ok(&[
        "token",
        "create",
        "--user",
        "suite@example.com",
        "--name",
        "conformance",
        "--repository",
        "conformance",
        "--role",
        "administrator",
    ]);
    let server = env.start();
    let mut s = Suite {
        base: server.url(""),
        username: "conformance".into(),
        password,
        bearer: None,
        section: "",
        checked: 0,
        failures: Vec::new(),
    };
    let d = Data::new();
    assert_eq!(
        d.empty_json.digest,
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );

    pull(&mut s, &d).await;
    push(&mut s, &d).await;
    discovery(&mut s, &d).await;
    management(&mut s, &d).await;

    println!(
        "conformance: {} expectations, {} failed",
        s.checked,
        s.failures.len()
    );
    assert!(
        s.failures.is_empty(),
        "conformance failures:\n{}",
        s.failures.join("\n")
    );
}

/// 01_pull_test.go
async fn pull(s: &mut Suite, d: &Data) {
    s.section = "Pull";
    // Setup
    let r = s.upload(&d.configs[0]).await;
    s.expect_ok_or("Populate registry with test blob", &r, &[]);
    let r = s.upload(&d.layer).await;
    s.expect_ok_or("Populate registry with test layer", &r, &[]);
    let r = s.put_manifest(TAG, OCI_MANIFEST, &d.manifests[0]).await;
    s.expect_ok_or("Populate registry with test manifest", &r, &[]);
    let (_, tags) = s.tags(None, None).await;
    let tag = tags.first().cloned().unwrap_or_default();

    // Pull blobs
    let r = s
        .send(&call(
            Method::HEAD,
            &format!("/v2/<name>/blobs/{}", d.dummy_digest),
        ))
        .await;
    s.expect_status(
        "HEAD request to nonexistent blob should result in 404",
        &r,
        &[404],
    );
    let r = s
        .send(&call(
            Method::HEAD,
            &format!("/v2/<name>/blobs/{}", d.configs[0].digest),
        ))
        .await;
    s.expect_status("HEAD request to existing blob should yield 200", &r, &[200]);
    let digest = r.header("docker-content-digest").to_owned();
    s.expect(
        "HEAD request to existing blob: Docker-Content-Digest",
        digest.is_empty() || digest == d.configs[0].digest,
        || digest.clone(),
    );
    let r = s
        .send(&call(
            Method::GET,
            &format!("/v2/<name>/blobs/{}", d.dummy_digest),
        ))
        .await;
    s.expect_status("GET nonexistent blob should result in 404", &r, &[404]);
    let r = s
        .send(&call(
            Method::GET,
            &format!("/v2/<name>/blobs/{}", d.configs[0].digest),
        ))
        .await;
    s.expect_status(
        "GET request to existing blob URL should yield 200",
        &r,
        &[200],
    );

    // Pull manifests
    let manifest = |method: Method, reference: &str| {
        call(method, &format!("/v2/<name>/manifests/{reference}")).header("accept", OCI_MANIFEST)
    };
    let r = s.send(&manifest(Method::HEAD, NONEXISTENT_MANIFEST)).await;
    s.expect_status(
        "HEAD request to nonexistent manifest should return 404",
        &r,
        &[404],
    );
    let r = s
        .send(&manifest(Method::HEAD, &d.manifests[0].digest))
        .await;
    s.expect_status(
        "HEAD request to manifest path (digest) should yield 200",
        &r,
        &[200],
    );
    let digest = r.header("docker-content-digest").to_owned();
    s.expect(
        "HEAD request to manifest path (digest): Docker-Content-Digest",
        digest.is_empty() || digest == d.manifests[0].digest,
        || digest.clone(),
    );
    s.expect("a tag was listed", !tag.is_empty(), || format!("{tags:?}"));
    let r = s.send(&manifest(Method::GET, &tag)).await;
    s.expect_status(
        "HEAD request to manifest path (tag) should yield 200",
        &r,
        &[200],
    );
    let digest = r.header("docker-content-digest").to_owned();
    s.expect(
        "HEAD request to manifest path (tag): Docker-Content-Digest",
        digest.is_empty() || digest == d.manifests[0].digest,
        || digest.clone(),
    );
    let r = s.send(&manifest(Method::GET, NONEXISTENT_MANIFEST)).await;
    s.expect_status("GET nonexistent manifest should return 404", &r, &[404]);
    let r = s.send(&manifest(Method::GET, &d.manifests[0].digest)).await;
    s.expect_status(
        "GET request to manifest path (digest) should yield 200",
        &r,
        &[200],
    );
    let r = s.send(&manifest(Method::GET, &tag)).await;
    s.expect_status(
        "GET request to manifest path (tag) should yield 200",
        &r,
        &[200],
    );

    // Error codes
    let r = s
        .put_manifest("sha256:totallywrong", OCI_MANIFEST, &blob("blablabla"))
        .await;
    s.expect_status(
        "400 response body should contain OCI-conforming JSON message",
        &r,
        &[400, 404],
    );
    if r.status == 400 {
        let code = r.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        s.expect(
            "400 response body should contain OCI-conforming JSON message: code",
            ERROR_CODES.contains(&code.as_str()),
            || r.describe(),
        );
    }

    // Teardown (manifest before blobs)
    let r = s.delete("manifests", &d.manifests[0].digest).await;
    s.expect_ok_or("Delete manifest created in setup", &r, &[405]);
    let r = s.delete("blobs", &d.configs[0].digest).await;
    s.expect_ok_or("Delete config blob created in setup", &r, &[405]);
    let r = s.delete("blobs", &d.layer.digest).await;
    s.expect_ok_or("Delete layer blob created in setup", &r, &[405]);
}

/// 02_push_test.go
async fn push(s: &mut Suite, d: &Data) {
    s.section = "Push";
    // Blob Upload Streamed
    let started = s
        .send(&call(Method::POST, "/v2/<name>/blobs/uploads/"))
        .await;
    s.expect(
        "PATCH request with blob in body: Location",
        !started.location().is_empty(),
        || started.describe(),
    );
    let patched = s
        .send(
            &call(Method::PATCH, &started.location())
                .header("content-type", "application/octet-stream")
                .body(&d.blob_a.bytes),
        )
        .await;
    s.expect_status(
        "PATCH request with blob in body should yield 202",
        &patched,
        &[202],
    );
    let r = s
        .send(
            &call(Method::PUT, &patched.location())
                .query("digest", &d.blob_a.digest)
                .header("content-type", "application/octet-stream"),
        )
        .await;
    s.expect_status(
        "PUT request to session URL with digest should yield 201",
        &r,
        &[201],
    );
    s.expect(
        "PUT request to session URL: Location",
        !r.location().is_empty(),
        || r.describe(),
    );

    // Blob Upload Monolithic
    let r = s
        .send(&call(
            Method::GET,
            &format!("/v2/<name>/blobs/{}", d.dummy_digest),
        ))
        .await;
    s.expect_status("GET nonexistent blob should result in 404", &r, &[404]);
    let posted = s
        .send(
            &call(Method::POST, "/v2/<name>/blobs/uploads/")
                .query("digest", &d.configs[1].digest)
                .header("content-type", "application/octet-stream")
                .body(&d.configs[1].bytes),
        )
        .await;
    s.expect_status(
        "POST request with digest and blob should yield a 201 or 202",
        &posted,
        &[201, 202],
    );
    s.expect(
        "POST request with digest and blob: Location",
        !posted.location().is_empty(),
        || posted.describe(),
    );
    let r = s
        .send(&call(
            Method::GET,
            &format!("/v2/<name>/blobs/{}", d.configs[1].digest),
        ))
        .await;
    let expected = if posted.status == 202 { 404 } else { 200 };
    s.expect_status(
        "GET request to blob URL from prior request should yield 200 or 404 based on response code",
        &r,
        &[expected],
    );
    let started = s
        .send(&call(Method::POST, "/v2/<name>/blobs/uploads/"))
        .await;
    s.expect_status("POST request should yield a session ID", &started, &[202]);
    let r = s
        .send(
            &call(Method::PUT, &started.location())
                .query("digest", &d.configs[1].digest)
                .header("content-type", "application/octet-stream")
                .body(&d.configs[1].bytes),
        )
        .await;
    s.expect_status(
        "PUT upload of a blob should yield a 201 Response",
        &r,
        &[201],
    );
    s.expect(
        "PUT upload of a blob: Location",
        !r.location().is_empty(),
        || r.describe(),
    );
    let r = s
        .send(&call(
            Method::GET,
            &format!("/v2/<name>/blobs/{}", d.configs[1].digest),
        ))
        .await;
    s.expect_status(
        "GET request to existing blob should yield 200 response",
        &r,
        &[200],
    );
    let r = s.upload(&d.layer).await;
    s.expect_status(
        "PUT upload of a layer blob should yield a 201 Response",
        &r,
        &[201],
    );
    s.expect(
        "PUT upload of a layer blob: Location",
        !r.location().is_empty(),
        || r.describe(),
    );
    let r = s
        .send(&call(
            Method::GET,
            &format!("/v2/<name>/blobs/{}", d.layer.digest),
        ))
        .await;
    s.expect_status(
        "GET request to existing layer should yield 200 response",
        &r,
        &[200],
    );

    // Blob Upload Chunked
    let range = |start: usize, chunk: &[u8]| format!("{start}-{}", start + chunk.len() - 1);
    let chunk = |location: &str, bytes: &[u8], start: usize| {
        call(Method::PATCH, location)
            .header("content-type", "application/octet-stream")
            .header("content-range", range(start, bytes))
            .body(bytes)
    };
    let started = s
        .send(&call(Method::POST, "/v2/<name>/blobs/uploads/").header("content-length", "0"))
        .await;
    s.expect(
        "Out-of-order blob upload: Location",
        !started.location().is_empty(),
        || started.describe(),
    );
    let r = s
        .send(&chunk(&started.location(), &d.chunk2, d.chunk1.len()))
        .await;
    s.expect_status("Out-of-order blob upload should return 416", &r, &[416]);
    let previous = s
        .send(&call(Method::POST, "/v2/<name>/blobs/uploads/").header("content-length", "0"))
        .await;
    s.expect(
        "PATCH request with first chunk: Location",
        !previous.location().is_empty(),
        || previous.describe(),
    );
    let first = s.send(&chunk(&previous.location(), &d.chunk1, 0)).await;
    s.expect_status(
        "PATCH request with first chunk should return 202",
        &first,
        &[202],
    );
    s.expect(
        "PATCH request with first chunk: Range",
        first.header("range") == range(0, &d.chunk1),
        || first.header("range").to_owned(),
    );
    let r = s.send(&chunk(&previous.location(), &d.chunk1, 0)).await;
    s.expect_status("Retry previous blob chunk should return 416", &r, &[416]);
    let stale = s.send(&call(Method::GET, &previous.location())).await;
    s.expect_status(
        "Get on stale blob upload should return 204 with a range and location",
        &stale,
        &[204],
    );
    s.expect(
        "Get on stale blob upload: Location",
        !stale.location().is_empty(),
        || stale.describe(),
    );
    s.expect(
        "Get on stale blob upload: Range",
        stale.header("range") == range(0, &d.chunk1),
        || stale.header("range").to_owned(),
    );
    let second = s
        .send(&chunk(&stale.location(), &d.chunk2, d.chunk1.len()))
        .await;
    s.expect_status(
        "PATCH request with second chunk should return 202",
        &second,
        &[202],
    );
    s.expect(
        "PATCH request with second chunk: Location",
        !second.location().is_empty(),
        || second.describe(),
    );
    let r = s
        .send(
            &call(Method::PUT, &second.location())
                .query("digest", &d.blob_b.digest)
                .header("content-type", "application/octet-stream"),
        )
        .await;
    s.expect_status("PUT request with digest should return 201", &r, &[201]);
    s.expect(
        "PUT request with digest: Location",
        !r.location().is_empty(),
        || r.describe(),
    );

    // Cross-Repository Blob Mount
    let mount = |digest: &str, from: Option<&str>| {
        let mut request = call(
            Method::POST,
            &format!("/v2/{CROSSMOUNT_NAMESPACE}/blobs/uploads/"),
        )
        .query("mount", digest);
        if let Some(from) = from {
            request = request.query("from", from);
        }
        request
    };
    let r = s.send(&mount(&d.dummy_digest, None)).await;
    s.expect_status(
        "Cross-mounting of a blob without the from argument should yield session id",
        &r,
        &[202],
    );
    s.expect(
        "Cross-mounting without from: Location",
        !r.location().is_empty(),
        || r.describe(),
    );
    let mounted = s.send(&mount(&d.blob_a.digest, Some(NAMESPACE))).await;
    s.expect_status(
        "POST request to mount another repository's blob should return 201 or 202",
        &mounted,
        &[201, 202],
    );
    if mounted.status == 201 {
        let expected = format!("/v2/{CROSSMOUNT_NAMESPACE}/blobs/{}", d.blob_a.digest);
        s.expect(
            "GET request to test digest within cross-mount namespace: Location",
            mounted.location() == expected,
            || mounted.location(),
        );
        let r = s.send(&call(Method::GET, &mounted.location())).await;
        s.expect_status(
            "GET request to test digest within cross-mount namespace should return 200",
            &r,
            &[200],
        );
    } else {
        let prefix = format!("/v2/{CROSSMOUNT_NAMESPACE}/blobs/uploads/");
        s.expect(
            "Cross-mounting of nonexistent blob should yield session id",
            mounted.location().starts_with(&prefix),
            || mounted.location(),
        );
    }

    // Manifest Upload
    let r = s
        .send(&call(
            Method::GET,
            &format!("/v2/<name>/manifests/{NONEXISTENT_MANIFEST}"),
        ))
        .await;
    s.expect_status("GET nonexistent manifest should return 404", &r, &[404]);
    for i in 0..4 {
        let r = s
            .put_manifest(&format!("test{i}"), OCI_MANIFEST, &d.manifests[1])
            .await;
        s.expect_status("PUT should accept a manifest upload", &r, &[201]);
        s.expect(
            "PUT should accept a manifest upload: Location",
            !r.location().is_empty(),
            || r.describe(),
        );
    }
    let r = s
        .put_manifest(EMPTY_LAYER_TAG, OCI_MANIFEST, &d.empty_layer_manifest)
        .await;
    // The suite only warns here; a registry that stores images should take it.
    s.expect_status(
        "Registry should accept a manifest upload with no layers",
        &r,
        &[201],
    );
    let empty_layer_pushed = r.status == 201;
    let r = s
        .send(
            &call(
                Method::GET,
                &format!("/v2/<name>/manifests/{}", d.manifests[1].digest),
            )
            .header("accept", OCI_MANIFEST),
        )
        .await;
    s.expect_status(
        "GET request to manifest URL (digest) should yield 200 response",
        &r,
        &[200],
    );

    // Teardown
    let r = s.delete("manifests", &d.manifests[1].digest).await;
    s.expect_ok_or("Delete manifest created in tests", &r, &[405]);
    if empty_layer_pushed {
        let r = s.delete("manifests", &d.empty_layer_manifest.digest).await;
        s.expect_ok_or("Delete manifest created in tests (no layers)", &r, &[405]);
    }
    let r = s.delete("blobs", &d.configs[1].digest).await;
    s.expect_ok_or("Delete config blob created in tests", &r, &[404, 405]);
    let r = s.delete("blobs", &d.layer.digest).await;
    s.expect_ok_or("Delete layer blob created in setup", &r, &[404, 405]);
}

/// 03_discovery_test.go
async fn discovery(s: &mut Suite, d: &Data) {
    s.section = "Content Discovery";
    // Setup
    let r = s.upload(&d.configs[2]).await;
    s.expect_ok_or("Populate registry with test blob", &r, &[]);
    let r = s.upload(&d.layer).await;
    s.expect_ok_or("Populate registry with test layer", &r, &[]);
    for i in 0..4 {
        let r = s
            .put_manifest(&format!("test{i}"), OCI_MANIFEST, &d.manifests[2])
            .await;
        s.expect_ok_or("Populate registry with test tags", &r, &[]);
    }
    let subject = d.manifests[4].digest.clone();
    let spec = "References setup";
    let r = s.upload(&d.empty_json).await;
    s.expect_ok_or(spec, &r, &[]);
    let r = s.upload(&d.ref_blob_a).await;
    s.expect_ok_or(spec, &r, &[]);
    for (artifact, media_type) in [
        (&d.refs_a_config, OCI_MANIFEST),
        (&d.refs_a_layer, OCI_MANIFEST),
        (&d.refs_index, OCI_INDEX),
    ] {
        let r = s.put_manifest(&artifact.digest, media_type, artifact).await;
        s.expect_ok_or(spec, &r, &[]);
        s.expect(
            "References setup: OCI-Subject",
            r.header("oci-subject") == subject,
            || r.describe(),
        );
    }
    let r = s.upload(&d.configs[4]).await;
    s.expect_ok_or(spec, &r, &[]);
    let r = s.upload(&d.layer).await;
    s.expect_ok_or(spec, &r, &[]);
    let r = s.put_manifest(TAG, OCI_MANIFEST, &d.manifests[4]).await;
    s.expect_ok_or(spec, &r, &[]);
    let r = s.upload(&d.ref_blob_b).await;
    s.expect_ok_or(spec, &r, &[]);
    for artifact in [&d.refs_b_config, &d.refs_b_layer] {
        let r = s
            .put_manifest(&artifact.digest, OCI_MANIFEST, artifact)
            .await;
        s.expect_ok_or(spec, &r, &[]);
        s.expect(
            "References setup: OCI-Subject",
            r.header("oci-subject") == subject,
            || r.describe(),
        );
    }
    let r = s
        .put_manifest(&d.refs_c_layer.digest, OCI_MANIFEST, &d.refs_c_layer)
        .await;
    s.expect_ok_or(spec, &r, &[]);
    s.expect(
        "References setup: OCI-Subject of a subject not pushed",
        r.header("oci-subject") == d.manifests[3].digest,
        || r.describe(),
    );

    // Listing tags
    let (r, tags) = s.tags(None, None).await;
    s.expect_status(
        "GET request to list tags should yield 200 response",
        &r,
        &[200],
    );
    let half = tags.len() / 2;
    let (r, page) = s.tags(Some(half), None).await;
    s.expect_status(
        "GET number of tags should be limitable by `n` query parameter",
        &r,
        &[200],
    );
    s.expect(
        "GET number of tags should be limitable by `n` query parameter: count",
        page.len() == half,
        || format!("{page:?} of {tags:?}"),
    );
    let last = page.last().cloned().unwrap_or_default();
    let (r, rest) = s.tags(Some(half), Some(&last)).await;
    s.expect_status(
        "GET start of tag is set by `last` query parameter",
        &r,
        &[200],
    );
    s.expect(
        "GET start of tag is set by `last` query parameter: after last",
        rest.len() <= half && !rest.contains(&last) && rest.iter().all(|t| *t > last),
        || format!("{rest:?} after {last}"),
    );

    // Listing references
    let (r, found) = s.referrers(&d.dummy_digest, None).await;
    s.expect_status(
        "GET request to nonexistent blob should result in empty 200 response",
        &r,
        &[200],
    );
    s.expect(
        "GET request to nonexistent blob: an empty index",
        r.header("content-type") == OCI_INDEX && found.is_empty(),
        || r.describe(),
    );
    let (r, found) = s.referrers(&subject, None).await;
    s.expect_status("GET request to existing blob should yield 200", &r, &[200]);
    s.expect(
        "GET request to existing blob: five referrers, each with its annotation",
        r.header("content-type") == OCI_INDEX
            && found.len() == 5
            && found[0]["digest"] != found[1]["digest"]
            && found.iter().all(|m| {
                m["annotations"].as_object().map(|a| a.len()) == Some(1)
                    && m["annotations"][ANNOTATION].as_str()
                        == d.annotation_of(m["digest"].as_str().unwrap_or(""))
            }),
        || r.describe(),
    );
    let (r, found) = s.referrers(&subject, Some(TYPE_A)).await;
    s.expect_status(
        "GET request to existing blob with filter should yield 200",
        &r,
        &[200],
    );
    s.expect(
        "GET request to existing blob with filter: two referrers, filter applied",
        r.header("content-type") == OCI_INDEX
            && r.header("oci-filters-applied") == "artifactType"
            && found.len() == 2
            && found.iter().all(|m| {
                m["annotations"][ANNOTATION].as_str()
                    == d.annotation_of(m["digest"].as_str().unwrap_or(""))
            }),
        || r.describe(),
    );
    let (r, found) = s.referrers(&d.manifests[3].digest, None).await;
    s.expect_status(
        "GET request to missing manifest should yield 200",
        &r,
        &[200],
    );
    s.expect(
        "GET request to missing manifest: the one referrer",
        found.len() == 1 && found[0]["digest"] == d.refs_c_layer.digest.as_str(),
        || r.describe(),
    );

    // Teardown (manifests before blobs)
    for reference in [
        &d.refs_index.digest,
        &d.manifests[2].digest,
        &d.manifests[4].digest,
        &d.refs_a_config.digest,
        &d.refs_a_layer.digest,
        &TAG.to_owned(),
        &d.refs_b_config.digest,
        &d.refs_b_layer.digest,
        &d.refs_c_layer.digest,
    ] {
        let r = s.delete("manifests", reference).await;
        s.expect_ok_or("Delete created manifest & associated tags", &r, &[404, 405]);
    }
    let r = s.delete("blobs", &d.configs[2].digest).await;
    s.expect_ok_or("Delete config blob created in tests", &r, &[405]);
    let r = s.delete("blobs", &d.layer.digest).await;
    s.expect_ok_or("Delete layer blob created in setup", &r, &[405]);
    for reference in [
        &d.refs_index.digest,
        &d.refs_a_config.digest,
        &d.refs_a_layer.digest,
        &d.manifests[4].digest,
        &d.refs_b_config.digest,
        &d.refs_b_layer.digest,
    ] {
        let r = s.delete("manifests", reference).await;
        s.expect_ok_or("References teardown", &r, &[404, 405]);
    }
    for digest in [
        &d.configs[4].digest,
        &d.ref_blob_a.digest,
        &d.ref_blob_b.digest,
        &d.empty_json.digest,
    ] {
        let r = s.delete("blobs", digest).await;
        s.expect_ok_or("References teardown", &r, &[404, 405]);
    }
}

/// 04_management_test.go
async fn management(s: &mut Suite, d: &Data) {
    s.section = "Content Management";
    // Setup
    let r = s.upload(&d.configs[3]).await;
    s.expect_ok_or("Populate registry with test config blob", &r, &[]);
    let r = s.upload(&d.layer).await;
    s.expect_ok_or("Populate registry with test layer", &r, &[]);
    let r = s.put_manifest(TAG, OCI_MANIFEST, &d.manifests[3]).await;
    s.expect_ok_or("Populate registry with test tag", &r, &[]);
    let (r, before) = s.tags(None, None).await;
    s.expect_status(
        "Check how many tags there are before anything gets deleted",
        &r,
        &[200],
    );

    // Manifest delete
    let r = s.delete("manifests", TAG).await;
    s.expect_status(
        "DELETE request to manifest tag should return 202, unless tag deletion is disallowed",
        &r,
        &[400, 202, 405],
    );
    if r.status == 400 {
        s.expect(
            "DELETE request to manifest tag: UNSUPPORTED",
            r.json()["errors"][0]["code"] == "UNSUPPORTED",
            || r.describe(),
        );
    }
    let r = s.delete("manifests", &d.manifests[3].digest).await;
    s.expect_status(
        "DELETE request to manifest (digest) should yield 202 response unless already deleted",
        &r,
        &[202, 404],
    );
    let r = s
        .send(&call(
            Method::GET,
            &format!("/v2/<name>/manifests/{}", d.manifests[3].digest),
        ))
        .await;
    s.expect_status(
        "GET request to deleted manifest URL should yield 404 response, unless delete is disallowed",
        &r,
        &[404, 200],
    );
    let (r, after) = s.tags(None, None).await;
    s.expect_status(
        "GET request to tags list should reflect manifest deletion",
        &r,
        &[200],
    );
    s.expect(
        "GET request to tags list should reflect manifest deletion: fewer tags",
        after.len() < before.len(),
        || format!("{before:?} then {after:?}"),
    );

    // Blob delete
    let r = s.delete("blobs", &d.configs[3].digest).await;
    s.expect_status(
        "DELETE request to blob URL should yield 202 response",
        &r,
        &[202, 404, 405],
    );
    let r = s.delete("blobs", &d.layer.digest).await;
    s.expect_status(
        "DELETE request to blob URL should yield 202 response",
        &r,
        &[202, 404, 405],
    );
    if r.status != 405 {
        let r = s
            .send(&call(
                Method::GET,
                &format!("/v2/<name>/blobs/{}", d.configs[3].digest),
            ))
            .await;
        s.expect_status(
            "GET request to deleted blob URL should yield 404 response",
            &r,
            &[404],
        );
    }
}
