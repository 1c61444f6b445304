//! A locked SQLite database (issue #17): while another process holds the write lock, a write
//! waits a bounded time and then gets a clear 503, never a 500 or a hang, and never a
//! corrupt file; once the lock is gone, writes go through again.

use std::time::{Duration, Instant};

use packistry_tests::composer::package_zip;
use packistry_tests::{client, TestEnv};
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use serde_json::json;

#[tokio::test]
async fn a_locked_sqlite_database_gets_a_bounded_wait_and_a_clear_answer() {
    if std::env::var("PACKISTRY_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) {
        return; // SQLite only.
    }
    let env = TestEnv::new();
    env.cli_ok(&["repo", "create", "php", "--format", "composer"]);
    let token = env.admin_token("root@example.com");
    let server = env.start();
    let upload = |version: &str| {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(package_zip("acme/lib", version, json!({})))
                    .file_name("p.zip"),
            )
            .text("version", version.to_owned());
        client()
            .post(server.url("/composer/php/acme/lib"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
    };
    assert_eq!(upload("1.0.0").await.unwrap().status(), 201);

    // Another process takes the write lock and keeps it.
    let mut options = ConnectOptions::new(env.database_url());
    options.max_connections(1).min_connections(1);
    let locker = Database::connect(options).await.unwrap();
    locker.execute_unprepared("BEGIN EXCLUSIVE").await.unwrap();

    let started = Instant::now();
    let refused = tokio::time::timeout(Duration::from_secs(60), upload("2.0.0"))
        .await
        .expect("a write under a lock is answered, not left hanging")
        .unwrap();
    let waited = started.elapsed();
    let status = refused.status();
    let body = refused.text().await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("try again"), "{body}");
    // Reads that need no write go on meanwhile.
    let read = client()
        .get(server.url("/composer/php/p2/acme/lib.json"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(
        read.status() == 200 || read.status() == 503,
        "{}",
        read.status()
    );

    locker.execute_unprepared("ROLLBACK").await.unwrap();
    drop(locker);
    assert_eq!(upload("2.0.0").await.unwrap().status(), 201);
    let p2: serde_json::Value = client()
        .get(server.url("/composer/php/p2/acme/lib.json"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let versions: Vec<&str> = p2["packages"]["acme/lib"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert!(
        versions.contains(&"1.0.0") && versions.contains(&"2.0.0"),
        "{versions:?}"
    );
    packistry_tests::report(&format!(
        "sqlite locked: a write waited {waited:?} and got 503; writes resumed after"
    ));
    // The file is intact.
    let check = Database::connect(env.database_url()).await.unwrap();
    let rows = check
        .query_one(sea_orm::Statement::from_string(
            check.get_database_backend(),
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows.try_get::<String>("", "integrity_check").unwrap(), "ok");
}
