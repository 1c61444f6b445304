//! The audit trail: who did what to which object, when, from where.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::entities::audit_events;
use crate::error::Result;

/// Who acts, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    pub token_id: Option<Uuid>,
    pub name: String,
    pub address: Option<String>,
}

impl Actor {
    /// An operator at the command line of the server.
    pub fn cli() -> Self {
        Actor {
            user_id: None,
            token_id: None,
            name: "cli".into(),
            address: None,
        }
    }

    pub fn from_principal(principal: &Principal, address: Option<String>) -> Self {
        Actor {
            user_id: principal.user().map(|u| u.id),
            token_id: principal.token().map(|t| t.id),
            name: principal.display_name(),
            address,
        }
    }
}

/// What an event is about.
pub struct Target<'a> {
    pub kind: &'static str,
    pub id: Option<String>,
    pub name: &'a str,
}

pub async fn record(
    db: &impl ConnectionTrait,
    actor: &Actor,
    action: &str,
    target: Target<'_>,
    details: serde_json::Value,
) -> Result<()> {
    tracing::info!(
        audit.action = action,
        audit.actor = %actor.name,
        audit.target_type = target.kind,
        audit.target = target.name,
        "audit event"
    );
    audit_events::ActiveModel {
        id: Set(Uuid::new_v4()),
        actor_user_id: Set(actor.user_id),
        actor_token_id: Set(actor.token_id),
        actor_name: Set(actor.name.clone()),
        action: Set(action.to_owned()),
        target_type: Set(target.kind.to_owned()),
        target_id: Set(target.id),
        target_name: Set(target.name.to_owned()),
        details: Set(details),
        address: Set(actor.address.clone()),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Which events a page of the trail holds.
#[derive(Debug, Default, Clone, Copy)]
pub struct EventFilter<'a> {
    pub action: Option<&'a str>,
    pub target_type: Option<&'a str>,
}

/// Up to `limit` events, newest first, after the event `after` (its time and id): each
/// page costs its own rows whatever the trail's length.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: EventFilter<'_>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<audit_events::Model>> {
    let mut query = audit_events::Entity::find()
        .order_by_desc(audit_events::Column::CreatedAt)
        .order_by_desc(audit_events::Column::Id);
    if let Some(action) = filter.action {
        query = query.filter(audit_events::Column::Action.eq(action));
    }
    if let Some(kind) = filter.target_type {
        query = query.filter(audit_events::Column::TargetType.eq(kind));
    }
    if let Some((at, id)) = after {
        query = query.filter(
            Condition::any()
                .add(audit_events::Column::CreatedAt.lt(at))
                .add(
                    Condition::all()
                        .add(audit_events::Column::CreatedAt.eq(at))
                        .add(audit_events::Column::Id.lt(id)),
                ),
        );
    }
    Ok(query.limit(limit).all(db).await?)
}
