//! Authentication sources (SSO): their administration, the sign-in flows in progress, and
//! finding or provisioning the user a provider vouches for.

use chrono::Utc;
use packistry_shared::names::is_valid_repository_name;
use packistry_shared::{GlobalRole, RepositoryRole};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, Actor, Target};
use super::repositories::{set_grant, Grantee};
use super::users::{self, normalize_email, NewUser};
use crate::auth::sealed;
use crate::auth::sso::{self, Identity, Provider, Refusal};
use crate::db::entities::{auth_sources, repositories, sso_flows, user_identities};
use crate::error::{is_unique_violation, Error, Result};

/// A repository role given at first sign-in, as stored on the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredGrant {
    pub repository_id: Uuid,
    pub role: String,
}

/// Everything an administrator sets on a source. `client_secret: None` keeps the stored one
/// (and is refused when creating).
pub struct SourceInput {
    pub name: String,
    pub display_name: Option<String>,
    pub provider: Provider,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub issuer_url: Option<String>,
    pub scopes: Vec<String>,
    pub default_role: GlobalRole,
    /// (repository name, role)
    pub repository_grants: Vec<(String, RepositoryRole)>,
    pub allowed_domains: Vec<String>,
    pub allow_registration: bool,
    pub link_existing: bool,
    pub active: bool,
}

pub fn provider_of(source: &auth_sources::Model) -> Option<Provider> {
    Provider::parse(&source.provider)
}

pub fn scopes_of(source: &auth_sources::Model) -> Vec<String> {
    serde_json::from_value(source.scopes.clone()).unwrap_or_default()
}

pub fn allowed_domains_of(source: &auth_sources::Model) -> Vec<String> {
    serde_json::from_value(source.allowed_domains.clone()).unwrap_or_default()
}

pub fn grants_of(source: &auth_sources::Model) -> Vec<StoredGrant> {
    source
        .repository_grants
        .clone()
        .and_then(|value| serde_json::from_value(value).ok())
        .unwrap_or_default()
}

/// The scopes asked of the provider: the source's, or the provider's defaults.
pub fn effective_scopes(source: &auth_sources::Model, provider: Provider) -> Vec<String> {
    let scopes = scopes_of(source);
    if scopes.is_empty() {
        provider
            .default_scopes()
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        scopes
    }
}

/// Where the provider sends the browser back: what an administrator registers there.
pub fn callback_url(base_url: &str, name: &str) -> String {
    format!("{base_url}/auth/sso/{name}/callback")
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<auth_sources::Model>> {
    Ok(auth_sources::Entity::find()
        .order_by_asc(auth_sources::Column::Name)
        .all(db)
        .await?)
}

pub async fn list_active(db: &impl ConnectionTrait) -> Result<Vec<auth_sources::Model>> {
    Ok(auth_sources::Entity::find()
        .filter(auth_sources::Column::Active.eq(true))
        .order_by_asc(auth_sources::Column::Name)
        .all(db)
        .await?)
}

pub async fn find_by_name(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<auth_sources::Model>> {
    Ok(auth_sources::Entity::find()
        .filter(auth_sources::Column::Name.eq(name))
        .one(db)
        .await?)
}

pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<auth_sources::Model> {
    auth_sources::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| Error::not_found("no such authentication source"))
}

fn clean_url(field: &str, value: Option<String>) -> Result<Option<String>> {
    let Some(value) = value.map(|v| v.trim().trim_end_matches('/').to_owned()) else {
        return Ok(None);
    };
    if value.is_empty() {
        return Ok(None);
    }
    match url::Url::parse(&value) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => {
            Ok(Some(value))
        }
        _ => Err(Error::bad_input(format!(
            "{field}: \"{value}\" is not an http(s) URL"
        ))),
    }
}

/// Checked and normalised fields of a source, with repository names resolved.
struct Checked {
    display_name: Option<String>,
    issuer_url: Option<String>,
    scopes: Vec<String>,
    domains: Vec<String>,
    grants: Vec<StoredGrant>,
}

async fn check(db: &impl ConnectionTrait, input: &SourceInput) -> Result<Checked> {
    if !is_valid_repository_name(&input.name) {
        return Err(Error::bad_input(format!(
            "name: \"{}\" must be 1–64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (it is part of the callback URL)",
            input.name
        )));
    }
    if input.client_id.trim().is_empty() {
        return Err(Error::bad_input(
            "clientId: the provider's client id is required",
        ));
    }
    let issuer_url = clean_url("issuerUrl", input.issuer_url.clone())?;
    if input.provider == Provider::Oidc && issuer_url.is_none() {
        return Err(Error::bad_input(
            "issuerUrl: an OpenID Connect source needs its issuer URL (discovery is read from {issuer}/.well-known/openid-configuration)",
        ));
    }
    let scopes: Vec<String> = input
        .scopes
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = scopes.iter().find(|s| s.chars().any(char::is_whitespace)) {
        return Err(Error::bad_input(format!(
            "scopes: \"{bad}\" is not one scope (give each separately)"
        )));
    }
    let mut domains = Vec::new();
    for domain in &input.allowed_domains {
        let domain = domain.trim().trim_start_matches('@').to_ascii_lowercase();
        if domain.is_empty() {
            continue;
        }
        if !domain.contains('.')
            || domain
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
        {
            return Err(Error::bad_input(format!(
                "allowedDomains: \"{domain}\" is not a domain"
            )));
        }
        domains.push(domain);
    }
    let mut grants = Vec::new();
    for (name, role) in &input.repository_grants {
        let repository = repositories::Entity::find()
            .filter(repositories::Column::Name.eq(name.as_str()))
            .one(db)
            .await?
            .ok_or_else(|| {
                Error::bad_input(format!("repositoryGrants: no repository named {name}"))
            })?;
        grants.push(StoredGrant {
            repository_id: repository.id,
            role: role.as_str().to_owned(),
        });
    }
    Ok(Checked {
        display_name: input
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        issuer_url,
        scopes,
        domains,
        grants,
    })
}

fn source_target(source: &auth_sources::Model) -> Target<'_> {
    Target {
        kind: "auth_source",
        id: Some(source.id.to_string()),
        name: &source.name,
    }
}

pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    secret_key: &[u8; 32],
    actor: &Actor,
    input: SourceInput,
) -> Result<auth_sources::Model> {
    let checked = check(db, &input).await?;
    let secret = input
        .client_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::bad_input("clientSecret: the provider's client secret is required")
        })?;
    let now = Utc::now();
    let txn = db.begin().await?;
    let source = auth_sources::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(input.name.clone()),
        display_name: Set(checked.display_name),
        provider: Set(input.provider.as_str().to_owned()),
        client_id: Set(input.client_id.trim().to_owned()),
        client_secret_encrypted: Set(sealed::seal(secret_key, secret)?),
        issuer_url: Set(checked.issuer_url),
        scopes: Set(json!(checked.scopes)),
        default_role: Set(input.default_role.as_str().to_owned()),
        repository_grants: Set(Some(json!(checked.grants))),
        allowed_domains: Set(json!(checked.domains)),
        allow_registration: Set(input.allow_registration),
        link_existing: Set(input.link_existing),
        active: Set(input.active),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!(
                "name: an authentication source named {} already exists",
                input.name
            ))
        } else {
            err.into()
        }
    })?;
    audit::record(
        &txn,
        actor,
        "auth_source.created",
        source_target(&source),
        json!({ "provider": source.provider, "active": source.active }),
    )
    .await?;
    txn.commit().await?;
    Ok(source)
}

pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    secret_key: &[u8; 32],
    actor: &Actor,
    id: Uuid,
    input: SourceInput,
) -> Result<auth_sources::Model> {
    let existing = get(db, id).await?;
    let checked = check(db, &input).await?;
    let secret_changed = input
        .client_secret
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    let txn = db.begin().await?;
    let mut row: auth_sources::ActiveModel = existing.into();
    row.name = Set(input.name.clone());
    row.display_name = Set(checked.display_name);
    row.provider = Set(input.provider.as_str().to_owned());
    row.client_id = Set(input.client_id.trim().to_owned());
    if let Some(secret) = input.client_secret.as_deref().map(str::trim) {
        if !secret.is_empty() {
            row.client_secret_encrypted = Set(sealed::seal(secret_key, secret)?);
        }
    }
    row.issuer_url = Set(checked.issuer_url);
    row.scopes = Set(json!(checked.scopes));
    row.default_role = Set(input.default_role.as_str().to_owned());
    row.repository_grants = Set(Some(json!(checked.grants)));
    row.allowed_domains = Set(json!(checked.domains));
    row.allow_registration = Set(input.allow_registration);
    row.link_existing = Set(input.link_existing);
    row.active = Set(input.active);
    row.updated_at = Set(Utc::now());
    let source = row.update(&txn).await.map_err(|err| {
        if is_unique_violation(&err) {
            Error::conflict(format!(
                "name: an authentication source named {} already exists",
                input.name
            ))
        } else {
            err.into()
        }
    })?;
    audit::record(
        &txn,
        actor,
        "auth_source.updated",
        source_target(&source),
        json!({ "active": source.active, "clientSecretChanged": secret_changed }),
    )
    .await?;
    txn.commit().await?;
    Ok(source)
}

/// Turn sign-in through a source on or off. Its users' tokens keep working either way.
pub async fn set_active<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
    active: bool,
) -> Result<auth_sources::Model> {
    let existing = get(db, id).await?;
    let txn = db.begin().await?;
    let mut row: auth_sources::ActiveModel = existing.into();
    row.active = Set(active);
    row.updated_at = Set(Utc::now());
    let source = row.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        if active {
            "auth_source.activated"
        } else {
            "auth_source.deactivated"
        },
        source_target(&source),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(source)
}

/// Remove a source: its users stay (with their passwords, if any, and their tokens); the
/// link from their identities at the source goes.
pub async fn delete<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    id: Uuid,
) -> Result<()> {
    let existing = get(db, id).await?;
    let txn = db.begin().await?;
    auth_sources::Entity::delete_by_id(existing.id)
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        actor,
        "auth_source.deleted",
        source_target(&existing),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Remember a flow until the browser comes back (or [`sso::FLOW_TTL`] passes).
pub async fn remember_flow(
    db: &impl ConnectionTrait,
    secret_key: &[u8; 32],
    source: &auth_sources::Model,
    started: &sso::Started,
    return_to: &str,
) -> Result<()> {
    let now = Utc::now();
    // Flows nobody finished go as new ones start.
    sso_flows::Entity::delete_many()
        .filter(sso_flows::Column::ExpiresAt.lt(now - sso::FLOW_TTL))
        .exec(db)
        .await?;
    sso_flows::ActiveModel {
        id: Set(Uuid::new_v4()),
        state_hash: Set(crate::auth::hash_secret(&started.state)),
        source_id: Set(source.id),
        pkce_verifier_encrypted: Set(sealed::seal(secret_key, &started.pkce_verifier)?),
        nonce: Set(started.nonce.clone()),
        return_to: Set(return_to.to_owned()),
        created_at: Set(now),
        expires_at: Set(now + sso::FLOW_TTL),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The flow a `state` names, removed so it can be finished once only (two callbacks racing
/// with one state: one wins).
pub async fn take_flow(
    db: &impl ConnectionTrait,
    source: &auth_sources::Model,
    state: &str,
) -> Result<Option<sso_flows::Model>> {
    let Some(flow) = sso_flows::Entity::find()
        .filter(sso_flows::Column::StateHash.eq(crate::auth::hash_secret(state)))
        .filter(sso_flows::Column::SourceId.eq(source.id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let deleted = sso_flows::Entity::delete_by_id(flow.id).exec(db).await?;
    Ok((deleted.rows_affected == 1).then_some(flow))
}

/// The user an identity belongs to: found by the provider's subject, else linked by e-mail
/// (when the source allows), else provisioned (when it allows registration) with the
/// source's default role and repository grants — all or nothing.
/// Returns the user and whether it was created now.
pub async fn sign_in<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    source: &auth_sources::Model,
    identity: &Identity,
) -> Result<std::result::Result<(crate::db::entities::users::Model, bool), Refusal>> {
    let email = normalize_email(&identity.email);
    if !sso::domain_allowed(&email, &allowed_domains_of(source)) {
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        return Ok(Err(Refusal::DomainNotAllowed(domain.to_owned())));
    }
    let now = Utc::now();
    let txn = db.begin().await?;
    let known = user_identities::Entity::find()
        .filter(user_identities::Column::SourceId.eq(source.id))
        .filter(user_identities::Column::Subject.eq(identity.subject.as_str()))
        .one(&txn)
        .await?;
    let (user, created) = if let Some(known) = known {
        let user = crate::db::entities::users::Entity::find_by_id(known.user_id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("identity without its user")))?;
        let mut row: user_identities::ActiveModel = known.into();
        row.email = Set(email.clone());
        row.last_sign_in_at = Set(now);
        row.update(&txn).await?;
        (user, false)
    } else {
        let (user, created) = match users::find_by_email(&txn, &email).await? {
            Some(_) if !source.link_existing => return Ok(Err(Refusal::EmailTaken)),
            Some(existing) => (existing, false),
            None if !source.allow_registration => return Ok(Err(Refusal::RegistrationClosed)),
            None => (provision(&txn, source, identity, &email).await?, true),
        };
        user_identities::ActiveModel {
            id: Set(Uuid::new_v4()),
            source_id: Set(source.id),
            subject: Set(identity.subject.clone()),
            user_id: Set(user.id),
            email: Set(email.clone()),
            created_at: Set(now),
            last_sign_in_at: Set(now),
        }
        .insert(&txn)
        .await?;
        (user, created)
    };
    if !user.active {
        return Ok(Err(Refusal::Deactivated));
    }
    txn.commit().await?;
    Ok(Ok((user, created)))
}

/// A new user from a first sign-in: the source's default role and repository grants.
async fn provision<C: ConnectionTrait + TransactionTrait>(
    txn: &C,
    source: &auth_sources::Model,
    identity: &Identity,
    email: &str,
) -> Result<crate::db::entities::users::Model> {
    let actor = Actor {
        user_id: None,
        token_id: None,
        name: format!("sso:{}", source.name),
        address: None,
    };
    let user = users::create(
        txn,
        &actor,
        NewUser {
            email: email.to_owned(),
            display_name: identity.name.clone(),
            global_role: source.default_role.parse().unwrap_or(GlobalRole::User),
            password: None,
        },
    )
    .await?;
    let mut row: crate::db::entities::users::ActiveModel = user.into();
    row.auth_source_id = Set(Some(source.id));
    let user = row.update(txn).await?;
    for grant in grants_of(source) {
        let Ok(role) = grant.role.parse::<RepositoryRole>() else {
            continue;
        };
        // A repository deleted since the source was set up is passed over.
        let Some(repository) = repositories::Entity::find_by_id(grant.repository_id)
            .one(txn)
            .await?
        else {
            continue;
        };
        set_grant(txn, repository.id, Grantee::User(user.id), role).await?;
        audit::record(
            txn,
            &actor,
            "grant.given",
            Target {
                kind: "repository",
                id: Some(repository.id.to_string()),
                name: &repository.name,
            },
            json!({ "grantee": user.email, "grantee_type": "user", "role": role.as_str() }),
        )
        .await?;
    }
    Ok(user)
}
