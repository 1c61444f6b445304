//! Token authentication for every route: `Authorization: Bearer <token>`, `Basic` with the
//! token as the password (any username), or Cargo's raw `Authorization: <token>`.
//!
//! A bounded cache keeps a hot token off the database for at most [`CACHE_TTL`], so a
//! revocation or deactivation takes effect within that time on every replica. Last-used
//! times are gathered in memory and written in batches, not once per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use http::header::AUTHORIZATION;
use http::HeaderMap;
use moka::future::Cache;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::principal::{TokenScope, UserPrincipal};
use super::{hash_secret, Principal};
use crate::db::entities::{token_package_names, token_repositories, token_roles, tokens, users};
use crate::error::{Error, Result};

pub const CACHE_TTL: Duration = Duration::from_secs(5);

/// The token in a request's `Authorization` header, if it carries one. `Err` when the
/// header is present but holds no token (e.g. a password).
pub fn secret_from_headers(headers: &HeaderMap) -> Option<Result<String>> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let secret = if let Some(rest) = strip_scheme(value, "bearer") {
        rest.trim().to_owned()
    } else if let Some(rest) = strip_scheme(value, "basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        match decoded.as_deref().and_then(|pair| pair.split_once(':')) {
            Some((_, password)) => password.to_owned(),
            None => return Some(Err(Error::unauthenticated("malformed Basic credentials"))),
        }
    } else {
        value.to_owned()
    };
    if secret.starts_with(PERSONAL_PREFIX) || secret.starts_with(DEPLOY_PREFIX) {
        Some(Ok(secret))
    } else {
        Some(Err(Error::unauthenticated(
            "send a Packistry token (pkpat-… or pkdt-…); passwords are for the web interface only",
        )))
    }
}

fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = value.split_once(' ')?;
    head.eq_ignore_ascii_case(scheme).then_some(rest)
}

#[derive(Debug, Clone)]
struct Resolved {
    secret_hash: String,
    scope: TokenScope,
    owner: Option<users::Model>,
}

#[derive(Clone)]
pub struct TokenAuthenticator {
    cache: Cache<String, Option<Arc<Resolved>>>,
    last_used: Arc<Mutex<HashMap<Uuid, DateTime<Utc>>>>,
}

impl Default for TokenAuthenticator {
    fn default() -> Self {
        TokenAuthenticator {
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CACHE_TTL)
                .build(),
            last_used: Arc::default(),
        }
    }
}

impl TokenAuthenticator {
    pub async fn authenticate(&self, db: &impl ConnectionTrait, secret: &str) -> Result<Principal> {
        self.authenticate_hash(db, &hash_secret(secret)).await
    }

    /// As [`TokenAuthenticator::authenticate`], for a token known by its hash (what a
    /// short-lived OCI bearer token carries instead of the secret).
    pub async fn authenticate_hash(
        &self,
        db: &impl ConnectionTrait,
        hash: &str,
    ) -> Result<Principal> {
        let hash = hash.to_owned();
        let resolved = match self.cache.get(&hash).await {
            Some(hit) => hit,
            None => {
                let loaded = load(db, &hash).await?.map(Arc::new);
                self.cache.insert(hash.clone(), loaded.clone()).await;
                loaded
            }
        };
        let unknown = || Error::unauthenticated("unknown token");
        let resolved = resolved.ok_or_else(unknown)?;
        // The lookup was by hash; compare again in constant time before trusting it.
        if !bool::from(resolved.secret_hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Err(unknown());
        }
        let scope = &resolved.scope;
        if scope.revoked {
            return Err(Error::unauthenticated(format!(
                "token {} was revoked",
                scope.name
            )));
        }
        if let Some(at) = scope.expires_at.filter(|at| *at <= Utc::now()) {
            return Err(Error::unauthenticated(format!(
                "token {} expired at {}",
                scope.name,
                at.to_rfc3339()
            )));
        }
        let principal = match &resolved.owner {
            Some(owner) if !owner.active => {
                return Err(Error::unauthenticated(format!(
                    "the owner of token {} is deactivated",
                    scope.name
                )))
            }
            Some(owner) => Principal::PersonalToken {
                user: UserPrincipal::from(owner),
                token: scope.clone(),
            },
            None => Principal::DeployToken {
                token: scope.clone(),
            },
        };
        self.last_used
            .lock()
            .map(|mut map| map.insert(scope.id, Utc::now()))
            .ok();
        Ok(principal)
    }

    /// Write the gathered last-used times.
    pub async fn flush_last_used(&self, db: &impl ConnectionTrait) {
        let pending: Vec<(Uuid, DateTime<Utc>)> = match self.last_used.lock() {
            Ok(mut map) => map.drain().collect(),
            Err(_) => return,
        };
        for (id, at) in pending {
            let update = tokens::Entity::update_many()
                .set(tokens::ActiveModel {
                    last_used_at: Set(Some(at)),
                    ..Default::default()
                })
                .filter(tokens::Column::Id.eq(id))
                .exec(db)
                .await;
            if let Err(err) = update {
                tracing::warn!(error = %err, token.id = %id, "cannot record token use");
            }
        }
    }

    /// Forget cached answers at once (this replica); other replicas follow within the TTL.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}

async fn load(db: &impl ConnectionTrait, hash: &str) -> Result<Option<Resolved>> {
    let Some(token) = tokens::Entity::find()
        .filter(tokens::Column::SecretHash.eq(hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let owner = match token.user_id {
        Some(id) => users::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    if token.kind == "personal" && owner.is_none() {
        return Ok(None);
    }
    let scope = scope_of(db, &token).await?;
    Ok(Some(Resolved {
        secret_hash: token.secret_hash,
        scope,
        owner,
    }))
}

/// What every personal token's secret starts with.
pub const PERSONAL_PREFIX: &str = "pkpat-";
/// What every deploy token's secret starts with.
pub const DEPLOY_PREFIX: &str = "pkdt-";

/// Load a token's scope (coverage, package limit, roles).
pub async fn scope_of(db: &impl ConnectionTrait, token: &tokens::Model) -> Result<TokenScope> {
    let repository_ids = token_repositories::Entity::find()
        .filter(token_repositories::Column::TokenId.eq(token.id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.repository_id)
        .collect();
    let package_names = token_package_names::Entity::find()
        .filter(token_package_names::Column::TokenId.eq(token.id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let roles = token_roles::Entity::find()
        .filter(token_roles::Column::TokenId.eq(token.id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|r| r.role.parse().ok())
        .collect();
    Ok(TokenScope {
        id: token.id,
        name: token.name.clone(),
        all_repositories: token.all_repositories,
        repository_ids,
        package_names,
        roles,
        expires_at: token.expires_at,
        revoked: token.revoked_at.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any Authorization header: a secret, a refusal or nothing; never a panic.
            #[test]
            fn any_authorization_header_is_read(value in "[ -~]{0,120}") {
                if let Ok(value) = http::HeaderValue::from_str(&value) {
                    let mut headers = HeaderMap::new();
                    headers.insert(http::header::AUTHORIZATION, value);
                    let _ = secret_from_headers(&headers);
                }
            }
        }
    }

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(AUTHORIZATION, value.parse().unwrap());
        map
    }

    #[test]
    fn reads_bearer_basic_and_raw_tokens() {
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:pkpat-abc");
        for value in [
            "Bearer pkpat-abc",
            "bearer pkpat-abc",
            &format!("Basic {basic}"),
            "pkpat-abc",
        ] {
            assert_eq!(
                secret_from_headers(&headers(value)).unwrap().unwrap(),
                "pkpat-abc",
                "{value}"
            );
        }
        assert_eq!(
            secret_from_headers(&headers("Bearer pkdt-x"))
                .unwrap()
                .unwrap(),
            "pkdt-x"
        );
        assert!(secret_from_headers(&HeaderMap::new()).is_none());
    }

    #[test]
    fn refuses_passwords_and_garbage() {
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:hunter2");
        assert!(secret_from_headers(&headers(&format!("Basic {basic}")))
            .unwrap()
            .is_err());
        assert!(secret_from_headers(&headers("Basic !!!")).unwrap().is_err());
        assert!(secret_from_headers(&headers("Bearer nope"))
            .unwrap()
            .is_err());
    }
}
