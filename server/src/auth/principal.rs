//! The caller of a request, authenticated once and passed to every layer.

use chrono::{DateTime, Utc};
use packistry_shared::{GlobalRole, RepositoryRole};
use uuid::Uuid;

use crate::db::entities::users;

/// A user as the request sees them.
#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub global_role: GlobalRole,
    pub active: bool,
}

impl From<&users::Model> for UserPrincipal {
    fn from(user: &users::Model) -> Self {
        UserPrincipal {
            id: user.id,
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            global_role: user.global_role(),
            active: user.active,
        }
    }
}

/// What a token may reach: its coverage, package limit and permitted roles.
#[derive(Debug, Clone)]
pub struct TokenScope {
    pub id: Uuid,
    pub name: String,
    pub all_repositories: bool,
    pub repository_ids: Vec<Uuid>,
    /// The package names a deploy token is limited to; empty: no limit.
    pub package_names: Vec<String>,
    pub roles: Vec<RepositoryRole>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

impl TokenScope {
    pub fn covers(&self, repository_id: Uuid) -> bool {
        self.all_repositories || self.repository_ids.contains(&repository_id)
    }

    /// Nothing narrows it: all repositories, administrator permitted, no package limit.
    pub fn is_unrestricted(&self) -> bool {
        self.all_repositories
            && self.roles.contains(&RepositoryRole::Administrator)
            && self.package_names.is_empty()
    }
}

#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    /// Signed in through the browser with a session cookie.
    Session {
        user: UserPrincipal,
        session_id: Uuid,
    },
    PersonalToken {
        user: UserPrincipal,
        token: TokenScope,
    },
    DeployToken {
        token: TokenScope,
    },
    /// The server's operator at its command line (`packistry repo …`, `user …`): holds
    /// every permission, as whoever runs the binary holds the database anyway. Made only
    /// by `Access::system` (services); no request becomes it.
    System,
}

impl Principal {
    /// The user acting, for sessions and personal tokens.
    pub fn user(&self) -> Option<&UserPrincipal> {
        match self {
            Principal::Session { user, .. } | Principal::PersonalToken { user, .. } => Some(user),
            Principal::Anonymous | Principal::DeployToken { .. } | Principal::System => None,
        }
    }

    pub fn token(&self) -> Option<&TokenScope> {
        match self {
            Principal::PersonalToken { token, .. } | Principal::DeployToken { token } => {
                Some(token)
            }
            _ => None,
        }
    }

    /// Whether the caller may act on its user's account as a whole: create or revoke
    /// tokens, change the profile, manage groups, anything global. A browser session may; a
    /// personal token only when nothing narrows it (all repositories, administrator
    /// permitted); a deploy token or anonymous caller never.
    pub fn acts_for_account(&self) -> bool {
        match self {
            Principal::Session { .. } | Principal::System => true,
            Principal::PersonalToken { token, .. } => token.is_unrestricted(),
            Principal::Anonymous | Principal::DeployToken { .. } => false,
        }
    }

    /// The global role the caller acts with. A personal token keeps its owner's global
    /// rights only when it is unrestricted (all repositories, administrator permitted);
    /// otherwise its narrowing applies to global actions too.
    pub fn global_role(&self) -> Option<GlobalRole> {
        match self {
            Principal::Session { user, .. } => Some(user.global_role),
            Principal::PersonalToken { user, token } => {
                if token.is_unrestricted() {
                    Some(user.global_role)
                } else {
                    Some(GlobalRole::User)
                }
            }
            Principal::System => Some(GlobalRole::Admin),
            Principal::Anonymous | Principal::DeployToken { .. } => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.global_role() == Some(GlobalRole::Admin)
    }

    /// How the audit trail and messages name the caller.
    pub fn display_name(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::Session { user, .. } => user.email.clone(),
            Principal::PersonalToken { user, token } => {
                format!("{} (token {})", user.email, token.name)
            }
            Principal::DeployToken { token } => format!("deploy token {}", token.name),
            Principal::System => "cli".into(),
        }
    }
}
