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

/// The most items one page of a connection holds.
const MAX_PAGE: i32 = 100;

/// Items per page of a connection: `first`, 20 when absent, at most [`MAX_PAGE`].
pub fn page_size(first: Option<i32>) -> u64 {
    first.unwrap_or(20).clamp(1, MAX_PAGE) as u64
}

/// An opaque cursor naming the item whose sort key is `key` in a list of `kind`.
pub fn cursor(kind: &str, key: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{key}"))
}

/// The sort key a cursor of [`cursor`] names, or the error for one from another list.
pub fn cursor_key(kind: &str, cursor: &str) -> Result<String, Error> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            text.strip_prefix(kind)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(str::to_owned)
        })
        .ok_or_else(|| Error::bad_input("after: not a cursor from this list"))
}

/// A page read one longer than `limit` (the extra item tells a next page exists) as a
/// connection whose cursors `cursor_of` makes.
pub fn keyset_connection<T: async_graphql::OutputType>(
    mut items: Vec<T>,
    limit: u64,
    after: bool,
    cursor_of: impl Fn(&T) -> String,
) -> Connection<String, T, EmptyFields, EmptyFields> {
    let has_next = items.len() as u64 > limit;
    items.truncate(limit as usize);
    let mut connection = Connection::new(after, has_next);
    connection.edges.extend(items.into_iter().map(|item| {
        let cursor = cursor_of(&item);
        Edge::new(cursor, item)
    }));
    connection
}
