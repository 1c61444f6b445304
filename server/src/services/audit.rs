//! The audit trail: who did what to which object, when, from where.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
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
