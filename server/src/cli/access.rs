//! `packistry repo|grant|revoke|group|token …`: the same services and audit as GraphQL,
//! acting as the operator at the server's command line.

use chrono::{DateTime, Duration, Utc};
use clap::{ArgGroup, Args, Subcommand};
use packistry_shared::{Format, RepositoryRole, Visibility};
use sea_orm::DatabaseConnection;

use crate::services::access::Access;
use crate::services::audit::Actor;
use crate::services::repositories::{self, GranteeName, NewRepository};
use crate::services::tokens::{self, NewToken};
use crate::services::{groups, users};

fn parse_word<T: std::str::FromStr<Err = packistry_shared::roles::UnknownValue>>(
    value: &str,
) -> Result<T, String> {
    value
        .parse()
        .map_err(|err: packistry_shared::roles::UnknownValue| err.to_string())
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Create a repository (private unless --visibility public)
    Create {
        name: String,
        /// composer, maven, container, npm, cargo or pypi
        #[arg(long, value_parser = parse_word::<Format>)]
        format: Format,
        #[arg(long, value_parser = parse_word::<Visibility>, default_value = "private")]
        visibility: Visibility,
        #[arg(long, default_value = "")]
        description: String,
    },
}

/// Whom a grant is for: a user by e-mail or a group by name.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("grantee").required(true).args(["user", "group"])))]
pub struct GranteeArgs {
    /// The user's e-mail
    #[arg(long)]
    user: Option<String>,
    /// The group's name
    #[arg(long)]
    group: Option<String>,
}

impl GranteeArgs {
    fn name(&self) -> GranteeName<'_> {
        match (&self.user, &self.group) {
            (Some(email), _) => GranteeName::User(email),
            (None, Some(group)) => GranteeName::Group(group),
            (None, None) => unreachable!("clap requires --user or --group"),
        }
    }
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    #[arg(long)]
    repository: String,
    #[command(flatten)]
    grantee: GranteeArgs,
    /// administrator, developer, uploader or reader
    #[arg(long, value_parser = parse_word::<RepositoryRole>)]
    role: RepositoryRole,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[arg(long)]
    repository: String,
    #[command(flatten)]
    grantee: GranteeArgs,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group
    Create { name: String },
    /// Add a user to a group (or change whether they maintain it)
    AddMember {
        name: String,
        #[arg(long)]
        user: String,
        /// The member may manage the group
        #[arg(long)]
        maintainer: bool,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("expiry").args(["expires_in", "expires_at"])))]
pub struct ExpiryArgs {
    /// Lifetime such as 90m, 12h, 30d or 4w
    #[arg(long, value_parser = parse_duration)]
    expires_in: Option<Duration>,
    /// Expiry as an RFC 3339 time, e.g. 2027-01-31T00:00:00Z
    #[arg(long, value_parser = parse_rfc3339)]
    expires_at: Option<DateTime<Utc>>,
}

impl ExpiryArgs {
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
            .or_else(|| self.expires_in.map(|d| Utc::now() + d))
    }
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    let error = || format!("\"{value}\" is not a duration such as 90m, 12h, 30d or 4w");
    let (number, unit) = value.split_at(value.len().saturating_sub(1));
    let number: i64 = number.parse().map_err(|_| error())?;
    if number <= 0 {
        return Err(error());
    }
    match unit {
        "m" => Ok(Duration::minutes(number)),
        "h" => Ok(Duration::hours(number)),
        "d" => Ok(Duration::days(number)),
        "w" => Ok(Duration::weeks(number)),
        _ => Err(error()),
    }
}

fn parse_rfc3339(value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| format!("\"{value}\" is not an RFC 3339 time: {err}"))
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a personal token for a user; prints only the secret
    #[command(group(ArgGroup::new("coverage").required(true).args(["all_repositories", "repository"])))]
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: String,
        /// The token covers every repository
        #[arg(long)]
        all_repositories: bool,
        /// A repository the token covers (repeat for several)
        #[arg(long)]
        repository: Vec<String>,
        /// A permitted role (repeat for several)
        #[arg(long, required = true, value_parser = parse_word::<RepositoryRole>)]
        role: Vec<RepositoryRole>,
        #[command(flatten)]
        expiry: ExpiryArgs,
    },
    /// Create a deploy token for repositories; prints only the secret
    CreateDeploy {
        #[arg(long)]
        name: String,
        /// A repository the token belongs to (repeat for several)
        #[arg(long, required = true)]
        repository: Vec<String>,
        /// Limit the token to a package (repeat for several)
        #[arg(long)]
        package: Vec<String>,
        /// A permitted role (repeat for several)
        #[arg(long, required = true, value_parser = parse_word::<RepositoryRole>)]
        role: Vec<RepositoryRole>,
        #[command(flatten)]
        expiry: ExpiryArgs,
    },
    /// Revoke a token by name: a user's personal token with --user, else a deploy token
    Revoke {
        #[arg(long)]
        name: String,
        #[arg(long)]
        user: Option<String>,
    },
}

pub async fn repo(db: &DatabaseConnection, command: RepoCommand) -> anyhow::Result<()> {
    match command {
        RepoCommand::Create {
            name,
            format,
            visibility,
            description,
        } => {
            let repository = repositories::create(
                db,
                &Actor::cli(),
                &Access::system(),
                NewRepository {
                    name,
                    format,
                    visibility,
                    description,
                },
            )
            .await?;
            eprintln!(
                "created {} repository {} ({})",
                repository.format, repository.name, repository.visibility
            );
        }
    }
    Ok(())
}

pub async fn grant(db: &DatabaseConnection, args: GrantArgs) -> anyhow::Result<()> {
    repositories::grant(
        db,
        &Actor::cli(),
        &Access::system(),
        &args.repository,
        args.grantee.name(),
        args.role,
    )
    .await?;
    eprintln!("granted {} on {}", args.role, args.repository);
    Ok(())
}

pub async fn revoke(db: &DatabaseConnection, args: RevokeArgs) -> anyhow::Result<()> {
    repositories::revoke(
        db,
        &Actor::cli(),
        &Access::system(),
        &args.repository,
        args.grantee.name(),
    )
    .await?;
    eprintln!("revoked the role on {}", args.repository);
    Ok(())
}

pub async fn group(db: &DatabaseConnection, command: GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::Create { name } => {
            groups::create(db, &Actor::cli(), &Access::system(), &name).await?;
            eprintln!("created group {name}");
        }
        GroupCommand::AddMember {
            name,
            user,
            maintainer,
        } => {
            groups::set_member(
                db,
                &Actor::cli(),
                &Access::system(),
                &name,
                &user,
                maintainer,
            )
            .await?;
            eprintln!(
                "{user} is now a {} of {name}",
                if maintainer { "maintainer" } else { "member" }
            );
        }
    }
    Ok(())
}

pub async fn token(db: &DatabaseConnection, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            user,
            name,
            all_repositories,
            repository,
            role,
            expiry,
        } => {
            let owner = users::get_by_email(db, &user).await?;
            let created = tokens::create_personal(
                db,
                &Actor::cli(),
                &Access::system(),
                owner.id,
                &owner.email,
                NewToken {
                    name,
                    repositories: (!all_repositories).then_some(repository),
                    packages: vec![],
                    roles: role,
                    expires_at: expiry.expires_at(),
                },
            )
            .await?;
            println!("{}", created.secret);
        }
        TokenCommand::CreateDeploy {
            name,
            repository,
            package,
            role,
            expiry,
        } => {
            let created = tokens::create_deploy(
                db,
                &Actor::cli(),
                &Access::system(),
                NewToken {
                    name,
                    repositories: Some(repository),
                    packages: package,
                    roles: role,
                    expires_at: expiry.expires_at(),
                },
            )
            .await?;
            println!("{}", created.secret);
        }
        TokenCommand::Revoke { name, user } => {
            let owner = match &user {
                Some(email) => Some(users::get_by_email(db, email).await?.id),
                None => None,
            };
            let found = tokens::find_by_name(db, &name, owner).await?;
            tokens::revoke(db, &Actor::cli(), &Access::system(), found.id).await?;
            eprintln!("revoked token {name}");
        }
    }
    Ok(())
}
