//! A real S3-compatible store for tests: moto's server on a free loopback port, one bucket.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::in_ci;

/// Whether moto's server is installed. Under `CI=true` a missing one is a failure.
pub fn available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "moto[server] is missing: run scripts/install-tools.sh test (CI=true never skips it)"
        );
        eprintln!("skipping: moto[server] is not installed (scripts/install-tools.sh test)");
    }
    found
}

/// A running moto server with one bucket; stopped when dropped.
pub struct S3 {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
}

impl S3 {
    pub async fn start(bucket: &str) -> S3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto server starts");
        let s3 = S3 {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: bucket.to_owned(),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if client.get(&s3.endpoint).send().await.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "moto server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let created = client
            .put(format!("{}/{bucket}", s3.endpoint))
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "bucket {bucket}: {created:?}"
        );
        s3
    }

    /// The variables a Packistry server needs to use the bucket under `prefix`.
    pub fn env(&self, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "PACKISTRY_STORAGE_URL",
                format!("s3://{}/{prefix}", self.bucket),
            ),
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ]
    }

    /// Every key in the bucket (ListObjectsV2, following continuation tokens).
    pub async fn keys(&self) -> Vec<String> {
        let client = reqwest::Client::new();
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2".to_owned())];
            if let Some(token) = &token {
                query.push(("continuation-token", token.clone()));
            }
            let xml = client
                .get(format!("{}/{}", self.endpoint, self.bucket))
                .query(&query)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            keys.extend(between_all(&xml, "<Key>", "</Key>"));
            token = between_all(&xml, "<NextContinuationToken>", "</NextContinuationToken>")
                .into_iter()
                .next();
            if token.is_none() {
                return keys;
            }
        }
    }
}

fn between_all(text: &str, open: &str, close: &str) -> Vec<String> {
    text.split(open)
        .skip(1)
        .filter_map(|rest| rest.split(close).next())
        .map(str::to_owned)
        .collect()
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
