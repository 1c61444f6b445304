//! A real Git server for import tests: `git-daemon` on loopback serving one bare project,
//! and a work tree that commits, tags and pushes to it.

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

/// Run git in `dir`, panicking with its stderr when it fails.
pub fn run(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

pub fn write(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}

/// A PHP class whose `version()` says which version it is.
pub fn greeter(namespace: &str, version: &str) -> String {
    format!(
        "<?php\nnamespace {namespace};\nclass Greeter {{ public static function version(): string {{ return '{version}'; }} }}\n"
    )
}

/// A Git server on loopback serving `{root}/acme.git`, and a work tree that pushes to it.
pub struct GitServer {
    child: Child,
    pub root: tempfile::TempDir,
    pub work: tempfile::TempDir,
    /// `git://127.0.0.1:{port}/acme.git`
    pub url: String,
}

impl Drop for GitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl GitServer {
    pub fn start() -> GitServer {
        let root = tempfile::tempdir().unwrap();
        let bare = root.path().join("acme.git");
        std::fs::create_dir_all(&bare).unwrap();
        run(
            &bare,
            &["init", "--bare", "--quiet", "--initial-branch=main"],
        );
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        // git-daemon itself (not `git daemon`, which would leave it running when killed).
        let exec_path = Command::new("git").arg("--exec-path").output().unwrap();
        let exec_path = String::from_utf8_lossy(&exec_path.stdout).trim().to_owned();
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args([
                "--export-all",
                "--reuseaddr",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", root.path().display()),
            ])
            .arg(root.path())
            .spawn()
            .expect("git daemon starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let work = tempfile::tempdir().unwrap();
        run(work.path(), &["init", "--quiet", "--initial-branch=main"]);
        run(
            work.path(),
            &["remote", "add", "origin", bare.to_str().unwrap()],
        );
        GitServer {
            child,
            root,
            work,
            url: format!("git://127.0.0.1:{port}/acme.git"),
        }
    }

    pub fn commit(&self, message: &str) {
        run(self.work.path(), &["add", "-A"]);
        run(self.work.path(), &["commit", "--quiet", "-m", message]);
    }

    pub fn push(&self, args: &[&str]) {
        let mut all = vec!["push", "--quiet", "origin"];
        all.extend_from_slice(args);
        run(self.work.path(), &all);
    }
}
