//! Docker token authentication for `/v2/`: the challenge, the `/v2/token` endpoint, and
//! the short-lived signed bearer tokens it issues.
//!
//! A bearer token names the Packistry token it was issued for (by its hash, never the
//! secret) or no one (anonymous). Every request re-derives the caller's permissions from
//! it, so a token "carries every action the caller is allowed" and a revocation takes
//! effect as fast as for Packistry tokens themselves. The `access` claim lists the actions
//! granted on the requested scopes at issue time, for clients that read it.

use base64::Engine;
use chrono::Utc;
use http::header::AUTHORIZATION;
use http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::{hash_secret, Principal};
use crate::error::{Error, Result};
use crate::services::tokens::{DEPLOY_PREFIX, PERSONAL_PREFIX};
use crate::state::SharedState;

/// How long an issued bearer token is valid.
pub const TOKEN_SECONDS: i64 = 300;
const ISSUER: &str = "packistry";

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    access: Vec<AccessEntry>,
    /// SHA-256 of the Packistry token the bearer token stands for; absent: anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pkh: Option<String>,
}

/// The `service` of challenges and tokens: the server's host.
pub fn service(state: &SharedState) -> String {
    state
        .base_url
        .split("://")
        .nth(1)
        .unwrap_or(&state.base_url)
        .to_owned()
}

fn signing_key(state: &SharedState) -> Vec<u8> {
    // A key of its own, derived from the secret key: OCI tokens cannot stand for sessions.
    let mut material = b"packistry oci token key:".to_vec();
    material.extend_from_slice(&state.secret_key);
    use sha2::Digest;
    sha2::Sha256::digest(&material).to_vec()
}

/// Issue a bearer token for a caller.
pub fn issue(
    state: &SharedState,
    subject: &str,
    token_hash: Option<String>,
    access: Vec<AccessEntry>,
) -> Result<(String, i64)> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        iss: ISSUER.into(),
        sub: subject.into(),
        aud: service(state),
        exp: now + TOKEN_SECONDS,
        nbf: now - 5,
        iat: now,
        jti: uuid::Uuid::new_v4().to_string(),
        access,
        pkh: token_hash,
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&signing_key(state)),
    )
    .map_err(Error::internal)?;
    Ok((token, now))
}

/// The caller of a `/v2/` request: a bearer token issued here, a Packistry token (Basic
/// with the token as password, or Bearer), or anonymous.
pub async fn caller(state: &SharedState, headers: &HeaderMap) -> Result<Principal> {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(Principal::Anonymous);
    };
    let value = value.trim();
    if let Some(token) = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.starts_with(PERSONAL_PREFIX) && !t.starts_with(DEPLOY_PREFIX))
    {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[service(state)]);
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(&signing_key(state)),
            &validation,
        )
        .map_err(|err| Error::unauthenticated(format!("invalid bearer token: {err}")))?
        .claims;
        return match claims.pkh {
            Some(hash) => state.tokens.authenticate_hash(&state.db, &hash).await,
            None => Ok(Principal::Anonymous),
        };
    }
    match crate::auth::token::secret_from_headers(headers) {
        None => Ok(Principal::Anonymous),
        Some(Ok(secret)) => state.tokens.authenticate(&state.db, &secret).await,
        Some(Err(err)) => Err(err),
    }
}

/// The Packistry token hash behind `/v2/token`'s Basic credentials, if any.
pub fn basic_token_hash(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let pair = String::from_utf8(decoded).ok()?;
    let (_, password) = pair.split_once(':')?;
    Some(hash_secret(password))
}
