//! Who is signed in, shared by every page through context.

use leptos::prelude::*;

use crate::api;

#[derive(Debug, Clone, PartialEq)]
pub struct SignedInUser {
    pub email: String,
    pub display_name: String,
    pub global_role: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Session {
    Loading,
    Anonymous,
    SignedIn(SignedInUser),
    /// The server could not be asked; the message says why.
    Unreachable(String),
}

pub type SessionSignal = RwSignal<Session>;

pub fn use_session() -> SessionSignal {
    expect_context::<SessionSignal>()
}

fn global_role_word(role: impl std::fmt::Debug) -> String {
    // graphql_client generates SCREAMING_CASE variants; show them as the CLI writes roles.
    format!("{role:?}").to_lowercase()
}

impl From<api::viewer::ViewerViewerUser> for SignedInUser {
    fn from(user: api::viewer::ViewerViewerUser) -> Self {
        SignedInUser {
            email: user.email,
            display_name: user.display_name,
            global_role: global_role_word(user.global_role),
        }
    }
}

impl From<api::login::LoginLoginUser> for SignedInUser {
    fn from(user: api::login::LoginLoginUser) -> Self {
        SignedInUser {
            email: user.email,
            display_name: user.display_name,
            global_role: global_role_word(user.global_role),
        }
    }
}

/// Ask the server who we are and store the answer.
pub async fn refresh(session: SessionSignal) {
    let next = match api::run::<api::Viewer>(api::viewer::Variables {}).await {
        Ok(data) => match data.viewer.user {
            Some(user) => Session::SignedIn(user.into()),
            None => Session::Anonymous,
        },
        Err(err) => Session::Unreachable(err.message),
    };
    session.set(next);
}
