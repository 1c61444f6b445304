//! A full disk (issue #17): the data directory on a small tmpfs, filled until uploads meet
//! ENOSPC. Each protocol answers 507 in its own format, nothing stored is corrupt, reads go
//! on, and uploads work again once space is freed.

use std::path::Path;
use std::process::Command;

use packistry_tests::composer::zip_of;
use packistry_tests::{client, files_under, in_ci, TestEnv};
use sha2::{Digest, Sha256};

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Option<Mounted> {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .ok()?
        .success()
        .then(|| Mounted(dir.to_owned()))
}

fn available(dir: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(dir)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap()
}

/// Bytes that do not compress.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = Sha256::digest(seed.to_le_bytes());
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    out.truncate(len);
    out
}

fn composer_zip(version: &str, seed: u64) -> Vec<u8> {
    zip_of(&[
        ("composer.json", br#"{"name":"acme/big","type":"library"}"#),
        ("data.bin", &noise(seed, 1024 * 1024)),
        ("VERSION", version.as_bytes()),
    ])
}

#[tokio::test]
async fn a_full_disk_gets_507s_and_nothing_corrupt_and_recovers() {
    if std::env::var("PACKISTRY_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) {
        // The database would not be on the small disk: this runs in the SQLite pass.
        return;
    }
    let env = TestEnv::new();
    let Some(_mounted) = mount_tmpfs(env.data_dir.path(), "40m") else {
        assert!(
            !in_ci(),
            "cannot mount a tmpfs for the disk-full test (needs root)"
        );
        eprintln!("skipping: cannot mount a tmpfs (needs root)");
        return;
    };
    for (name, format) in [("php", "composer"), ("java", "maven"), ("img", "container")] {
        env.cli_ok(&["repo", "create", name, "--format", format]);
    }
    let token = env.admin_token("root@example.com");
    let server = env.start();
    let upload_composer = |version: String, seed: u64| {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(composer_zip(&version, seed)).file_name("p.zip"),
            )
            .text("version", version);
        client()
            .post(server.url("/composer/php/acme/big"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
    };
    let first = upload_composer("1.0.0".into(), 0).await.unwrap();
    assert_eq!(first.status(), 201);

    // Fill the disk to within 3 MiB.
    let filler = env.data_dir.path().join("filler");
    let room = available(env.data_dir.path()).saturating_sub(3 * 1024 * 1024);
    std::fs::write(&filler, vec![0u8; room as usize]).unwrap();

    // Uploads now run out of space: 507 in each protocol's format, never a 500.
    let mut acked = vec!["1.0.0".to_owned()];
    let mut refused = None;
    for n in 1..10u64 {
        let version = format!("1.0.{n}");
        let response = upload_composer(version.clone(), n).await.unwrap();
        match response.status().as_u16() {
            201 => acked.push(version),
            507 => {
                refused = Some(response.text().await.unwrap());
                break;
            }
            other => panic!("composer upload on a full disk answered {other}"),
        }
    }
    let message = refused.expect("the disk filled up");
    assert!(message.contains("storage is full"), "{message}");
    let maven = client()
        .put(server.url("/maven/java/com/acme/big/1.0/big-1.0.jar"))
        .bearer_auth(&token)
        .body(noise(99, 4 * 1024 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(maven.status(), 507);
    let blob = noise(100, 4 * 1024 * 1024);
    let oci = client()
        .post(server.url(&format!(
            "/v2/img/app/blobs/uploads/?digest=sha256:{:x}",
            Sha256::digest(&blob)
        )))
        .bearer_auth(&token)
        .body(blob)
        .send()
        .await
        .unwrap();
    assert_eq!(oci.status(), 507);
    let body = oci.text().await.unwrap();
    assert!(body.contains("\"errors\""), "{body}");

    // Reads go on; everything acknowledged is whole; stored blobs hash to their names.
    let check_all = |acked: Vec<String>| {
        let (server, token) = (&server, &token);
        async move {
            let p2: serde_json::Value = client()
                .get(server.url("/composer/php/p2/acme/big.json"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let versions = p2["packages"]["acme/big"].as_array().unwrap().clone();
            for version in &acked {
                let entry = versions
                    .iter()
                    .find(|v| v["version"] == version.as_str())
                    .unwrap_or_else(|| panic!("acknowledged {version} is missing"));
                let dist = client()
                    .get(entry["dist"]["url"].as_str().unwrap())
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(dist.status(), 200);
                let bytes = dist.bytes().await.unwrap();
                let shasum = entry["dist"]["shasum"].as_str().unwrap();
                use sha1::Digest as _;
                assert_eq!(
                    format!("{:x}", sha1::Sha1::digest(&bytes)),
                    shasum,
                    "{version}"
                );
            }
        }
    };
    check_all(acked.clone()).await;
    for path in files_under(&env.data_dir.path().join("blobs/sha256")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.len() == 64 {
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                format!("{:x}", Sha256::digest(&bytes)),
                name,
                "corrupt {}",
                path.display()
            );
        }
    }

    // Space freed: uploads work again, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let again = upload_composer("2.0.0".into(), 200).await.unwrap();
    assert_eq!(again.status(), 201, "{}", again.text().await.unwrap());
    acked.push("2.0.0".into());
    let maven = client()
        .put(server.url("/maven/java/com/acme/big/2.0/big-2.0.jar"))
        .bearer_auth(&token)
        .body(noise(201, 1024 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(maven.status(), 201);
    check_all(acked.clone()).await;
    drop(server);
}
