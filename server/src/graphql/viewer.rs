//! `viewer`: the caller as the API sees them.

use async_graphql::{Context, Object, Result};
use sea_orm::EntityTrait;

use super::context::Call;
use super::repository::Repository;
use super::types::User;
use super::RequestContext;
use crate::db::entities::users;
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
            Some(principal) => users::Entity::find_by_id(principal.id)
                .one(&state.db)
                .await
                .map_err(crate::error::Error::from)?
                .map(|row| User::from(&row)),
            None => None,
        };
        Ok(Viewer { user })
    }
}
