//! The caller of a request, authenticated once and passed to every layer.

use packistry_shared::GlobalRole;
use uuid::Uuid;

use crate::db::entities::users;

/// A signed-in user as the request sees them.
#[derive(Debug, Clone)]
pub struct UserPrincipal {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub global_role: GlobalRole,
}

impl From<&users::Model> for UserPrincipal {
    fn from(user: &users::Model) -> Self {
        UserPrincipal {
            id: user.id,
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            global_role: user.global_role(),
        }
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
}

impl Principal {
    pub fn user(&self) -> Option<&UserPrincipal> {
        match self {
            Principal::Anonymous => None,
            Principal::Session { user, .. } => Some(user),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user()
            .is_some_and(|u| u.global_role == GlobalRole::Admin)
    }
}
