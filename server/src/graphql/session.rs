//! Browser sign-in and sign-out.

use async_graphql::{Context, Object, Result, SimpleObject};
use http::header::SET_COOKIE;

use super::types::User;
use super::RequestContext;
use crate::auth::{session, throttle, Principal};
use crate::error::Error;
use crate::services::audit::{self, Actor, Target};
use crate::services::users;
use crate::state::SharedState;

#[derive(Default)]
pub struct SessionMutation;

#[derive(SimpleObject)]
pub struct LoginPayload {
    /// The user now signed in.
    pub user: User,
}

#[Object]
impl SessionMutation {
    /// Sign in with e-mail and password. Sets an HttpOnly session cookie and a CSRF cookie
    /// whose value must be sent back in `X-CSRF-Token` on every later mutation.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<LoginPayload> {
        let state = ctx.data::<SharedState>()?;
        let request = ctx.data::<RequestContext>()?;
        let throttle = &state.login_throttle;
        if !throttle.allows(&email, request.address) {
            return Err(Error::unauthenticated(format!(
                "too many failed sign-in attempts; wait {} minutes and try again",
                throttle::WINDOW.as_secs() / 60
            ))
            .into());
        }
        let Some(user) = users::authenticate(&state.db, &email, password).await? else {
            throttle.record_failure(&email, request.address);
            return Err(Error::unauthenticated("wrong e-mail or password").into());
        };
        throttle.record_success(&email, request.address);
        let new_session = session::create(
            &state.db,
            user.id,
            request.address_string(),
            state.config.session_ttl_hours,
        )
        .await?;
        for cookie in session::set_cookies(&new_session, state.secure_cookies()) {
            ctx.append_http_header(SET_COOKIE, cookie);
        }
        audit::record(
            &state.db,
            &Actor {
                user_id: Some(user.id),
                token_id: None,
                name: user.email.clone(),
                address: request.address_string(),
            },
            "session.signed_in",
            Target {
                kind: "user",
                id: Some(user.id.to_string()),
                name: &user.email,
            },
            serde_json::json!({}),
        )
        .await?;
        Ok(LoginPayload {
            user: User::from(&user),
        })
    }

    /// End the browser session. Answers true even when there was none.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        let state = ctx.data::<SharedState>()?;
        let request = ctx.data::<RequestContext>()?;
        if let Principal::Session { session_id, .. } = &request.principal {
            session::delete(&state.db, *session_id).await?;
        }
        for cookie in session::clear_cookies(state.secure_cookies()) {
            ctx.append_http_header(SET_COOKIE, cookie);
        }
        Ok(true)
    }
}
