//! Groups and their members. Maintainers manage their own group; admins every group.

use chrono::Utc;
use packistry_shared::names::{is_valid_group_name, GROUP_NAME_RULE};
use packistry_shared::permissions::{may_create_group, may_manage_group};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::access::Access;
use super::audit::{self, Actor, Target};
use crate::db::entities::{group_members, groups, users};
use crate::error::{is_unique_violation, Error, Result};

pub async fn get_by_name(db: &impl ConnectionTrait, name: &str) -> Result<groups::Model> {
    groups::Entity::find()
        .filter(groups::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found(format!("no group named {name}")))
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<groups::Model>> {
    Ok(groups::Entity::find()
        .order_by_asc(groups::Column::Name)
        .all(db)
        .await?)
}

pub async fn members(
    db: &impl ConnectionTrait,
    group_id: Uuid,
) -> Result<Vec<(group_members::Model, users::Model)>> {
    Ok(group_members::Entity::find()
        .filter(group_members::Column::GroupId.eq(group_id))
        .find_also_related(users::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(m, u)| Some((m, u?)))
        .collect())
}

async fn ensure_may_manage(
    db: &impl ConnectionTrait,
    access: &Access,
    group: &groups::Model,
) -> Result<()> {
    let Some(role) = access.principal.global_role() else {
        return Err(Error::forbidden("only users manage groups"));
    };
    let is_maintainer = match access.principal.user() {
        Some(user) => group_members::Entity::find_by_id((group.id, user.id))
            .one(db)
            .await?
            .is_some_and(|m| m.maintainer),
        None => false,
    };
    if may_manage_group(role, is_maintainer) {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "only admins and maintainers of {} may manage it",
            group.name
        )))
    }
}

fn target(group: &groups::Model) -> Target<'_> {
    Target {
        kind: "group",
        id: Some(group.id.to_string()),
        name: &group.name,
    }
}

/// Create a group; a user creating it becomes its maintainer.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    name: &str,
) -> Result<groups::Model> {
    if !access.principal.global_role().is_some_and(may_create_group) {
        return Err(Error::forbidden(
            "only admins and developers may create groups",
        ));
    }
    if !is_valid_group_name(name) {
        return Err(Error::bad_input(format!(
            "name: \"{name}\" is not allowed: {GROUP_NAME_RULE}"
        )));
    }
    let txn = db.begin().await?;
    let group = groups::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
    }
    .insert(&txn)
    .await
    .map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!("name: a group named {name} already exists"))
        } else {
            err.into()
        }
    })?;
    if let Some(user) = access.principal.user() {
        group_members::ActiveModel {
            group_id: Set(group.id),
            user_id: Set(user.id),
            maintainer: Set(true),
            created_at: Set(Utc::now()),
        }
        .insert(&txn)
        .await?;
    }
    audit::record(&txn, actor, "group.created", target(&group), json!({})).await?;
    txn.commit().await?;
    Ok(group)
}

pub async fn rename<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    name: &str,
    new_name: &str,
) -> Result<groups::Model> {
    let group = get_by_name(db, name).await?;
    ensure_may_manage(db, access, &group).await?;
    if !is_valid_group_name(new_name) {
        return Err(Error::bad_input(format!(
            "name: \"{new_name}\" is not allowed: {GROUP_NAME_RULE}"
        )));
    }
    let txn = db.begin().await?;
    let mut row: groups::ActiveModel = group.into();
    row.name = Set(new_name.to_owned());
    let group = row.update(&txn).await.map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!("name: a group named {new_name} already exists"))
        } else {
            err.into()
        }
    })?;
    audit::record(
        &txn,
        actor,
        "group.renamed",
        target(&group),
        json!({ "from": name }),
    )
    .await?;
    txn.commit().await?;
    Ok(group)
}

pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    name: &str,
) -> Result<()> {
    let group = get_by_name(db, name).await?;
    ensure_may_manage(db, access, &group).await?;
    let txn = db.begin().await?;
    groups::Entity::delete_by_id(group.id).exec(&txn).await?;
    audit::record(&txn, actor, "group.deleted", target(&group), json!({})).await?;
    txn.commit().await?;
    Ok(())
}

/// Add a member, or change whether an existing member is a maintainer.
pub async fn set_member<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    name: &str,
    email: &str,
    maintainer: bool,
) -> Result<()> {
    let group = get_by_name(db, name).await?;
    ensure_may_manage(db, access, &group).await?;
    let user = super::users::get_by_email(db, email).await?;
    let txn = db.begin().await?;
    match group_members::Entity::find_by_id((group.id, user.id))
        .one(&txn)
        .await?
    {
        Some(member) => {
            let mut row: group_members::ActiveModel = member.into();
            row.maintainer = Set(maintainer);
            row.update(&txn).await?;
        }
        None => {
            group_members::ActiveModel {
                group_id: Set(group.id),
                user_id: Set(user.id),
                maintainer: Set(maintainer),
                created_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await?;
        }
    }
    audit::record(
        &txn,
        actor,
        "group.member_set",
        target(&group),
        json!({ "member": user.email, "maintainer": maintainer }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn remove_member<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    access: &Access,
    name: &str,
    email: &str,
) -> Result<()> {
    let group = get_by_name(db, name).await?;
    ensure_may_manage(db, access, &group).await?;
    let user = super::users::get_by_email(db, email).await?;
    let txn = db.begin().await?;
    let removed = group_members::Entity::delete_by_id((group.id, user.id))
        .exec(&txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(Error::not_found(format!(
            "{} is not a member of {}",
            user.email, group.name
        )));
    }
    audit::record(
        &txn,
        actor,
        "group.member_removed",
        target(&group),
        json!({ "member": user.email }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
