//! Browser tests: Debian's Chromium driven by playwright-core from `tests/browser/`.

use std::path::PathBuf;
use std::process::Command;

use crate::{in_ci, workspace_root};

/// Where screenshots are kept as test artifacts.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("tests/artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

/// Whether the browser tooling is installed. Under `CI=true` its absence is a failure.
pub fn available() -> bool {
    let browser_dir = workspace_root().join("tests/browser");
    let chromium = std::path::Path::new(&chromium_path()).exists();
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let playwright = browser_dir.join("node_modules/playwright-core").exists()
        && browser_dir.join("node_modules/oidc-provider").exists();
    let spa = workspace_root().join("frontend/dist/index.html").exists();
    let missing: Vec<&str> = [
        (!chromium, "chromium"),
        (!node, "node"),
        (
            !playwright,
            "tests/browser/node_modules: playwright-core, oidc-provider (npm ci)",
        ),
        (!spa, "frontend/dist (trunk build --release)"),
    ]
    .into_iter()
    .filter_map(|(missing, what)| missing.then_some(what))
    .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "browser test needs: {} (make test installs them)",
        missing.join(", ")
    );
    assert!(!in_ci(), "{message}");
    eprintln!("skipping: {message}");
    false
}

pub fn chromium_path() -> String {
    std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

/// Run `tests/browser/<script>` with `node`, passing `env`; returns its combined output and
/// whether it succeeded.
pub fn run_script(script: &str, env: &[(&str, &str)]) -> (bool, String) {
    let browser_dir = workspace_root().join("tests/browser");
    let mut command = Command::new("node");
    command
        .arg(browser_dir.join(script))
        .current_dir(&browser_dir)
        .env("CHROMIUM_PATH", chromium_path())
        .env("ARTIFACTS_DIR", artifacts_dir());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("node runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Run a browser script against `server`, signed in as `email`/`password`, with `extra`
/// environment; panics with the script's and the server's output when it fails. Returns
/// the script's output.
pub async fn run_against(
    server: &crate::TestServer,
    script: &'static str,
    email: &'static str,
    password: &'static str,
    extra: &[(&'static str, &'static str)],
) -> String {
    let base = server.base_url.clone();
    let extra = extra.to_vec();
    let (ok, output) = tokio::task::spawn_blocking(move || {
        let mut env = vec![
            ("BASE_URL", base.as_str()),
            ("EMAIL", email),
            ("PASSWORD", password),
        ];
        env.extend(extra);
        run_script(script, &env)
    })
    .await
    .expect("the browser script ran");
    assert!(
        ok,
        "browser test failed:\n{output}\nserver log:\n{}",
        server.logs()
    );
    output
}

/// A Node.js program from `tests/browser/` running beside a test, stopped when dropped.
pub struct NodeProcess {
    child: std::process::Child,
    /// Lines it printed as `KEY=value` before it was ready.
    pub announced: std::collections::HashMap<String, String>,
}

impl NodeProcess {
    /// Start `script` with `env` and wait until it prints `{ready_key}=…`.
    pub fn start(script: &str, env: &[(&str, &str)], ready_key: &str) -> NodeProcess {
        use std::io::BufRead;
        let browser_dir = workspace_root().join("tests/browser");
        let mut command = Command::new("node");
        command
            .arg(browser_dir.join(script))
            .current_dir(&browser_dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("node starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut announced = std::collections::HashMap::new();
        let mut lines = std::io::BufReader::new(stdout).lines();
        while !announced.contains_key(ready_key) {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some((key, value)) = line.split_once('=') {
                        announced.insert(key.to_owned(), value.to_owned());
                    }
                }
                _ => {
                    let _ = child.kill();
                    panic!("{script} ended before printing {ready_key}=");
                }
            }
        }
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        NodeProcess { child, announced }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
