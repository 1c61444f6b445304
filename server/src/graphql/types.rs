//! API types, separate from database rows.

use async_graphql::{Enum, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::db::entities::users;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum GlobalRole {
    Admin,
    Developer,
    User,
}

impl From<packistry_shared::GlobalRole> for GlobalRole {
    fn from(role: packistry_shared::GlobalRole) -> Self {
        match role {
            packistry_shared::GlobalRole::Admin => GlobalRole::Admin,
            packistry_shared::GlobalRole::Developer => GlobalRole::Developer,
            packistry_shared::GlobalRole::User => GlobalRole::User,
        }
    }
}

/// A person who can sign in.
#[derive(SimpleObject, Clone, Debug)]
pub struct User {
    pub id: ID,
    pub email: String,
    pub display_name: String,
    pub global_role: GlobalRole,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&users::Model> for User {
    fn from(user: &users::Model) -> Self {
        User {
            id: ID(user.id.to_string()),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            global_role: user.global_role().into(),
            active: user.active,
            created_at: user.created_at,
        }
    }
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum RepositoryRole {
    Administrator,
    Developer,
    Uploader,
    Reader,
}

impl From<packistry_shared::RepositoryRole> for RepositoryRole {
    fn from(role: packistry_shared::RepositoryRole) -> Self {
        use packistry_shared::RepositoryRole as R;
        match role {
            R::Administrator => RepositoryRole::Administrator,
            R::Developer => RepositoryRole::Developer,
            R::Uploader => RepositoryRole::Uploader,
            R::Reader => RepositoryRole::Reader,
        }
    }
}

impl From<RepositoryRole> for packistry_shared::RepositoryRole {
    fn from(role: RepositoryRole) -> Self {
        use packistry_shared::RepositoryRole as R;
        match role {
            RepositoryRole::Administrator => R::Administrator,
            RepositoryRole::Developer => R::Developer,
            RepositoryRole::Uploader => R::Uploader,
            RepositoryRole::Reader => R::Reader,
        }
    }
}

impl From<GlobalRole> for packistry_shared::GlobalRole {
    fn from(role: GlobalRole) -> Self {
        match role {
            GlobalRole::Admin => packistry_shared::GlobalRole::Admin,
            GlobalRole::Developer => packistry_shared::GlobalRole::Developer,
            GlobalRole::User => packistry_shared::GlobalRole::User,
        }
    }
}
