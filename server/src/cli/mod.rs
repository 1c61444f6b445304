//! The command line: `packistry [serve]`, user administration, `schema`.

mod access;
mod user;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, FlagOverrides, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "packistry",
    version,
    about = "A self-hosted private package registry",
    long_about = "A self-hosted private package registry.\n\nConfiguration: defaults < packistry.toml (or --config FILE) < PACKISTRY_* environment < flags.\nWith no command, `serve` runs."
)]
pub struct Cli {
    /// Configuration file [default: ./packistry.toml when present]
    #[arg(long, global = true, value_name = "FILE", env = "PACKISTRY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub flags: FlagOverrides,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve until SIGTERM or SIGINT
    Serve,
    /// Manage users
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage repositories
    #[command(subcommand)]
    Repo(access::RepoCommand),
    /// Grant a role on a repository to a user or a group (replacing any earlier role)
    Grant(access::GrantArgs),
    /// Take a user's or group's role on a repository away
    Revoke(access::RevokeArgs),
    /// Manage groups
    #[command(subcommand)]
    Group(access::GroupCommand),
    /// Manage personal and deploy tokens
    #[command(subcommand)]
    Token(access::TokenCommand),
    /// Work on packages
    #[command(subcommand)]
    Package(PackageCommand),
    /// Print the GraphQL schema (SDL)
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Import a package again from its source (every tag and branch); prints the job's id.
    /// A running server does the work.
    Rebuild {
        /// The repository the package is in
        #[arg(long)]
        repository: String,
        /// The package, e.g. acme/widget
        #[arg(long)]
        package: String,
    },
}

async fn package(db: &sea_orm::DatabaseConnection, command: PackageCommand) -> anyhow::Result<()> {
    match command {
        PackageCommand::Rebuild {
            repository,
            package,
        } => {
            let imported =
                crate::services::sources::imported_package(db, &repository, &package).await?;
            let job = crate::jobs::enqueue_in(
                db,
                crate::jobs::import::KIND,
                Some(imported.id),
                serde_json::to_value(crate::jobs::import::Payload::default())?,
            )
            .await?;
            println!("{}", job.id);
            Ok(())
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Schema) = cli.command {
        print!("{}", crate::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref(), &cli.flags) {
        Ok(config) => config,
        Err(err) => return fail(err),
    };
    let serving = matches!(cli.command, None | Some(Command::Serve));
    init_logging(&config, serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return fail(err),
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None | Some(Command::Serve) => crate::server::run(config).await,
            Some(Command::User(command)) => user::run(config, command).await,
            Some(Command::Schema) => Ok(()),
            Some(command) => {
                let db = open_database(&config).await?;
                let result = match command {
                    Command::Repo(c) => access::repo(&db, c).await,
                    Command::Grant(a) => access::grant(&db, a).await,
                    Command::Revoke(a) => access::revoke(&db, a).await,
                    Command::Group(c) => access::group(&db, c).await,
                    Command::Token(c) => access::token(&db, c).await,
                    Command::Package(c) => package(&db, c).await,
                    Command::Serve | Command::User(_) | Command::Schema => Ok(()),
                };
                db.close().await.ok();
                result
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(err),
    }
}

async fn open_database(config: &Config) -> anyhow::Result<sea_orm::DatabaseConnection> {
    config.prepare_data_dir()?;
    Ok(crate::db::connect_and_migrate(&config.database).await?)
}

fn fail(err: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {err}");
    ExitCode::FAILURE
}

/// The server logs to stdout in the configured format; commands log warnings to stderr so
/// their stdout carries only their output.
fn init_logging(config: &Config, serving: bool) {
    let default_level = if serving {
        config.log_level.as_str()
    } else {
        "warn"
    };
    let filter =
        EnvFilter::try_from_env("PACKISTRY_LOG").unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let result = match (config.log_format, serving) {
        (LogFormat::Json, true) => builder.json().flatten_event(true).try_init(),
        (LogFormat::Human, true) => builder.try_init(),
        (_, false) => builder.with_writer(std::io::stderr).try_init(),
    };
    // Already initialised (e.g. in tests): keep the first.
    let _ = result;
}

/// A password from the first line of standard input, or a generated one.
pub(crate) fn password_from(stdin: bool) -> anyhow::Result<(String, bool)> {
    if stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        if password.is_empty() {
            anyhow::bail!("--password-stdin: standard input held no password");
        }
        Ok((password, false))
    } else {
        use base64::Engine;
        let generated =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 15]>());
        Ok((generated, true))
    }
}
