//! User administration and the audit trail (admins).

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::Call;
use super::types::{cursor, cursor_key, keyset_connection, page_size, GlobalRole, User};
use crate::error::Error;
use crate::services::audit;
use crate::services::users::{self as service, NewUser};

#[derive(InputObject)]
pub struct CreateUserInput {
    pub email: String,
    pub display_name: Option<String>,
    pub global_role: GlobalRole,
    pub password: Option<String>,
}

/// Something someone did, recorded for the audit trail.
#[derive(SimpleObject)]
pub struct AuditEvent {
    pub id: ID,
    pub actor: String,
    pub action: String,
    pub target_type: String,
    pub target_name: String,
    pub details: async_graphql::Json<serde_json::Value>,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Users by e-mail, searched in e-mail and display name (admins).
    async fn users(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, User, EmptyFields, EmptyFields>> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let limit = page_size(first);
        let after = after
            .as_deref()
            .map(|c| cursor_key("user", c))
            .transpose()?;
        let rows = service::page(
            &call.state.db,
            search.as_deref(),
            after.as_deref(),
            limit + 1,
        )
        .await?;
        Ok(keyset_connection(
            rows.iter().map(User::from).collect(),
            limit,
            after.is_some(),
            |user| cursor("user", &user.email),
        ))
    }

    /// The audit trail, newest first, optionally filtered (admins).
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        action: Option<String>,
        target_type: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, AuditEvent, EmptyFields, EmptyFields>> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let limit = page_size(first);
        let after = after
            .as_deref()
            .map(|c| {
                let key = cursor_key("event", c)?;
                key.split_once('|')
                    .and_then(|(at, id)| {
                        Some((
                            DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
                            uuid::Uuid::parse_str(id).ok()?,
                        ))
                    })
                    .ok_or_else(|| Error::bad_input("after: not a cursor from this list"))
            })
            .transpose()?;
        let filter = audit::EventFilter {
            action: action.as_deref(),
            target_type: target_type.as_deref(),
        };
        let rows = audit::page(&call.state.db, filter, after, limit + 1).await?;
        let events = rows
            .into_iter()
            .map(|e| AuditEvent {
                id: ID(e.id.to_string()),
                actor: e.actor_name,
                action: e.action,
                target_type: e.target_type,
                target_name: e.target_name,
                details: async_graphql::Json(e.details),
                address: e.address,
                created_at: e.created_at,
            })
            .collect();
        Ok(keyset_connection(events, limit, after.is_some(), |event| {
            cursor(
                "event",
                &format!(
                    "{}|{}",
                    event
                        .created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    event.id.as_str()
                ),
            )
        }))
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Create a user (admins).
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let user = service::create(
            &call.state.db,
            &call.actor(),
            NewUser {
                email: input.email,
                display_name: input.display_name,
                global_role: input.global_role.into(),
                password: input.password,
            },
        )
        .await?;
        Ok(User::from(&user))
    }

    /// Change a user's display name or e-mail: admins for anyone, users for themselves
    /// (a browser session or an unrestricted personal token). Changing one's own e-mail
    /// needs `currentPassword` (admins excepted).
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        email: String,
        display_name: Option<String>,
        new_email: Option<String>,
        current_password: Option<String>,
    ) -> Result<User> {
        let call = Call::of(ctx)?;
        let me = call.require_account()?;
        let is_admin = call.request.principal.is_admin();
        let is_self = me.email == service::normalize_email(&email);
        if !is_self && !is_admin {
            return Err(Error::forbidden("only admins may edit other users").into());
        }
        if new_email.is_some() && !is_admin {
            service::confirm_password(
                &call.state.db,
                &call.state.login_throttle,
                call.request.address,
                me.id,
                current_password,
            )
            .await?;
        }
        let user = service::update_profile(
            &call.state.db,
            &call.actor(),
            &email,
            display_name,
            new_email,
        )
        .await?;
        Ok(User::from(&user))
    }

    /// Change one's own password (a browser session or an unrestricted personal token).
    /// Needs the current password; one's other sessions end, this one stays.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<User> {
        let call = Call::of(ctx)?;
        let me = call.require_account()?;
        service::confirm_password(
            &call.state.db,
            &call.state.login_throttle,
            call.request.address,
            me.id,
            Some(current_password),
        )
        .await?;
        let keep = match &call.request.principal {
            crate::auth::Principal::Session { session_id, .. } => Some(*session_id),
            _ => None,
        };
        Ok(User::from(
            &service::change_password(&call.state.db, &call.actor(), me.id, new_password, keep)
                .await?,
        ))
    }

    /// Change a user's global role (admins; the last admin stays admin).
    async fn set_global_role(
        &self,
        ctx: &Context<'_>,
        email: String,
        role: GlobalRole,
    ) -> Result<User> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        Ok(User::from(
            &service::set_global_role(&call.state.db, &call.actor(), &email, role.into()).await?,
        ))
    }

    /// Deactivate or reactivate a user (admins). Deactivation stops their sessions and
    /// tokens at once.
    async fn set_user_active(
        &self,
        ctx: &Context<'_>,
        email: String,
        active: bool,
    ) -> Result<User> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        let user = service::set_active(&call.state.db, &call.actor(), &email, active).await?;
        call.state.forget_tokens();
        Ok(User::from(&user))
    }

    /// Set a user's password and end their sessions (admins).
    async fn reset_user_password(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> Result<User> {
        let call = Call::of(ctx)?;
        call.require_admin()?;
        Ok(User::from(
            &service::reset_password(&call.state.db, &call.actor(), &email, password).await?,
        ))
    }
}
