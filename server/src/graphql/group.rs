//! Groups and their members.

use async_graphql::{Context, Object, Result, SimpleObject, ID};

use super::context::Call;
use super::types::User;
use crate::db::entities::groups;
use crate::services::groups as service;

#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Group {
    pub id: ID,
    pub name: String,
}

impl From<&groups::Model> for Group {
    fn from(g: &groups::Model) -> Self {
        Group {
            id: ID(g.id.to_string()),
            name: g.name.clone(),
        }
    }
}

#[derive(SimpleObject)]
pub struct GroupMember {
    pub user: User,
    pub maintainer: bool,
}

#[async_graphql::ComplexObject]
impl Group {
    /// Members and whether each maintains the group.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<GroupMember>> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        let id = uuid::Uuid::parse_str(&self.id)
            .map_err(|_| crate::error::Error::not_found("no such group"))?;
        let members = service::members(&call.state.db, id).await?;
        Ok(members
            .iter()
            .map(|(m, u)| GroupMember {
                user: User::from(u),
                maintainer: m.maintainer,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct GroupQuery;

#[Object]
impl GroupQuery {
    /// Every group (signed-in callers).
    async fn groups(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        Ok(service::list(&call.state.db)
            .await?
            .iter()
            .map(Group::from)
            .collect())
    }
}

#[derive(Default)]
pub struct GroupMutation;

#[Object]
impl GroupMutation {
    /// Create a group (admins and developers); the creator maintains it.
    async fn create_group(&self, ctx: &Context<'_>, name: String) -> Result<Group> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        let access = call.access().await?;
        Ok(Group::from(
            &service::create(&call.state.db, &call.actor(), &access, &name).await?,
        ))
    }

    async fn rename_group(
        &self,
        ctx: &Context<'_>,
        name: String,
        new_name: String,
    ) -> Result<Group> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        let access = call.access().await?;
        Ok(Group::from(
            &service::rename(&call.state.db, &call.actor(), &access, &name, &new_name).await?,
        ))
    }

    async fn delete_group(&self, ctx: &Context<'_>, name: String) -> Result<bool> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        let access = call.access().await?;
        service::delete(&call.state.db, &call.actor(), &access, &name).await?;
        call.state.forget_access_caches();
        Ok(true)
    }

    /// Add a member, or make/unmake an existing member a maintainer.
    async fn set_group_member(
        &self,
        ctx: &Context<'_>,
        name: String,
        email: String,
        maintainer: bool,
    ) -> Result<bool> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        let access = call.access().await?;
        service::set_member(
            &call.state.db,
            &call.actor(),
            &access,
            &name,
            &email,
            maintainer,
        )
        .await?;
        call.state.forget_access_caches();
        Ok(true)
    }

    async fn remove_group_member(
        &self,
        ctx: &Context<'_>,
        name: String,
        email: String,
    ) -> Result<bool> {
        let call = Call::of(ctx)?;
        call.require_account()?;
        let access = call.access().await?;
        service::remove_member(&call.state.db, &call.actor(), &access, &name, &email).await?;
        call.state.forget_access_caches();
        Ok(true)
    }
}
