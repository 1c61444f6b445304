//! `viewer`: the caller as the API sees them.

use async_graphql::{Context, Object, Result};

use super::context::Call;
use super::repository::Repository;
use super::types::User;
use super::RequestContext;
use crate::state::SharedState;

#[derive(Default)]
pub struct ViewerQuery;

/// The caller of this request.
pub struct Viewer {
    user: Option<User>,
}

#[Object]
impl Viewer {
    /// Whether the caller is signed in.
    async fn authenticated(&self) -> bool {
        self.user.is_some()
    }

    /// The signed-in user, or null for anonymous callers.
    async fn user(&self) -> Option<&User> {
        self.user.as_ref()
    }

    /// The token this request was made with, if any: its scope, expiry and last use.
    async fn token(&self, ctx: &Context<'_>) -> Result<Option<super::token::Token>> {
        let call = Call::of(ctx)?;
        let Some(scope) = call.request.principal.token() else {
            return Ok(None);
        };
        let row = crate::services::tokens::find_by_id(&call.state.db, scope.id).await?;
        match row {
            Some(row) => Ok(Some(super::token::token_view(&call, &row).await?)),
            None => Ok(None),
        }
    }

    /// Whether the caller may act on its account as a whole (tokens, profile, groups,
    /// new repositories): a browser session, or a personal token nothing narrows.
    async fn acts_for_account(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(Call::of(ctx)?.request.principal.acts_for_account())
    }

    /// Every repository the caller may see, each with the caller's effective permissions
    /// and role there (what the SPA offers or hides).
    async fn repositories(&self, ctx: &Context<'_>) -> Result<Vec<Repository>> {
        let call = Call::of(ctx)?;
        let access = call.access().await?;
        let rows = crate::services::repositories::list_visible(&call.state.db, &access).await?;
        Ok(rows.iter().map(|r| Repository::new(r, &access)).collect())
    }
}

#[Object]
impl ViewerQuery {
    /// The caller: anonymous, or a signed-in user.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let request = ctx.data::<RequestContext>()?;
        let state = ctx.data::<SharedState>()?;
        let user = match request.principal.user() {
            Some(principal) => crate::services::users::find_by_id(&state.db, principal.id)
                .await?
                .map(|row| User::from(&row)),
            None => None,
        };
        Ok(Viewer { user })
    }
}
