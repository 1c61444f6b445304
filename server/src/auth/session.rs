//! Browser sessions: a random cookie value whose hash is stored in the database, so every
//! replica sees the same sessions; a CSRF token bound to each session.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{hash_secret, random_secret};
use crate::db::entities::{sessions, users};
use crate::error::Result;

pub const SESSION_COOKIE: &str = "packistry_session";
/// Readable by the SPA, which echoes it in `X-CSRF-Token` on every mutation.
pub const CSRF_COOKIE: &str = "packistry_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A new session: the secrets go to the browser once and are not kept.
pub struct NewSession {
    pub cookie_value: String,
    pub csrf_token: String,
    pub max_age_seconds: i64,
}

pub async fn create(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    address: Option<String>,
    ttl_hours: u64,
) -> Result<NewSession> {
    let cookie_value = random_secret();
    let csrf_token = random_secret();
    let now = Utc::now();
    let ttl = Duration::hours(ttl_hours as i64);
    sessions::ActiveModel {
        id: Set(Uuid::new_v4()),
        secret_hash: Set(hash_secret(&cookie_value)),
        user_id: Set(user_id),
        csrf_token: Set(csrf_token.clone()),
        address: Set(address),
        created_at: Set(now),
        expires_at: Set(now + ttl),
    }
    .insert(db)
    .await?;
    Ok(NewSession {
        cookie_value,
        csrf_token,
        max_age_seconds: ttl.num_seconds(),
    })
}

/// The live session for a cookie value and its active user, if any.
pub async fn find(
    db: &impl ConnectionTrait,
    cookie_value: &str,
) -> Result<Option<(sessions::Model, users::Model)>> {
    let found = sessions::Entity::find()
        .filter(sessions::Column::SecretHash.eq(hash_secret(cookie_value)))
        .filter(sessions::Column::ExpiresAt.gt(Utc::now()))
        .find_also_related(users::Entity)
        .one(db)
        .await?;
    Ok(match found {
        Some((session, Some(user))) if user.active => Some((session, user)),
        _ => None,
    })
}

pub async fn delete(db: &impl ConnectionTrait, session_id: Uuid) -> Result<()> {
    sessions::Entity::delete_by_id(session_id).exec(db).await?;
    Ok(())
}

/// End every session of a user (deactivation, password reset).
pub async fn delete_all_for_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<()> {
    sessions::Entity::delete_many()
        .filter(sessions::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// End a user's sessions except `keep` (the one changing the password).
pub async fn delete_all_for_user_but(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<()> {
    let mut query = sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(user_id));
    if let Some(keep) = keep {
        query = query.filter(sessions::Column::Id.ne(keep));
    }
    query.exec(db).await?;
    Ok(())
}

/// `Set-Cookie` values for a new session.
pub fn set_cookies(session: &NewSession, secure: bool) -> [String; 2] {
    let secure = if secure { "; Secure" } else { "" };
    let age = session.max_age_seconds;
    [
        format!(
            "{SESSION_COOKIE}={}; Path=/; Max-Age={age}; HttpOnly; SameSite=Lax{secure}",
            session.cookie_value
        ),
        format!(
            "{CSRF_COOKIE}={}; Path=/; Max-Age={age}; SameSite=Strict{secure}",
            session.csrf_token
        ),
    ]
}

/// `Set-Cookie` values that remove the session cookies.
pub fn clear_cookies(secure: bool) -> [String; 2] {
    let secure = if secure { "; Secure" } else { "" };
    [
        format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"),
        format!("{CSRF_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict{secure}"),
    ]
}

/// The value of one cookie in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_many() {
        let header = "a=1; packistry_session=abc; packistry_csrf=def";
        assert_eq!(cookie_value(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie_value(header, CSRF_COOKIE), Some("def"));
        assert_eq!(cookie_value("packistry_session=", SESSION_COOKIE), None);
    }

    #[test]
    fn session_cookie_is_http_only_and_same_site() {
        let session = NewSession {
            cookie_value: "v".into(),
            csrf_token: "c".into(),
            max_age_seconds: 60,
        };
        let [session_cookie, csrf_cookie] = set_cookies(&session, true);
        assert!(session_cookie.contains("HttpOnly"));
        assert!(session_cookie.contains("SameSite=Lax"));
        assert!(session_cookie.contains("Secure"));
        assert!(!csrf_cookie.contains("HttpOnly"));
        let [plain, _] = set_cookies(&session, false);
        assert!(!plain.contains("Secure"));
    }
}
