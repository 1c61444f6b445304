//! Users: creation, passwords, activation, sign-in.

use chrono::Utc;
use packistry_shared::names::is_plausible_email;
use packistry_shared::GlobalRole;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor, Target};
use crate::auth::{password, session};
use crate::db::entities::users;
use crate::error::{is_unique_violation, Error, Result};

pub struct NewUser {
    pub email: String,
    pub display_name: Option<String>,
    pub global_role: GlobalRole,
    pub password: Option<String>,
}

/// E-mail addresses are compared and stored in lowercase.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64> {
    Ok(users::Entity::find().count(db).await?)
}

pub async fn find_by_id(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<users::Model>> {
    Ok(users::Entity::find_by_id(id).one(db).await?)
}

pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<users::Model>> {
    Ok(users::Entity::find()
        .filter(users::Column::Email.eq(normalize_email(email)))
        .one(db)
        .await?)
}

pub async fn get_by_email(db: &impl ConnectionTrait, email: &str) -> Result<users::Model> {
    find_by_email(db, email)
        .await?
        .ok_or_else(|| Error::not_found(format!("no user with e-mail {}", normalize_email(email))))
}

pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    new: NewUser,
) -> Result<users::Model> {
    let email = normalize_email(&new.email);
    if !is_plausible_email(&email) {
        return Err(Error::bad_input(format!(
            "\"{email}\" is not an e-mail address"
        )));
    }
    let password_hash = match new.password {
        Some(pw) => {
            password::check_strength(&pw)?;
            Some(password::hash(pw).await?)
        }
        None => None,
    };
    let display_name = new
        .display_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_owned());
    let now = Utc::now();
    let row = users::ActiveModel {
        id: Set(Uuid::new_v4()),
        email: Set(email.clone()),
        display_name: Set(display_name),
        password_hash: Set(password_hash),
        global_role: Set(new.global_role.as_str().to_owned()),
        active: Set(true),
        auth_source_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let txn = db.begin().await?;
    let user = row.insert(&txn).await.map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!("email: a user with e-mail {email} already exists"))
        } else {
            err.into()
        }
    })?;
    audit::record(
        &txn,
        actor,
        "user.created",
        Target {
            kind: "user",
            id: Some(user.id.to_string()),
            name: &user.email,
        },
        json!({ "globalRole": user.global_role }),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Set a new password and end the user's sessions.
pub async fn reset_password<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    email: &str,
    new_password: String,
) -> Result<users::Model> {
    password::check_strength(&new_password)?;
    let user = get_by_email(db, email).await?;
    let hash = password::hash(new_password).await?;
    let txn = db.begin().await?;
    let mut row: users::ActiveModel = user.into();
    row.password_hash = Set(Some(hash));
    row.updated_at = Set(Utc::now());
    let user = row.update(&txn).await?;
    session::delete_all_for_user(&txn, user.id).await?;
    audit::record(
        &txn,
        actor,
        "user.password_reset",
        Target {
            kind: "user",
            id: Some(user.id.to_string()),
            name: &user.email,
        },
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Check a user's current password before they change their own e-mail or password. The
/// account's sign-in throttle applies, so a stolen session cannot guess it.
pub async fn confirm_password(
    db: &impl ConnectionTrait,
    throttle: &crate::auth::throttle::LoginThrottle,
    address: Option<std::net::IpAddr>,
    user_id: Uuid,
    given: Option<String>,
) -> Result<()> {
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| Error::unauthenticated("sign in first"))?;
    let Some(given) = given else {
        return Err(Error::bad_input(
            "currentPassword: give your current password to change this",
        ));
    };
    if !throttle.allows(&user.email, address) {
        return Err(Error::forbidden(
            "too many wrong passwords; wait a few minutes and try again",
        ));
    }
    if !password::verify(given, user.password_hash.clone()).await? {
        throttle.record_failure(&user.email, address);
        return Err(Error::forbidden(
            "currentPassword: that is not your password",
        ));
    }
    Ok(())
}

/// A user changes their own password (after [`confirm_password`]): their other sessions
/// end, the one making the change stays.
pub async fn change_password<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    user_id: Uuid,
    new_password: String,
    keep_session: Option<Uuid>,
) -> Result<users::Model> {
    password::check_strength(&new_password)?;
    let hash = password::hash(new_password).await?;
    let txn = db.begin().await?;
    let user = users::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::unauthenticated("sign in first"))?;
    let mut row: users::ActiveModel = user.into();
    row.password_hash = Set(Some(hash));
    row.updated_at = Set(Utc::now());
    let user = row.update(&txn).await?;
    session::delete_all_for_user_but(&txn, user.id, keep_session).await?;
    audit::record(
        &txn,
        actor,
        "user.password_changed",
        Target {
            kind: "user",
            id: Some(user.id.to_string()),
            name: &user.email,
        },
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Refuse to take away the admin rights of the last active admin.
async fn ensure_not_last_admin(db: &impl ConnectionTrait, user: &users::Model) -> Result<()> {
    if user.global_role() != GlobalRole::Admin || !user.active {
        return Ok(());
    }
    let active_admins = users::Entity::find()
        .filter(users::Column::GlobalRole.eq(GlobalRole::Admin.as_str()))
        .filter(users::Column::Active.eq(true))
        .count(db)
        .await?;
    if active_admins <= 1 {
        return Err(Error::conflict(format!(
            "{} is the last active admin; make another user admin first",
            user.email
        )));
    }
    Ok(())
}

/// Activate or deactivate a user. Deactivation ends their sessions at once; the last active
/// admin cannot be deactivated.
pub async fn set_active<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    email: &str,
    active: bool,
) -> Result<users::Model> {
    let txn = db.begin().await?;
    let user = get_by_email(&txn, email).await?;
    if user.active == active {
        txn.commit().await?;
        return Ok(user);
    }
    if !active {
        ensure_not_last_admin(&txn, &user).await?;
    }
    let mut row: users::ActiveModel = user.into();
    row.active = Set(active);
    row.updated_at = Set(Utc::now());
    let user = row.update(&txn).await?;
    if !active {
        session::delete_all_for_user(&txn, user.id).await?;
    }
    audit::record(
        &txn,
        actor,
        if active {
            "user.activated"
        } else {
            "user.deactivated"
        },
        Target {
            kind: "user",
            id: Some(user.id.to_string()),
            name: &user.email,
        },
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Check an e-mail and password. The same answer, and about the same time, whether the
/// account is unknown, inactive, has no password, or the password is wrong.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    email: &str,
    password_given: String,
) -> Result<Option<users::Model>> {
    let user = find_by_email(db, email).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = password::verify(password_given, stored).await?;
    Ok(user.filter(|u| ok && u.active))
}

/// Change a user's global role. The last active admin cannot stop being one.
pub async fn set_global_role<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    email: &str,
    role: GlobalRole,
) -> Result<users::Model> {
    let txn = db.begin().await?;
    let user = get_by_email(&txn, email).await?;
    let before = user.global_role.clone();
    if role != GlobalRole::Admin {
        ensure_not_last_admin(&txn, &user).await?;
    }
    let mut row: users::ActiveModel = user.into();
    row.global_role = Set(role.as_str().to_owned());
    row.updated_at = Set(Utc::now());
    let user = row.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "user.role_changed",
        Target {
            kind: "user",
            id: Some(user.id.to_string()),
            name: &user.email,
        },
        json!({ "from": before, "to": user.global_role }),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}

/// Up to `limit` users by e-mail after the e-mail `after`, optionally those whose e-mail
/// or display name holds `search` (not case-sensitive).
pub async fn page(
    db: &impl ConnectionTrait,
    search: Option<&str>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<users::Model>> {
    use sea_orm::sea_query::{Expr, Func, LikeExpr};
    use sea_orm::{Condition, QueryOrder, QuerySelect};
    let mut query = users::Entity::find().order_by_asc(users::Column::Email);
    if let Some(term) = search.map(str::trim).filter(|t| !t.is_empty()) {
        let mut pattern = String::from("%");
        for c in term.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '!') {
                pattern.push('!');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let like = |column: users::Column| {
            Expr::expr(Func::lower(Expr::col((users::Entity, column))))
                .like(LikeExpr::new(pattern.clone()).escape('!'))
        };
        query = query.filter(
            Condition::any()
                .add(like(users::Column::Email))
                .add(like(users::Column::DisplayName)),
        );
    }
    if let Some(after) = after {
        query = query.filter(users::Column::Email.gt(after));
    }
    Ok(query.limit(limit).all(db).await?)
}

/// Change a user's display name and/or e-mail.
pub async fn update_profile<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    email: &str,
    display_name: Option<String>,
    new_email: Option<String>,
) -> Result<users::Model> {
    let txn = db.begin().await?;
    let user = get_by_email(&txn, email).await?;
    let before = user.email.clone();
    let mut row: users::ActiveModel = user.into();
    if let Some(name) = display_name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::bad_input(
                "displayName: a display name is 1 to 100 characters",
            ));
        }
        row.display_name = Set(name);
    }
    if let Some(new_email) = new_email {
        let new_email = normalize_email(&new_email);
        if !is_plausible_email(&new_email) {
            return Err(Error::bad_input(format!(
                "email: \"{new_email}\" is not an e-mail address"
            )));
        }
        row.email = Set(new_email);
    }
    row.updated_at = Set(Utc::now());
    let user = row.update(&txn).await.map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict("email: another user has this e-mail address")
        } else {
            err.into()
        }
    })?;
    audit::record(
        &txn,
        actor,
        "user.updated",
        Target {
            kind: "user",
            id: Some(user.id.to_string()),
            name: &user.email,
        },
        json!({ "emailBefore": before, "displayName": user.display_name }),
    )
    .await?;
    txn.commit().await?;
    Ok(user)
}
