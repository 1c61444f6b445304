//! The database goes away under load (issue #17): a PostgreSQL of the test's own (its own
//! data directory and port, driven with `pg_ctl`) is stopped for 5 seconds and started
//! again while clients download and upload. The server answers 503 while it is down (never
//! 500, never a hang), recovers without a restart, and loses no acknowledged upload.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use packistry_tests::composer::package_zip;
use packistry_tests::{client, in_ci, TestEnv};
use serde_json::json;

fn pg_bin(name: &str) -> Option<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    versions
        .flatten()
        .map(|v| v.path().join("bin").join(name))
        .find(|p| p.exists())
}

/// A command run as the `postgres` user (PostgreSQL refuses to run as root).
fn as_postgres(program: &PathBuf, args: &[&str]) -> bool {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
    pg_ctl: PathBuf,
}

impl OwnPostgres {
    fn create() -> Option<OwnPostgres> {
        let (initdb, pg_ctl, createdb) =
            (pg_bin("initdb")?, pg_bin("pg_ctl")?, pg_bin("createdb")?);
        let dir = tempfile::Builder::new()
            .prefix("packistry-pg")
            .tempdir_in("/tmp")
            .ok()?;
        let chowned = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !chowned {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let data = dir.path().join("data");
        let data = data.to_str()?;
        if !as_postgres(
            &initdb,
            &["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
        ) {
            return None;
        }
        let pg = OwnPostgres { dir, port, pg_ctl };
        if !pg.start() {
            return None;
        }
        let port = port.to_string();
        as_postgres(
            &createdb,
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "packistry",
            ],
        )
        .then_some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn start(&self) -> bool {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        as_postgres(
            &self.pg_ctl,
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )
    }

    fn stop(&self) -> bool {
        as_postgres(
            &self.pg_ctl,
            &["-D", &self.data(), "-m", "fast", "-w", "stop"],
        )
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/packistry", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        as_postgres(
            &self.pg_ctl,
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

#[tokio::test]
async fn a_database_restart_gets_503s_then_recovers_and_loses_nothing() {
    if std::env::var("PACKISTRY_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) {
        // Runs once, in the SQLite pass: it brings its own PostgreSQL.
        return;
    }
    let Some(pg) = OwnPostgres::create() else {
        assert!(
            !in_ci(),
            "a PostgreSQL of the test's own could not be started (pg_ctl as postgres)"
        );
        eprintln!("skipping: cannot start a PostgreSQL of the test's own");
        return;
    };
    let env = TestEnv::new().with_env("PACKISTRY_DATABASE_URL", &pg.url());
    env.cli_ok(&["repo", "create", "php", "--format", "composer"]);
    let token = env.admin_token("root@example.com");
    let server = env.start();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let upload = {
        let (http, url, token) = (
            http.clone(),
            server.url("/composer/php/acme/lib"),
            token.clone(),
        );
        move |version: String| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let form = reqwest::multipart::Form::new()
                    .part(
                        "file",
                        reqwest::multipart::Part::bytes(package_zip(
                            "acme/lib",
                            &version,
                            json!({}),
                        ))
                        .file_name("p.zip"),
                    )
                    .text("version", version);
                http.post(url)
                    .bearer_auth(&token)
                    .multipart(form)
                    .send()
                    .await
            }
        }
    };
    assert_eq!(upload("1.0.0".into()).await.unwrap().status(), 201);

    // Clients read and write all along; the database stops for 5 s after 2 s.
    let statuses: Arc<Mutex<Vec<(u16, &'static str)>>> = Arc::default();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(14);
    let mut clients = Vec::new();
    for worker in 0..4 {
        let (http, statuses, acked, token) =
            (http.clone(), statuses.clone(), acked.clone(), token.clone());
        let p2 = server.url("/composer/php/p2/acme/lib.json");
        let upload = upload.clone();
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let read = http.get(&p2).bearer_auth(&token).send().await;
                let status = read
                    .expect("a read answered (no hang, no dropped connection)")
                    .status();
                statuses.lock().unwrap().push((status.as_u16(), "read"));
                let version = format!("2.{worker}.{n}");
                let written = upload(version.clone()).await;
                let status = written.expect("an upload answered (no hang)").status();
                statuses.lock().unwrap().push((status.as_u16(), "upload"));
                if status == 201 {
                    acked.lock().unwrap().push(version);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(pg.stop(), "pg_ctl stop");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let ready_while_down = client()
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    assert!(pg.start(), "pg_ctl start");
    for c in clients {
        c.await.unwrap();
    }

    let statuses = statuses.lock().unwrap().clone();
    let unavailable = statuses.iter().filter(|(s, _)| *s == 503).count();
    let failed: Vec<_> = statuses
        .iter()
        .filter(|(s, _)| ![200, 201, 503].contains(s))
        .collect();
    assert!(
        failed.is_empty(),
        "answers other than 200/201/503: {failed:?}"
    );
    assert!(
        unavailable > 0,
        "no request noticed the database was down: {statuses:?}"
    );
    assert_eq!(ready_while_down, 503);

    // Recovered without a restart: ready, and an upload goes through.
    let mut ready = false;
    for _ in 0..60 {
        if client()
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(ready, "the server did not become ready again");
    assert_eq!(upload("3.0.0".into()).await.unwrap().status(), 201);

    // Nothing acknowledged was lost.
    let p2: serde_json::Value = http
        .get(server.url("/composer/php/p2/acme/lib.json"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed: Vec<String> = p2["packages"]["acme/lib"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_owned())
        .collect();
    let acked = acked.lock().unwrap().clone();
    for version in acked
        .iter()
        .chain(["1.0.0".to_owned(), "3.0.0".to_owned()].iter())
    {
        assert!(listed.contains(version), "acknowledged {version} is lost");
    }
    packistry_tests::report(&format!(
        "database faults: {} answers, {unavailable} of them 503 while the database was down, 0 other errors; {} acknowledged uploads kept",
        statuses.len(),
        acked.len() + 2
    ));
}
