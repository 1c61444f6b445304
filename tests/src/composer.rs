//! Driving the real `composer` client, and building package archives to upload.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::{client, in_ci, TestServer};

/// Whether composer (with PHP's zip support) can run. Under `CI=true` a missing client is a
/// failure, never a skip.
pub fn available() -> bool {
    let found = Command::new("composer")
        .arg("--version")
        .env("COMPOSER_ALLOW_SUPERUSER", "1")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "composer is missing: run scripts/install-tools.sh test (CI=true never skips it)"
        );
        eprintln!("skipping: composer is not installed (scripts/install-tools.sh test)");
    }
    found
}

/// A zip holding a package whose class `{Namespace}\Greeter::version()` returns `version`.
pub fn package_zip(name: &str, version: &str, extra: Value) -> Vec<u8> {
    let namespace = namespace_of(name);
    let mut composer_json = json!({
        "name": name,
        "description": format!("The {name} package"),
        "type": "library",
        "license": "MIT",
        "autoload": { "psr-4": { format!("{namespace}\\"): "src/" } },
        "require": { "php": ">=7.4" },
    });
    if let (Some(target), Value::Object(more)) = (composer_json.as_object_mut(), extra) {
        target.extend(more);
    }
    zip_of(&[
        (
            "composer.json",
            serde_json::to_vec_pretty(&composer_json).unwrap().as_slice(),
        ),
        (
            "src/Greeter.php",
            format!(
                "<?php\nnamespace {namespace};\n\nclass Greeter\n{{\n    public static function version(): string\n    {{\n        return '{version}';\n    }}\n}}\n"
            )
            .as_bytes(),
        ),
        ("README.md", format!("# {name}\n\nVersion **{version}**.\n").as_bytes()),
    ])
}

/// `acme/hello-world` → `Acme\HelloWorld`.
pub fn namespace_of(name: &str) -> String {
    name.split('/')
        .map(|part| {
            part.split(['-', '_', '.'])
                .map(|word| {
                    let mut chars = word.chars();
                    chars
                        .next()
                        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                        .unwrap_or_default()
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\\")
}

/// A zip of the given entries, deflated.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(body).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// `POST /composer/{repo}/{package}` with the zip in `file` and an optional `version`.
pub async fn upload(
    server: &TestServer,
    repository: &str,
    package: &str,
    zip: Vec<u8>,
    version: Option<&str>,
    token: Option<&str>,
) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(zip)
            .file_name("package.zip")
            .mime_str("application/zip")
            .unwrap(),
    );
    if let Some(version) = version {
        form = form.text("version", version.to_owned());
    }
    let mut request = client()
        .post(server.url(&format!("/composer/{repository}/{package}")))
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// How a project authenticates to the repository.
pub enum Credentials<'a> {
    None,
    HttpBasic(&'a str),
    Bearer(&'a str),
}

/// A fresh Composer project using one Packistry repository, with its own cache and home.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new(server: &TestServer, repository: &str, credentials: Credentials<'_>) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let composer_json = json!({
            "name": "test/project",
            "repositories": [
                { "type": "composer", "url": server.url(&format!("/composer/{repository}")) },
                { "packagist.org": false },
            ],
            "config": { "secure-http": false },
            "minimum-stability": "stable",
        });
        std::fs::write(
            dir.path().join("composer.json"),
            serde_json::to_vec_pretty(&composer_json).unwrap(),
        )
        .unwrap();
        let host = server
            .base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let auth = match credentials {
            Credentials::None => None,
            Credentials::HttpBasic(token) => {
                Some(json!({ "http-basic": { host: { "username": "token", "password": token } } }))
            }
            Credentials::Bearer(token) => Some(json!({ "bearer": { host: token } })),
        };
        if let Some(auth) = auth {
            std::fs::write(
                dir.path().join("auth.json"),
                serde_json::to_vec_pretty(&auth).unwrap(),
            )
            .unwrap();
        }
        Project { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run composer with arguments in this project.
    pub fn composer(&self, args: &[&str]) -> Output {
        Command::new("composer")
            .args(args)
            .args(["--no-interaction", "--no-ansi"])
            .current_dir(self.path())
            .env("COMPOSER_ALLOW_SUPERUSER", "1")
            .env("COMPOSER_HOME", self.path().join(".composer-home"))
            .env("COMPOSER_CACHE_DIR", self.path().join(".composer-cache"))
            .env("COMPOSER_DISABLE_NETWORK", "0")
            .output()
            .expect("composer runs")
    }

    /// `composer require --no-audit SPEC`.
    pub fn require(&self, spec: &str) -> Output {
        self.composer(&["require", "--no-audit", "--no-progress", spec])
    }

    /// Run PHP with the project's autoloader; its standard output.
    pub fn php(&self, code: &str) -> String {
        let out = Command::new("php")
            .arg("-r")
            .arg(format!("require 'vendor/autoload.php'; {code}"))
            .current_dir(self.path())
            .output()
            .expect("php runs");
        assert!(
            out.status.success(),
            "php failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Both streams of a finished command, for assertion messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
