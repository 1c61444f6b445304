//! Layered configuration: defaults < `packistry.toml` (or `--config FILE`) < `PACKISTRY_*`
//! environment < command-line flags.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format as _, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A secret value: its `Debug` and `Display` never show it.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// The settings as layered from every source, before validation.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Settings {
    pub listen: String,
    pub base_url: Option<String>,
    pub data_dir: PathBuf,
    pub database_url: Option<Secret>,
    pub storage_url: Option<String>,
    pub secret_key: Option<Secret>,
    pub log_format: LogFormat,
    /// A `tracing` filter such as `info` or `packistry_server=debug,info`.
    pub log_level: String,
    /// Largest request body accepted by upload routes, in bytes.
    pub max_body_size: u64,
    /// How long a browser session lasts, in hours.
    pub session_ttl_hours: u64,
    /// How often the maintenance job (garbage collection, abandoned uploads) runs.
    pub maintenance_interval_seconds: u64,
    /// An upload untouched this long is abandoned and removed.
    pub upload_ttl_seconds: u64,
    /// Garbage collection spares anything younger than this (pushes in progress).
    pub gc_grace_seconds: u64,
    /// A request body that sends nothing for this long is abandoned (the upload fails).
    pub upload_idle_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            base_url: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            storage_url: None,
            secret_key: None,
            log_format: LogFormat::Human,
            log_level: "info".into(),
            max_body_size: 2 * 1024 * 1024 * 1024,
            session_ttl_hours: 24 * 7,
            maintenance_interval_seconds: 3600,
            upload_ttl_seconds: 24 * 3600,
            gc_grace_seconds: 3600,
            upload_idle_seconds: 60,
        }
    }
}

/// Values given as command-line flags; only those present override the other layers.
#[derive(Debug, Default, Clone, Serialize, clap::Args)]
pub struct FlagOverrides {
    /// Address to listen on [env: PACKISTRY_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Public URL of this server, used in absolute URLs [env: PACKISTRY_BASE_URL]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Data directory [env: PACKISTRY_DATA_DIR] [default: ./data]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… [env: PACKISTRY_DATABASE_URL]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Blob storage: a directory, or s3://bucket/prefix [env: PACKISTRY_STORAGE_URL]
    #[arg(long, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_url: Option<String>,
    /// Log format [env: PACKISTRY_LOG_FORMAT] [default: human]
    #[arg(long, global = true, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// A configuration error: one line naming the variable and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.into(),
            message: message.into(),
        }
    }
}

/// Where the database lives.
#[derive(Debug, Clone)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(Secret),
}

impl DatabaseUrl {
    pub fn connection_string(&self) -> &str {
        match self {
            DatabaseUrl::Sqlite(url) => url,
            DatabaseUrl::Postgres(url) => url.expose(),
        }
    }

    /// The URL with any password replaced, for messages.
    pub fn redacted(&self) -> String {
        redact_url(self.connection_string())
    }
}

/// Where blobs live.
#[derive(Debug, Clone)]
pub enum StorageUrl {
    Local(PathBuf),
    S3 { url: String },
}

/// The validated configuration a server or command runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Set explicitly; otherwise derived from the bound address at start.
    pub base_url: Option<String>,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    pub storage: StorageUrl,
    /// `PACKISTRY_SECRET_KEY` when given; otherwise read from (or generated into) the data dir.
    pub secret_key: Option<Secret>,
    pub log_format: LogFormat,
    pub log_level: String,
    pub max_body_size: u64,
    pub session_ttl_hours: u64,
    pub maintenance_interval_seconds: u64,
    pub upload_ttl_seconds: u64,
    pub gc_grace_seconds: u64,
    pub upload_idle_seconds: u64,
}

fn variable_for(path: &[String]) -> String {
    match path.last() {
        Some(key) => format!("PACKISTRY_{}", key.to_uppercase()),
        None => "configuration".to_owned(),
    }
}

impl Config {
    /// Layer the sources and validate the result.
    pub fn load(config_file: Option<&Path>, flags: &FlagOverrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(file) => {
                if !file.exists() {
                    return Err(ConfigError::new(
                        "--config",
                        format!("{} does not exist", file.display()),
                    ));
                }
                figment = figment.merge(Toml::file(file));
            }
            None => figment = figment.merge(Toml::file("packistry.toml")),
        }
        figment = figment
            .merge(Env::prefixed("PACKISTRY_").ignore(&["config"]))
            .merge(Serialized::defaults(flags));
        let settings: Settings = figment.extract().map_err(|err| {
            let variable = variable_for(&err.path);
            ConfigError::new(variable, err.kind.to_string())
        })?;
        Config::validate(settings)
    }

    pub fn validate(settings: Settings) -> Result<Config, ConfigError> {
        let listen: SocketAddr = settings.listen.parse().map_err(|_| {
            ConfigError::new(
                "PACKISTRY_LISTEN",
                format!(
                    "\"{}\" is not an address and port such as 127.0.0.1:8080",
                    settings.listen
                ),
            )
        })?;

        let base_url = match settings.base_url {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(url) => {
                return Err(ConfigError::new(
                    "PACKISTRY_BASE_URL",
                    format!("\"{url}\" must start with http:// or https://"),
                ))
            }
            None => None,
        };

        let data_dir = settings.data_dir;
        let database = match settings.database_url {
            None => DatabaseUrl::Sqlite(format!(
                "sqlite://{}?mode=rwc",
                data_dir.join("packistry.db").display()
            )),
            Some(url) => parse_database_url(url)?,
        };

        let storage = match settings.storage_url {
            None => StorageUrl::Local(data_dir.join("blobs")),
            Some(url) if url.starts_with("s3://") => {
                if url
                    .trim_start_matches("s3://")
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .is_empty()
                {
                    return Err(ConfigError::new(
                        "PACKISTRY_STORAGE_URL",
                        format!("\"{url}\" names no bucket; expected s3://bucket/prefix"),
                    ));
                }
                StorageUrl::S3 { url }
            }
            Some(url) if url.contains("://") && !url.starts_with("file://") => {
                return Err(ConfigError::new(
                    "PACKISTRY_STORAGE_URL",
                    format!("unsupported \"{url}\"; expected a directory or s3://bucket/prefix"),
                ))
            }
            Some(url) => StorageUrl::Local(PathBuf::from(url.trim_start_matches("file://"))),
        };

        if settings.log_level.trim().is_empty() {
            return Err(ConfigError::new("PACKISTRY_LOG_LEVEL", "must not be empty"));
        }
        if settings.maintenance_interval_seconds == 0 {
            return Err(ConfigError::new(
                "PACKISTRY_MAINTENANCE_INTERVAL_SECONDS",
                "must be at least 1",
            ));
        }
        if settings.session_ttl_hours == 0 {
            return Err(ConfigError::new(
                "PACKISTRY_SESSION_TTL_HOURS",
                "must be at least 1",
            ));
        }

        Ok(Config {
            listen,
            base_url,
            data_dir,
            database,
            storage,
            secret_key: settings.secret_key,
            log_format: settings.log_format,
            log_level: settings.log_level,
            max_body_size: settings.max_body_size,
            session_ttl_hours: settings.session_ttl_hours,
            maintenance_interval_seconds: settings.maintenance_interval_seconds,
            upload_ttl_seconds: settings.upload_ttl_seconds,
            gc_grace_seconds: settings.gc_grace_seconds,
            upload_idle_seconds: settings.upload_idle_seconds,
        })
    }

    /// Create the data directory if needed and prove it writable.
    pub fn prepare_data_dir(&self) -> Result<(), ConfigError> {
        let fail = |err: std::io::Error| {
            ConfigError::new(
                "PACKISTRY_DATA_DIR",
                format!("cannot write to {}: {err}", self.data_dir.display()),
            )
        };
        std::fs::create_dir_all(&self.data_dir).map_err(fail)?;
        let probe = self.data_dir.join(".packistry-write-probe");
        std::fs::write(&probe, b"ok").map_err(fail)?;
        std::fs::remove_file(&probe).map_err(fail)?;
        Ok(())
    }

    /// The 32-byte key that encrypts stored secrets and signs sessions and OCI tokens: derived
    /// from `PACKISTRY_SECRET_KEY`, or from a key generated into the data dir at first start.
    pub fn load_secret_key(&self) -> Result<[u8; 32], ConfigError> {
        let material = match &self.secret_key {
            Some(secret) => {
                if secret.expose().len() < 32 {
                    return Err(ConfigError::new(
                        "PACKISTRY_SECRET_KEY",
                        "must be at least 32 characters (e.g. `openssl rand -hex 32`)",
                    ));
                }
                secret.expose().to_owned()
            }
            None => self.read_or_generate_key_file()?,
        };
        Ok(Sha256::digest(material.as_bytes()).into())
    }

    /// The key file in the data dir, created at first start. It is written whole or not at
    /// all (a temporary file, synced, then linked into place, and the folder synced), so a
    /// crash never leaves an empty or partial key; a key file that is not exactly what the
    /// server writes (64 hex digits) is refused rather than used.
    fn read_or_generate_key_file(&self) -> Result<String, ConfigError> {
        let path = self.data_dir.join("secret.key");
        let fail = |err: std::io::Error| {
            ConfigError::new(
                "PACKISTRY_SECRET_KEY",
                format!("cannot use the key file {}: {err}", path.display()),
            )
        };
        match std::fs::read_to_string(&path) {
            Ok(key) => valid_key_file(&path, &key),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = hex::encode(rand::random::<[u8; 32]>());
                let staged = self.data_dir.join(format!(
                    ".secret.key.{}.{}",
                    std::process::id(),
                    hex::encode(rand::random::<[u8; 6]>())
                ));
                let written = write_synced(&staged, key.as_bytes())
                    .and_then(|()| std::fs::hard_link(&staged, &path));
                let _ = std::fs::remove_file(&staged);
                match written {
                    Ok(()) => {
                        sync_folder(&self.data_dir).map_err(fail)?;
                        Ok(key)
                    }
                    // Another process created it first: use theirs.
                    Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
                        let theirs = std::fs::read_to_string(&path).map_err(fail)?;
                        valid_key_file(&path, &theirs)
                    }
                    Err(err) => Err(fail(err)),
                }
            }
            Err(err) => Err(fail(err)),
        }
    }
}

/// The key in a key file, when it is exactly what the server writes: 64 hex digits (a
/// trailing newline, as `openssl rand -hex 32 >` leaves, is allowed).
fn valid_key_file(path: &std::path::Path, contents: &str) -> Result<String, ConfigError> {
    let key = contents.strip_suffix('\n').unwrap_or(contents);
    if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(key.to_owned())
    } else {
        Err(ConfigError::new(
            "PACKISTRY_SECRET_KEY",
            format!(
                "the key file {} is not a key (64 hex digits){}: restore it from a backup, or \
                 remove it on a server that has no data yet",
                path.display(),
                if key.is_empty() { ", it is empty" } else { "" }
            ),
        ))
    }
}

fn write_synced(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_folder(folder: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(folder)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

fn parse_database_url(url: Secret) -> Result<DatabaseUrl, ConfigError> {
    let raw = url.expose();
    if let Some(rest) = raw.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        if path.is_empty() {
            return Err(ConfigError::new(
                "PACKISTRY_DATABASE_URL",
                "sqlite URL names no file; expected sqlite://PATH",
            ));
        }
        let url = if raw.contains("mode=") {
            raw.to_owned()
        } else if raw.contains('?') {
            format!("{raw}&mode=rwc")
        } else {
            format!("{raw}?mode=rwc")
        };
        return Ok(DatabaseUrl::Sqlite(url));
    }
    if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        let rest = raw.split_once("://").map(|(_, r)| r).unwrap_or("");
        if rest.is_empty() || rest.starts_with('/') && !rest.contains("host=") {
            return Err(ConfigError::new(
                "PACKISTRY_DATABASE_URL",
                format!("\"{}\" names no host", redact_url(raw)),
            ));
        }
        return Ok(DatabaseUrl::Postgres(url));
    }
    Err(ConfigError::new(
        "PACKISTRY_DATABASE_URL",
        format!(
            "unsupported \"{}\"; expected sqlite://PATH or postgres://USER@HOST/DATABASE",
            redact_url(raw)
        ),
    ))
}

/// Replace the password of `scheme://user:password@host` with `[redacted]`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::default()
    }

    #[test]
    fn defaults_are_sqlite_and_local_files_under_data() {
        let config = Config::validate(settings()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(
            matches!(&config.database, DatabaseUrl::Sqlite(url) if url == "sqlite://./data/packistry.db?mode=rwc")
        );
        assert!(matches!(&config.storage, StorageUrl::Local(p) if p == Path::new("./data/blobs")));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let mut s = settings();
        s.database_url = Some(Secret::new("mysql://root:hunter2@db/x"));
        let err = Config::validate(s).unwrap_err();
        assert_eq!(err.variable, "PACKISTRY_DATABASE_URL");
        assert!(!err.to_string().contains("hunter2"), "{err}");

        let mut s = settings();
        s.listen = "localhost".into();
        assert_eq!(
            Config::validate(s).unwrap_err().variable,
            "PACKISTRY_LISTEN"
        );

        let mut s = settings();
        s.storage_url = Some("ftp://x".into());
        assert_eq!(
            Config::validate(s).unwrap_err().variable,
            "PACKISTRY_STORAGE_URL"
        );
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let mut s = settings();
        s.secret_key = Some(Secret::new("super-secret-value-that-is-long-enough"));
        s.database_url = Some(Secret::new("postgres://u:pw@h/db"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret"));
        assert!(!shown.contains("pw@"));
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://me:pw@localhost:5432/db"),
            "postgres://me:[redacted]@localhost:5432/db"
        );
        assert_eq!(
            redact_url("postgres://me@localhost/db"),
            "postgres://me@localhost/db"
        );
    }

    #[test]
    fn generated_key_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.data_dir = dir.path().to_owned();
        let config = Config::validate(s).unwrap();
        let first = config.load_secret_key().unwrap();
        let second = config.load_secret_key().unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Nothing but the key is left in the data dir.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret.key")]);
    }

    #[test]
    fn a_key_file_that_is_not_a_key_is_refused_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings();
        s.data_dir = dir.path().to_owned();
        let config = Config::validate(s).unwrap();
        let path = dir.path().join("secret.key");
        // An empty file (a crash between create and write, before this was atomic), a
        // cut one, and one with something else in it.
        for contents in [
            "",
            "0123abcd",
            &"z".repeat(64),
            &format!("{}\n\n", "a".repeat(64)),
        ] {
            std::fs::write(&path, contents).unwrap();
            let err = config.load_secret_key().unwrap_err();
            assert!(
                err.to_string().contains("is not a key"),
                "{contents:?}: {err}"
            );
        }
        // What `openssl rand -hex 32 > secret.key` writes is fine.
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        assert!(config.load_secret_key().is_ok());
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<[u8; 32]> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let mut s = settings();
                        s.data_dir = dir.path().to_owned();
                        Config::validate(s).unwrap().load_secret_key().unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }
}
