//! Kill -9 at random moments (issue #17): the real binary is killed with SIGKILL again and
//! again while clients upload in every format at once (Composer zips, Maven files with
//! checksums, OCI images pushed monolithically and in chunks) and while garbage collection
//! runs. After every restart: each upload the server acknowledged is downloadable with
//! identical bytes; nothing half-written is visible (every version, file and tag that is
//! served is whole and matches its checksums); every stored blob hashes to its name. At the
//! end, a maintenance pass leaves no orphan behind.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use packistry_tests::composer::package_zip;
use packistry_tests::{client, files_under, TestEnv, TestServer};
use serde_json::{json, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

const KILLS: u64 = 20;

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// What a worker sent; `acked` once the server answered 201.
#[derive(Clone, Debug)]
enum Sent {
    Composer {
        package: String,
        version: String,
        zip: Vec<u8>,
    },
    Maven {
        path: String,
        bytes: Vec<u8>,
    },
    Image {
        name: String,
        tag: String,
        manifest: String,
        blobs: Vec<Vec<u8>>,
    },
}

#[derive(Default)]
struct Ledger {
    /// Everything sent, acknowledged or not.
    sent: Vec<Sent>,
    /// Indexes into `sent` of what the server acknowledged.
    acked: BTreeSet<usize>,
}

type Shared = Arc<Mutex<Ledger>>;

fn record(ledger: &Shared, sent: Sent) -> usize {
    let mut ledger = ledger.lock().unwrap();
    ledger.sent.push(sent);
    ledger.sent.len() - 1
}

fn ack(ledger: &Shared, index: usize) {
    ledger.lock().unwrap().acked.insert(index);
}

struct Target {
    base: String,
    token: String,
}

impl Target {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }
}

/// One upload of each kind, until the server goes away.
async fn composer_worker(target: Arc<Target>, ledger: Shared, cycle: u64) {
    for n in 0.. {
        let package = format!("acme/lib{}", n % 3);
        let version = format!("1.{cycle}.{n}");
        let zip = package_zip(&package, &version, json!({}));
        let index = record(
            &ledger,
            Sent::Composer {
                package: package.clone(),
                version: version.clone(),
                zip: zip.clone(),
            },
        );
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(zip).file_name("p.zip"),
            )
            .text("version", version);
        let sent = client()
            .post(target.url(&format!("/composer/php/{package}")))
            .basic_auth("token", Some(&target.token))
            .multipart(form)
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 201 => ack(&ledger, index),
            Ok(response) => panic!("composer upload answered {}", response.status()),
            Err(_) => return,
        }
    }
}

async fn maven_worker(target: Arc<Target>, ledger: Shared, cycle: u64) {
    for n in 0.. {
        let version = format!("1.{cycle}.{n}");
        let base = format!("com/acme/app/{version}/app-{version}");
        // A jar, then its checksum, as Maven deploys them.
        let jar = format!("jar {cycle} {n} ")
            .repeat(50 + n as usize * 7)
            .into_bytes();
        let sha1 = format!("{:x}", Sha1::digest(&jar)).into_bytes();
        for (path, bytes) in [
            (format!("{base}.jar"), jar.clone()),
            (format!("{base}.jar.sha1"), sha1),
        ] {
            let index = record(
                &ledger,
                Sent::Maven {
                    path: path.clone(),
                    bytes: bytes.clone(),
                },
            );
            let sent = client()
                .put(target.url(&format!("/maven/java/{path}")))
                .basic_auth("token", Some(&target.token))
                .body(bytes)
                .send()
                .await;
            match sent {
                Ok(response) if response.status() == 201 => ack(&ledger, index),
                Ok(response) => panic!("maven PUT {path} answered {}", response.status()),
                Err(_) => return,
            }
        }
    }
}

/// Push one blob, monolithically or in two chunks; `None` when the server went away.
async fn push_blob(target: &Target, name: &str, bytes: &[u8], chunked: bool) -> Option<()> {
    let digest = sha256_digest(bytes);
    if !chunked {
        let response = client()
            .post(target.url(&format!("/v2/{name}/blobs/uploads/?digest={digest}")))
            .basic_auth("token", Some(&target.token))
            .body(bytes.to_vec())
            .send()
            .await
            .ok()?;
        assert_eq!(response.status(), 201, "monolithic blob push");
        return Some(());
    }
    let started = client()
        .post(target.url(&format!("/v2/{name}/blobs/uploads/")))
        .basic_auth("token", Some(&target.token))
        .send()
        .await
        .ok()?;
    assert_eq!(started.status(), 202);
    let mut location = started.headers()["location"].to_str().unwrap().to_owned();
    let middle = bytes.len() / 2;
    for (start, part) in [(0, &bytes[..middle]), (middle, &bytes[middle..])] {
        let response = client()
            .patch(target.url(&location))
            .basic_auth("token", Some(&target.token))
            .header(
                "content-range",
                format!("{start}-{}", start + part.len() - 1),
            )
            .body(part.to_vec())
            .send()
            .await
            .ok()?;
        assert_eq!(response.status(), 202, "chunk");
        location = response.headers()["location"].to_str().unwrap().to_owned();
    }
    let closed = client()
        .put(target.url(&location))
        .basic_auth("token", Some(&target.token))
        .query(&[("digest", &digest)])
        .send()
        .await
        .ok()?;
    assert_eq!(closed.status(), 201, "closing PUT");
    Some(())
}

/// An OCI image manifest of one config and one layer.
fn image_manifest(config: &[u8], layer: &[u8]) -> String {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(config), "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256_digest(layer), "size": layer.len() }],
    })
    .to_string()
}

async fn image_worker(target: Arc<Target>, ledger: Shared, cycle: u64, chunked: bool) {
    let image = if chunked { "chunked" } else { "mono" };
    let name = format!("img/{image}");
    for n in 0.. {
        let config = format!(r#"{{"architecture":"amd64","os":"linux","created":"{cycle}-{n}"}}"#)
            .into_bytes();
        let layer = format!("layer {image} {cycle} {n} ")
            .repeat(200)
            .into_bytes();
        let manifest = image_manifest(&config, &layer);
        let tag = format!("v{cycle}-{n}");
        let index = record(
            &ledger,
            Sent::Image {
                name: name.clone(),
                tag: tag.clone(),
                manifest: manifest.clone(),
                blobs: vec![config.clone(), layer.clone()],
            },
        );
        for bytes in [&config, &layer] {
            if push_blob(&target, &name, bytes, chunked).await.is_none() {
                return;
            }
        }
        let sent = client()
            .put(target.url(&format!("/v2/{name}/manifests/{tag}")))
            .basic_auth("token", Some(&target.token))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(manifest)
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 201 => ack(&ledger, index),
            Ok(response) => panic!("manifest PUT answered {}", response.status()),
            Err(_) => return,
        }
    }
}

async fn get(target: &Target, path: &str, accept: Option<&str>) -> (u16, Vec<u8>) {
    let mut request = client()
        .get(target.url(path))
        .basic_auth("token", Some(&target.token));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("the restarted server answers");
    let status = response.status().as_u16();
    (status, response.bytes().await.unwrap().to_vec())
}

/// Everything acknowledged is there, whole; nothing served is half-written.
async fn verify(target: &Target, ledger: &Shared, when: &str) -> usize {
    let (sent, acked) = {
        let ledger = ledger.lock().unwrap();
        (ledger.sent.clone(), ledger.acked.clone())
    };
    // Composer: what p2 lists, per package, each version's zip exactly as uploaded.
    let mut listed: HashMap<String, Value> = HashMap::new();
    for (index, item) in sent.iter().enumerate() {
        let Sent::Composer {
            package,
            version,
            zip,
        } = item
        else {
            continue;
        };
        if !listed.contains_key(package) {
            let (status, body) =
                get(target, &format!("/composer/php/p2/{package}.json"), None).await;
            let document = if status == 200 {
                serde_json::from_slice(&body).unwrap()
            } else {
                assert_eq!(status, 404, "{when}: p2 of {package}");
                json!({ "packages": { package.as_str(): [] } })
            };
            listed.insert(package.clone(), document);
        }
        let versions = listed[package]["packages"][package.as_str()]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let entry = versions.iter().find(|v| v["version"] == version.as_str());
        match entry {
            Some(entry) => {
                let url = entry["dist"]["url"].as_str().unwrap();
                let (status, bytes) = get(target, url, None).await;
                assert_eq!(status, 200, "{when}: dist of {package} {version}");
                assert_eq!(
                    &bytes, zip,
                    "{when}: dist of {package} {version} differs from the upload"
                );
                let shasum = entry["dist"]["shasum"].as_str().unwrap_or("");
                assert_eq!(
                    shasum,
                    format!("{:x}", Sha1::digest(&bytes)),
                    "{when}: shasum"
                );
            }
            None => assert!(
                !acked.contains(&index),
                "{when}: acknowledged {package} {version} is lost"
            ),
        }
    }
    // Maven: every file sent is either served whole (and its checksums agree) or absent;
    // acknowledged ones are served.
    for (index, item) in sent.iter().enumerate() {
        let Sent::Maven { path, bytes } = item else {
            continue;
        };
        let (status, body) = get(target, &format!("/maven/java/{path}"), None).await;
        if path.ends_with(".sha1") {
            // The server computes checksums itself: it answers for any stored jar.
            continue;
        }
        match status {
            200 => {
                assert_eq!(&body, bytes, "{when}: {path} differs from what was sent");
                let (status, sha1) = get(target, &format!("/maven/java/{path}.sha1"), None).await;
                assert_eq!(status, 200, "{when}: {path}.sha1");
                assert_eq!(
                    String::from_utf8_lossy(&sha1).trim(),
                    format!("{:x}", Sha1::digest(bytes)),
                    "{when}: {path}.sha1"
                );
            }
            404 => assert!(
                !acked.contains(&index),
                "{when}: acknowledged {path} is lost"
            ),
            other => panic!("{when}: GET {path} answered {other}"),
        }
    }
    // Images: every tag served has the manifest that was pushed, and all its blobs.
    for (index, item) in sent.iter().enumerate() {
        let Sent::Image {
            name,
            tag,
            manifest,
            blobs,
        } = item
        else {
            continue;
        };
        let (status, body) = get(
            target,
            &format!("/v2/{name}/manifests/{tag}"),
            Some("application/vnd.oci.image.manifest.v1+json"),
        )
        .await;
        match status {
            200 => {
                assert_eq!(
                    body,
                    manifest.as_bytes(),
                    "{when}: {name}:{tag} manifest differs"
                );
                for blob in blobs {
                    let digest = sha256_digest(blob);
                    let (status, bytes) =
                        get(target, &format!("/v2/{name}/blobs/{digest}"), None).await;
                    assert_eq!(status, 200, "{when}: {name}:{tag} lacks {digest}");
                    assert_eq!(&bytes, blob, "{when}: {digest} serves other bytes");
                }
            }
            404 => assert!(
                !acked.contains(&index),
                "{when}: acknowledged {name}:{tag} is lost"
            ),
            other => panic!("{when}: GET {name}:{tag} answered {other}"),
        }
    }
    acked.len()
}

/// Every stored blob file's bytes hash to its name (ignoring copies cut off mid-rename,
/// which maintenance removes).
fn blobs_hash_to_their_names(env: &TestEnv, when: &str) -> usize {
    let mut checked = 0;
    for path in files_under(&env.data_dir.path().join("blobs/sha256")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.len() != 64 {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            format!("{:x}", Sha256::digest(&bytes)),
            name,
            "{when}: {}",
            path.display()
        );
        checked += 1;
    }
    checked
}

fn kill(server: &TestServer) {
    let status = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(server.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn acknowledged_uploads_survive_sigkill_and_nothing_half_written_shows() {
    let env = TestEnv::new()
        .with_env("PACKISTRY_MAINTENANCE_INTERVAL_SECONDS", "1")
        .with_env("PACKISTRY_GC_GRACE_SECONDS", "2")
        .with_env("PACKISTRY_UPLOAD_TTL_SECONDS", "2");
    for (name, format) in [("php", "composer"), ("java", "maven"), ("img", "container")] {
        env.cli_ok(&["repo", "create", name, "--format", format]);
    }
    let token = env.admin_token("root@example.com");
    let ledger: Shared = Arc::default();
    let mut server = env.start();
    for cycle in 0..KILLS {
        let target = Arc::new(Target {
            base: server.base_url.clone(),
            token: token.clone(),
        });
        let workers = vec![
            tokio::spawn(composer_worker(target.clone(), ledger.clone(), cycle)),
            tokio::spawn(maven_worker(target.clone(), ledger.clone(), cycle)),
            tokio::spawn(image_worker(target.clone(), ledger.clone(), cycle, false)),
            tokio::spawn(image_worker(target.clone(), ledger.clone(), cycle, true)),
        ];
        // A different moment each time: early in a request, mid-body, mid-commit, in GC.
        let delay = 40 + (cycle * 97 + cycle * cycle * 13) % 460;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        kill(&server);
        for worker in workers {
            worker.await.expect("a worker saw something wrong");
        }
        drop(server);
        server = env.start();
        let target = Target {
            base: server.base_url.clone(),
            token: token.clone(),
        };
        let when = format!("after kill {}", cycle + 1);
        verify(&target, &ledger, &when).await;
        blobs_hash_to_their_names(&env, &when);
    }
    let target = Target {
        base: server.base_url.clone(),
        token: token.clone(),
    };
    let acked = verify(&target, &ledger, "at the end").await;
    let sent = ledger.lock().unwrap().sent.len();

    let checked = no_orphans_after_maintenance(&env, &target, &ledger).await;
    packistry_tests::report(&format!(
        "faults: {KILLS} kills survived; {acked} of {sent} uploads acknowledged, all intact; \
         {checked} blob files hash to their names; no orphans after maintenance"
    ));
}

/// The next maintenance passes leave no orphan: every blob file is named by a row, no
/// cut-off copy, file set aside or abandoned upload part remains, and what was acknowledged
/// is still whole. A replica killed during a pass holds maintenance up until its lease (a
/// minute) runs out, so this may take that long. The blob files checked.
async fn no_orphans_after_maintenance(env: &TestEnv, target: &Target, ledger: &Shared) -> usize {
    let db = sea_orm::Database::connect(env.database_url())
        .await
        .unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    let data = env.data_dir.path();
    let orphans = || async {
        let rows = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                "SELECT digest FROM blobs",
            ))
            .await
            .unwrap();
        let named: BTreeSet<String> = rows
            .iter()
            .map(|row| row.try_get::<String>("", "digest").unwrap())
            .collect();
        // Files no row names, and files a killed pass left set aside.
        files_under(&data.join("blobs/sha256"))
            .into_iter()
            .filter(|path| {
                !named.contains(&path.file_name().unwrap().to_string_lossy().to_string())
            })
            .chain(files_under(&data.join("blobs/trash")))
            .collect::<Vec<_>>()
    };
    let started = std::time::Instant::now();
    let mut left = orphans().await;
    while !left.is_empty() && started.elapsed() < Duration::from_secs(100) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        left = orphans().await;
    }
    assert!(left.is_empty(), "orphans remain: {left:?}");
    let uploads = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM oci_uploads",
        ))
        .await
        .unwrap()
        .len();
    if uploads == 0 {
        assert!(
            files_under(&data.join("blobs/uploads")).is_empty(),
            "upload parts remain"
        );
    }
    assert!(
        files_under(&data.join("blobs/trash")).is_empty(),
        "files set aside remain"
    );
    let checked = blobs_hash_to_their_names(env, "at the end");
    verify(target, ledger, "after maintenance").await;
    checked
}

/// Kills aimed inside garbage-collection passes: each round stores garbage (blobs no
/// manifest uses), waits until a pass begins collecting, and kills the server a few
/// milliseconds later. A kept image stays whole through every kill, every blob file hashes
/// to its name, and the passes after the last kill leave no orphan.
#[tokio::test]
async fn a_kill_inside_garbage_collection_loses_nothing_and_leaves_nothing() {
    const ROUNDS: u64 = 2;
    let env = TestEnv::new()
        .with_env("PACKISTRY_MAINTENANCE_INTERVAL_SECONDS", "1")
        .with_env("PACKISTRY_GC_GRACE_SECONDS", "0")
        .with_env(
            "PACKISTRY_LOG",
            "info,packistry_server::jobs::maintenance=debug",
        );
    env.cli_ok(&["repo", "create", "img", "--format", "container"]);
    let token = env.admin_token("root@example.com");
    let ledger: Shared = Arc::default();
    let mut server = env.start();
    let target = |server: &TestServer| Target {
        base: server.base_url.clone(),
        token: token.clone(),
    };

    // The image kept throughout: tagged, so no pass may take any of it.
    let kept = target(&server);
    let config = br#"{"architecture":"amd64","os":"linux","created":"kept"}"#.to_vec();
    let layer = b"the kept layer ".repeat(300);
    let manifest = image_manifest(&config, &layer);
    let index = record(
        &ledger,
        Sent::Image {
            name: "img/kept".into(),
            tag: "v1".into(),
            manifest: manifest.clone(),
            blobs: vec![config.clone(), layer.clone()],
        },
    );
    for bytes in [&config, &layer] {
        push_blob(&kept, "img/kept", bytes, false)
            .await
            .expect("pushed");
    }
    let response = client()
        .put(kept.url("/v2/img/kept/manifests/v1"))
        .basic_auth("token", Some(&token))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    ack(&ledger, index);

    for round in 0..ROUNDS {
        let now = target(&server);
        for n in 0..40 {
            let garbage = format!("garbage {round} {n} ").repeat(100).into_bytes();
            push_blob(&now, "img/garbage", &garbage, false)
                .await
                .expect("garbage pushed");
        }
        // A pass that begins after the garbage is there collects it: kill it as it does.
        let begun = server.logs().matches("collecting garbage").count();
        let waited = std::time::Instant::now();
        while server.logs().matches("collecting garbage").count() <= begun {
            assert!(
                waited.elapsed() < Duration::from_secs(90),
                "no maintenance pass began: {}",
                server.logs()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(round * 5)).await;
        kill(&server);
        drop(server);
        server = env.start();
        let when = format!("after the kill in garbage collection {}", round + 1);
        verify(&target(&server), &ledger, &when).await;
        blobs_hash_to_their_names(&env, &when);
    }
    let now = target(&server);
    no_orphans_after_maintenance(&env, &now, &ledger).await;
    packistry_tests::report(&format!(
        "faults: {ROUNDS} kills inside garbage collection; the kept image intact, no orphans after"
    ));
}
