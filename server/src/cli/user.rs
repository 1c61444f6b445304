//! `packistry user …`

use clap::Subcommand;
use packistry_shared::GlobalRole;

use crate::config::Config;
use crate::services::audit::Actor;
use crate::services::users::{self, NewUser};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin a password is generated and printed.
    Create {
        #[arg(long)]
        email: String,
        /// Global role: admin, developer or user
        #[arg(long, value_parser = parse_global_role)]
        role: GlobalRole,
        /// Display name [default: the part of the e-mail before '@']
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password and end the user's sessions. Without --password-stdin a password
    /// is generated and printed.
    ResetPassword {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deactivate a user: their sessions and tokens stop working at once
    Deactivate {
        #[arg(long)]
        email: String,
    },
    /// Reactivate a deactivated user
    Activate {
        #[arg(long)]
        email: String,
    },
}

fn parse_global_role(value: &str) -> Result<GlobalRole, String> {
    value
        .parse()
        .map_err(|err: packistry_shared::roles::UnknownValue| err.to_string())
}

pub async fn run(config: Config, command: UserCommand) -> anyhow::Result<()> {
    let db = super::open_database(&config).await?;
    let actor = Actor::cli();
    match command {
        UserCommand::Create {
            email,
            role,
            name,
            password_stdin,
        } => {
            let (password, generated) = super::password_from(password_stdin)?;
            let user = users::create(
                &db,
                &actor,
                NewUser {
                    email,
                    display_name: name,
                    global_role: role,
                    password: Some(password.clone()),
                },
            )
            .await?;
            eprintln!("created user {} ({})", user.email, user.global_role);
            if generated {
                println!("{password}");
            }
        }
        UserCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let (password, generated) = super::password_from(password_stdin)?;
            let user = users::reset_password(&db, &actor, &email, password.clone()).await?;
            eprintln!(
                "password of {} reset; their sessions were ended",
                user.email
            );
            if generated {
                println!("{password}");
            }
        }
        UserCommand::Deactivate { email } => {
            let user = users::set_active(&db, &actor, &email, false).await?;
            eprintln!("deactivated {}", user.email);
        }
        UserCommand::Activate { email } => {
            let user = users::set_active(&db, &actor, &email, true).await?;
            eprintln!("activated {}", user.email);
        }
    }
    db.close().await.ok();
    Ok(())
}
