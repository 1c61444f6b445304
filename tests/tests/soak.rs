//! Load (issue #17): many concurrent clients against one server with a mixed workload —
//! metadata reads, downloads, uploads, token exchanges, GraphQL queries, sign-ins — for a
//! bounded time, loopback only. Prints requests/s, p50/p99, the counts of 5xx answers,
//! timeouts and lost uploads (all must be 0), and the server's peak RSS.
//!
//! `make test` runs 50 clients for 10 s; `make soak` runs 500 clients for 60 s on the release
//! binary (SOAK_CLIENTS, SOAK_SECONDS).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use packistry_tests::composer::package_zip;
use packistry_tests::{TestEnv, TestServer};
use serde_json::json;
use sha2::{Digest, Sha256};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss(server: &TestServer) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024
}

#[derive(Default)]
struct Tally {
    latencies_us: Mutex<Vec<u64>>,
    server_errors: AtomicU64,
    timeouts: AtomicU64,
    failed: AtomicU64,
    acked: Mutex<Vec<(String, String)>>,
}

impl Tally {
    fn record(&self, started: Instant, result: &reqwest::Result<reqwest::Response>) -> Option<u16> {
        let micros = started.elapsed().as_micros() as u64;
        self.latencies_us.lock().unwrap().push(micros);
        match result {
            Ok(response) => {
                let status = response.status().as_u16();
                if status >= 500 {
                    self.server_errors.fetch_add(1, Ordering::Relaxed);
                }
                Some(status)
            }
            Err(err) if err.is_timeout() => {
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                None
            }
            Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

struct World {
    server: TestServer,
    token: String,
    blob: String,
    dist: String,
}

async fn setup(env: &TestEnv) -> World {
    env.create_user("person@example.com", "user", "person-password-1");
    for (name, format) in [("php", "composer"), ("java", "maven"), ("img", "container")] {
        env.cli_ok(&["repo", "create", name, "--format", format]);
    }
    let token = env.admin_token("root@example.com");
    let server = env.start();
    let http = reqwest::Client::new();
    for n in 0..5 {
        let package = format!("acme/pkg{n}");
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(package_zip(&package, "1.0.0", json!({})))
                    .file_name("p.zip"),
            )
            .text("version", "1.0.0");
        let response = http
            .post(server.url(&format!("/composer/php/{package}")))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let jar = b"a jar of the soak test".repeat(100);
    let response = http
        .put(server.url("/maven/java/com/acme/lib/1.0/lib-1.0.jar"))
        .bearer_auth(&token)
        .body(jar)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let layer = b"a layer of the soak test".repeat(1000);
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let digest = |b: &[u8]| format!("sha256:{:x}", Sha256::digest(b));
    for bytes in [&layer, &config] {
        let response = http
            .post(server.url(&format!(
                "/v2/img/app/blobs/uploads/?digest={}",
                digest(bytes)
            )))
            .bearer_auth(&token)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len() }],
    });
    let response = http
        .put(server.url("/v2/img/app/manifests/v1"))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let p2: serde_json::Value = http
        .get(server.url("/composer/php/p2/acme/pkg0.json"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dist = p2["packages"]["acme/pkg0"][0]["dist"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    World {
        server,
        token,
        blob: digest(&layer),
        dist,
    }
}

/// One client's loop: a request of each kind in turn, until the deadline.
async fn client_loop(world: Arc<World>, tally: Arc<Tally>, id: u64, deadline: Instant) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let url = |path: &str| world.server.url(path);
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let started = Instant::now();
        let kind = (id + n) % 20;
        let result = match kind {
            0..=4 => {
                http.get(url(&format!("/composer/php/p2/acme/pkg{}.json", n % 5)))
                    .bearer_auth(&world.token)
                    .send()
                    .await
            }
            5 => http.get(&world.dist).bearer_auth(&world.token).send().await,
            6 | 7 => {
                http.get(url("/maven/java/com/acme/lib/maven-metadata.xml"))
                    .bearer_auth(&world.token)
                    .send()
                    .await
            }
            8 => {
                http.get(url("/maven/java/com/acme/lib/1.0/lib-1.0.jar"))
                    .bearer_auth(&world.token)
                    .send()
                    .await
            }
            9 | 10 => {
                http.get(url("/v2/img/app/manifests/v1"))
                    .bearer_auth(&world.token)
                    .header("accept", "application/vnd.oci.image.manifest.v1+json")
                    .send()
                    .await
            }
            11 => {
                http.get(url(&format!("/v2/img/app/blobs/{}", world.blob)))
                    .bearer_auth(&world.token)
                    .send()
                    .await
            }
            12 => {
                http.get(url(
                    "/v2/token?service=packistry&scope=repository:img/app:pull",
                ))
                .basic_auth("token", Some(&world.token))
                .send()
                .await
            }
            13 | 14 => {
                http.post(url("/graphql"))
                    .bearer_auth(&world.token)
                    .json(&json!({ "query": "{ repositories { name permissions } }" }))
                    .send()
                    .await
            }
            15 => {
                // A sign-in now and then (password hashing is the costliest request).
                if n.is_multiple_of(10) {
                    http.post(url("/graphql"))
                        .json(&json!({
                            "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { user { email } } }",
                            "variables": { "e": "person@example.com", "p": "person-password-1" },
                        }))
                        .send()
                        .await
                } else {
                    http.get(url("/readyz")).send().await
                }
            }
            16 | 17 => {
                let version = format!("2.{id}.{n}");
                let package = format!("acme/up{}", id % 7);
                let form = reqwest::multipart::Form::new()
                    .part(
                        "file",
                        reqwest::multipart::Part::bytes(package_zip(&package, &version, json!({})))
                            .file_name("p.zip"),
                    )
                    .text("version", version.clone());
                let result = http
                    .post(url(&format!("/composer/php/{package}")))
                    .bearer_auth(&world.token)
                    .multipart(form)
                    .send()
                    .await;
                if result.as_ref().is_ok_and(|r| r.status() == 201) {
                    tally.acked.lock().unwrap().push((package, version));
                }
                result
            }
            _ => {
                let version = format!("3.{id}.{n}");
                http.put(url(&format!(
                    "/maven/java/com/acme/up/{version}/up-{version}.jar"
                )))
                .bearer_auth(&world.token)
                .body(format!("jar {id} {n}"))
                .send()
                .await
            }
        };
        tally.record(started, &result);
        if let Ok(response) = result {
            let _ = response.bytes().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_with_a_mixed_workload_get_no_errors() {
    let clients = setting("SOAK_CLIENTS", 50);
    let seconds = setting("SOAK_SECONDS", 10);
    let env = TestEnv::new();
    let world = Arc::new(setup(&env).await);
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|id| tokio::spawn(client_loop(world.clone(), tally.clone(), id, deadline)))
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();

    // Every acknowledged upload is there.
    let http = reqwest::Client::new();
    let acked = tally.acked.lock().unwrap().clone();
    let mut lost = 0;
    let mut documents = std::collections::HashMap::new();
    for (package, version) in &acked {
        if !documents.contains_key(package) {
            let p2: serde_json::Value = http
                .get(
                    world
                        .server
                        .url(&format!("/composer/php/p2/{package}.json")),
                )
                .bearer_auth(&world.token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            documents.insert(package.clone(), p2);
        }
        let listed = documents[package]["packages"][package.as_str()]
            .as_array()
            .is_some_and(|versions| versions.iter().any(|v| v["version"] == version.as_str()));
        if !listed {
            lost += 1;
        }
    }

    let mut latencies = tally.latencies_us.lock().unwrap().clone();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let (errors, timeouts, failed) = (
        tally.server_errors.load(Ordering::Relaxed),
        tally.timeouts.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    packistry_tests::report(&format!(
        "soak: {clients} clients, {seconds} s: {} requests, {:.0} req/s, p50 {:.1} ms, p99 {:.1} ms; \
         5xx {errors}, timeouts {timeouts}, failed connections {failed}, lost uploads {lost} of {}; \
         peak RSS {} MiB",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(0.50),
        percentile(0.99),
        acked.len(),
        peak_rss(&world.server) / (1024 * 1024),
    ));
    assert_eq!((errors, timeouts, failed, lost), (0, 0, 0, 0));
    assert!(!acked.is_empty(), "uploads went through");
}
