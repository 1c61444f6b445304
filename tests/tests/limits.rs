//! The server protects itself from its callers (DESIGN "Limits", issue #16): bodies are not
//! read before their caller is allowed, and then only up to small caps; silent connections
//! do not delay others.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use packistry_tests::{client, TestEnv, TestServer};
use tokio::io::AsyncWriteExt;

/// The server's resident memory, from /proc.
fn rss_bytes(server: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}

/// A body of `size` bytes made as it is sent, counting how much the server pulled.
fn counted_body(size: u64, sent: Arc<AtomicU64>) -> reqwest::Body {
    const CHUNK: usize = 256 * 1024;
    let chunks = size.div_ceil(CHUNK as u64);
    let stream = futures_util::stream::iter(0..chunks).map(move |_| {
        sent.fetch_add(CHUNK as u64, Ordering::Relaxed);
        Ok::<_, std::io::Error>(bytes_of(CHUNK))
    });
    reqwest::Body::wrap_stream(stream)
}

fn bytes_of(n: usize) -> Vec<u8> {
    vec![b'x'; n]
}

use futures_util::StreamExt;

const HUGE: u64 = 200 * 1024 * 1024;

#[tokio::test]
async fn huge_anonymous_bodies_are_refused_before_they_are_read() {
    let env = TestEnv::new();
    env.cli_ok(&["repo", "create", "private-php", "--format", "composer"]);
    let server = env.start();
    let before = rss_bytes(&server);
    let attempts: [(&str, &str); 3] = [
        // GraphQL multipart (only a header no form can send was needed before).
        ("/graphql", "multipart/form-data; boundary=x"),
        // Composer's download notifications on a private repository.
        ("/composer/private-php/downloads", "application/json"),
        // An upload without credentials.
        (
            "/composer/private-php/acme/huge",
            "multipart/form-data; boundary=x",
        ),
    ];
    for (path, content_type) in attempts {
        let sent = Arc::new(AtomicU64::new(0));
        let answer = client()
            .post(server.url(path))
            .header("content-type", content_type)
            .header("x-csrf-token", "anything")
            .body(counted_body(HUGE, sent.clone()))
            .send()
            .await;
        // Either the refusal arrives, or the server closed the connection on the body.
        if let Ok(response) = answer {
            assert_eq!(response.status(), 401, "{path}");
        }
        let pulled = sent.load(Ordering::Relaxed);
        assert!(
            pulled < HUGE / 4,
            "{path}: {pulled} bytes of the body were taken in"
        );
    }
    let grown = rss_bytes(&server).saturating_sub(before);
    assert!(grown < 64 * 1024 * 1024, "the server grew by {grown} bytes");
}

#[tokio::test]
async fn allowed_callers_still_get_small_caps() {
    let env = TestEnv::new();
    env.cli_ok(&["repo", "create", "php", "--format", "composer"]);
    let token = env.admin_token("root@example.com");
    let server = env.start();
    // Download notifications are small JSON: 2 MiB is refused.
    let response = client()
        .post(server.url("/composer/php/downloads"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // A GraphQL multipart `operations` field is capped like a JSON request.
    let form = reqwest::multipart::Form::new()
        .text("operations", " ".repeat(2 * 1024 * 1024))
        .text("map", "{}");
    let response = client()
        .post(server.url("/graphql"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // An upload form's text fields are capped too.
    let form = reqwest::multipart::Form::new().text("version", "1".repeat(64 * 1024));
    let response = client()
        .post(server.url("/composer/php/acme/pkg"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("at most"));
}

#[tokio::test]
async fn silent_connections_do_not_delay_a_normal_request() {
    let env = TestEnv::new();
    let server = env.start();
    let address = server.base_url.trim_start_matches("http://").to_owned();
    // 200 connections that send half a request head and then nothing.
    let mut silent = Vec::new();
    for _ in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        silent.push(stream);
    }
    // A normal request is answered all the same (the bound is liveness, not speed).
    let answered = tokio::time::timeout(
        Duration::from_secs(20),
        client().get(server.url("/readyz")).send(),
    )
    .await
    .expect("answered while 200 connections stall")
    .unwrap();
    assert_eq!(answered.status(), 200);
    drop(silent);
}
