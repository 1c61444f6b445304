//! The test harness: a real `packistry` process on `127.0.0.1:0` with a temporary data dir,
//! on SQLite by default or on a fresh PostgreSQL database per test when
//! `PACKISTRY_TEST_POSTGRES` is set (e.g. `postgres://postgres@127.0.0.1:5432`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub mod browser;
pub mod composer;
pub mod git;
pub mod git_hosts;
pub mod maven;
pub mod oauth;
pub mod oci;
pub mod s3;
pub mod seed;

/// The `packistry` binary under test: `PACKISTRY_BIN`, or the workspace's debug build.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("PACKISTRY_BIN") {
        return bin.into();
    }
    let bin = workspace_root().join("target/debug/packistry");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p packistry-server` first (make test does)",
        bin.display()
    );
    bin
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// Print a suite's closing figures, and keep them in `target/test-logs/reports.txt`, which
/// `make test` prints at the end (cargo test hides what passing tests print).
pub fn report(line: &str) {
    println!("{line}");
    let database = if std::env::var("PACKISTRY_TEST_POSTGRES").is_ok_and(|v| !v.is_empty()) {
        "postgres"
    } else {
        "sqlite"
    };
    let dir = workspace_root().join("target/test-logs");
    if std::fs::create_dir_all(&dir).is_ok() {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("reports.txt"))
        {
            let _ = writeln!(file, "[{database}] {line}");
        }
    }
}

/// Whether missing tools must fail tests instead of skipping them.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The database a test server uses; a PostgreSQL database is dropped when this is.
pub struct TestDatabase {
    url: Option<String>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// SQLite under the data dir, or a new PostgreSQL database.
    pub fn fresh() -> TestDatabase {
        match std::env::var("PACKISTRY_TEST_POSTGRES") {
            Ok(base) if !base.is_empty() => {
                let base = base.trim_end_matches('/').to_owned();
                let prefix = std::env::var("PACKISTRY_TEST_DB_PREFIX")
                    .unwrap_or_else(|_| "packistry_test".into());
                let name = format!(
                    "{prefix}_{}",
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                );
                let status = Command::new("createdb")
                    .arg(format!("--maintenance-db={base}/postgres"))
                    .arg(&name)
                    .status()
                    .expect("createdb runs (PostgreSQL client tools are installed)");
                assert!(status.success(), "createdb {name} failed against {base}");
                TestDatabase {
                    url: Some(format!("{base}/{name}")),
                    postgres: Some((base, name)),
                }
            }
            _ => TestDatabase {
                url: None,
                postgres: None,
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((base, name)) = &self.postgres {
            let _ = Command::new("dropdb")
                .arg(format!("--maintenance-db={base}/postgres"))
                .arg("--if-exists")
                .arg("--force")
                .arg(name)
                .status();
        }
    }
}

/// Everything a server process is started with; kept so it can be restarted the same way.
pub struct TestEnv {
    pub data_dir: tempfile::TempDir,
    pub database: TestDatabase,
    pub extra_env: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        TestEnv {
            data_dir: tempfile::tempdir().expect("temporary data dir"),
            database: TestDatabase::fresh(),
            extra_env: Vec::new(),
        }
    }

    /// The database URL the server uses (SQLite in the data dir unless on PostgreSQL).
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}/packistry.db", self.data_dir.path().display()),
        }
    }

    /// Run SQL against the server's database, as an operator would with `psql` or `sqlite3`
    /// (for states a test cannot reach by waiting, such as an expired flow).
    pub async fn execute_sql(&self, sql: &str) {
        use sea_orm::ConnectionTrait;
        let db = sea_orm::Database::connect(self.database_url())
            .await
            .expect("connect to the test database");
        db.execute_unprepared(sql).await.expect("SQL runs");
        db.close().await.expect("close");
    }

    pub fn with_env(mut self, key: &str, value: &str) -> TestEnv {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    /// A `packistry` command with this environment.
    pub fn command(&self) -> Command {
        let mut command = Command::new(binary());
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.data_dir.path())
            .env("PACKISTRY_DATA_DIR", self.data_dir.path())
            .env("PACKISTRY_LISTEN", "127.0.0.1:0")
            .env("PACKISTRY_LOG_FORMAT", "human")
            .current_dir(self.data_dir.path());
        // A developer chasing a failure may ask the servers under test for more detail.
        if let Some(filter) = std::env::var_os("PACKISTRY_LOG") {
            command.env("PACKISTRY_LOG", filter);
        }
        if let Some(url) = &self.database.url {
            command.env("PACKISTRY_DATABASE_URL", url);
        }
        for (key, value) in &self.extra_env {
            command.env(key, value);
        }
        command
    }

    /// Run a CLI command to completion, with `stdin` as its standard input.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("packistry runs");
        {
            let mut input = child.stdin.take().expect("stdin");
            if let Some(text) = stdin {
                input.write_all(text.as_bytes()).expect("write stdin");
            }
        }
        child.wait_with_output().expect("packistry finishes")
    }

    /// `packistry user create … --password-stdin`, asserting success.
    pub fn create_user(&self, email: &str, role: &str, password: &str) {
        let out = self.cli(
            &[
                "user",
                "create",
                "--email",
                email,
                "--role",
                role,
                "--password-stdin",
            ],
            Some(&format!("{password}\n")),
        );
        assert!(
            out.status.success(),
            "user create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// An admin user and a personal token of theirs covering all repositories with
    /// administrator permitted (where most tests start); the token's secret.
    pub fn admin_token(&self, email: &str) -> String {
        self.create_user(email, "admin", "admin-password-1");
        self.cli_ok(&[
            "token",
            "create",
            "--user",
            email,
            "--name",
            "admin",
            "--all-repositories",
            "--role",
            "administrator",
        ])
    }

    /// A CLI command that must succeed; its standard output, trimmed.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub fn start(&self) -> TestServer {
        TestServer::start_in(self)
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv::new()
    }
}

/// A running `packistry serve`.
pub struct TestServer {
    pub base_url: String,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    fn start_in(env: &TestEnv) -> TestServer {
        let mut child = env
            .command()
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("packistry serve starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let logs = logs.clone();
            let address_tx = address_tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let address = rest.split(';').next().unwrap_or("").trim().to_owned();
                        let _ = address_tx.send(address);
                    }
                    logs.lock().expect("logs").push(line);
                }
            });
        }
        let address = match address_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not start; its output:\n{}",
                    logs.lock().expect("logs").join("\n")
                );
            }
        };
        TestServer {
            base_url: format!("http://{address}"),
            child,
            logs,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub fn logs(&self) -> String {
        self.logs.lock().expect("logs").join("\n")
    }

    /// SIGTERM, then wait for the process to exit.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

/// An HTTP client that keeps nothing between requests (cookies are handled by the tests).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A GraphQL answer with what a test needs to see of the HTTP exchange.
#[derive(Debug)]
pub struct GraphqlAnswer {
    pub status: u16,
    pub set_cookies: Vec<String>,
    pub body: Value,
}

impl GraphqlAnswer {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }
    /// The `extensions.code` of the first error, if any.
    pub fn error_code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }
    pub fn error_message(&self) -> Option<&str> {
        self.body["errors"][0]["message"].as_str()
    }
    /// The value of a cookie this answer set.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (key, value) = first.split_once('=')?;
            (key == name).then(|| value.to_owned())
        })
    }
}

/// Cookies and CSRF token of a signed-in browser.
#[derive(Debug, Clone, Default)]
pub struct BrowserSession {
    pub session: String,
    pub csrf: String,
}

impl BrowserSession {
    pub fn cookie_header(&self) -> String {
        format!(
            "packistry_session={}; packistry_csrf={}",
            self.session, self.csrf
        )
    }
}

/// Revoke a token through GraphQL, signed in with the token itself (a token may always
/// revoke itself), and check the revocation took.
pub async fn revoke_own_token(server: &TestServer, token: &str) {
    let call = |query: &'static str, variables: Value| {
        client()
            .post(server.url("/graphql"))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
    };
    let mine: Value = call("{ viewer { token { id } } }", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = mine["data"]["viewer"]["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked: Value = call(
        "mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }",
        json!({ "id": id }),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(
        revoked["data"]["revokeToken"]["revokedAt"].is_string(),
        "{revoked}"
    );
}

pub async fn graphql(
    server: &TestServer,
    query: &str,
    variables: Value,
    session: Option<&BrowserSession>,
    send_csrf: bool,
) -> GraphqlAnswer {
    let mut request = client()
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body(json!({ "query": query, "variables": variables }).to_string());
    if let Some(session) = session {
        request = request.header("cookie", session.cookie_header());
        if send_csrf {
            request = request.header("x-csrf-token", &session.csrf);
        }
    }
    let response = request.send().await.expect("graphql request");
    let status = response.status().as_u16();
    let set_cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    let text = response.text().await.expect("graphql body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    GraphqlAnswer {
        status,
        set_cookies,
        body,
    }
}

pub const LOGIN: &str =
    "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { user { email globalRole } } }";

/// Sign in through GraphQL and keep the cookies, as a browser would.
pub async fn login(
    server: &TestServer,
    email: &str,
    password: &str,
) -> Result<BrowserSession, GraphqlAnswer> {
    let answer = graphql(
        server,
        LOGIN,
        json!({ "email": email, "password": password }),
        None,
        false,
    )
    .await;
    match (
        answer.cookie("packistry_session"),
        answer.cookie("packistry_csrf"),
    ) {
        (Some(session), Some(csrf)) if answer.body["errors"].is_null() => {
            Ok(BrowserSession { session, csrf })
        }
        _ => Err(answer),
    }
}

/// Every file under a directory, recursively (none when it does not exist).
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}
