//! API types, separate from database rows.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Enum, Result, SimpleObject, ID};

use crate::error::Error;
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

const MAX_PAGE: usize = 100;

pub fn page_bounds(first: Option<i32>, after: Option<String>) -> Result<(u64, u64), Error> {
    let limit = first.unwrap_or(20).clamp(1, MAX_PAGE as i32) as u64;
    let offset = match after {
        Some(cursor) => {
            cursor
                .parse::<u64>()
                .map_err(|_| Error::bad_input("after: not a cursor from this list"))?
                + 1
        }
        None => 0,
    };
    Ok((offset, limit))
}

pub fn connection<T: async_graphql::OutputType>(
    items: Vec<T>,
    offset: u64,
    total: u64,
) -> Connection<String, T, EmptyFields, EmptyFields> {
    let count = items.len() as u64;
    let mut connection = Connection::new(offset > 0, offset + count < total);
    connection.edges.extend(
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Edge::new((offset + i as u64).to_string(), item)),
    );
    connection
}
