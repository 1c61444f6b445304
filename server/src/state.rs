//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;

use crate::auth::throttle::LoginThrottle;
use crate::auth::token::TokenAuthenticator;
use crate::config::Config;
use crate::services::downloads::DownloadRecorder;
use crate::storage::BlobStore;

pub type SharedState = Arc<AppState>;

pub struct AppState {
    pub config: Config,
    pub db: DatabaseConnection,
    pub blobs: BlobStore,
    /// Absolute URL of this server without a trailing slash.
    pub base_url: String,
    pub secret_key: [u8; 32],
    pub login_throttle: LoginThrottle,
    /// The background loops and how often each had to be restarted.
    pub tasks: std::sync::Arc<crate::supervisor::Supervisor>,
    pub tokens: TokenAuthenticator,
    pub metrics: PrometheusHandle,
    pub downloads: DownloadRecorder,
    pub composer_cache: crate::cache::MetadataCache,
    /// Documents naming every package of a repository (see
    /// [`crate::services::catalog::DocumentCache`]).
    pub documents: crate::services::catalog::DocumentCache,
    /// Counts of searched lists (see [`crate::services::catalog::CountCache`]).
    pub search_counts: crate::services::catalog::CountCache,
    /// Users' grants for the protocol routes (see [`crate::services::access::GrantsCache`]).
    pub grants_cache: crate::services::access::GrantsCache,
    /// Repositories by name for the protocol routes, for [`crate::auth::token::CACHE_TTL`];
    /// GraphQL changes invalidate it at once on this replica.
    pub repository_cache:
        moka::future::Cache<String, Option<crate::db::entities::repositories::Model>>,
    /// Packages by (repository, name) for the protocol read paths, for [`HOT_TTL`]; writes
    /// through this replica invalidate it at once.
    pub package_cache:
        moka::future::Cache<(uuid::Uuid, String), Option<crate::db::entities::packages::Model>>,
    /// Container manifests by (image, tag or digest), as [`AppState::package_cache`].
    pub manifest_cache: moka::future::Cache<
        (uuid::Uuid, String),
        Option<crate::db::entities::oci_manifests::Model>,
    >,
    /// Manifest bytes by the SHA-256 of their blob: content-addressed, so never stale;
    /// bounded by [`MANIFEST_BYTES_CACHE`] bytes.
    pub manifest_bytes: moka::future::Cache<String, bytes::Bytes>,
    /// Manifest answers by the request that got them (see
    /// [`crate::cache::ManifestAnswer`]), for [`ANSWER_TTL`].
    pub manifest_answers: moka::future::Cache<String, std::sync::Arc<crate::cache::ManifestAnswer>>,
    /// Composer p2 answers by the request that got them (see
    /// [`crate::cache::MetadataAnswer`]), for [`ANSWER_TTL`].
    pub metadata_answers: moka::future::Cache<String, std::sync::Arc<crate::cache::MetadataAnswer>>,
    /// Talks to single sign-on providers (see [`crate::auth::sso::http_client`]).
    pub sso_http: reqwest::Client,
    /// Talks to Git hosts for imports (see [`crate::services::providers::http_client`]).
    pub import_http: reqwest::Client,
    /// Wakes this replica's job worker when it queues a job.
    pub jobs_wake: tokio::sync::Notify,
    /// Orders job claims on SQLite (see `jobs::claim`).
    pub jobs_claim: tokio::sync::Mutex<()>,
}

/// How many bytes of manifests a replica keeps in memory.
pub const MANIFEST_BYTES_CACHE: u64 = 64 * 1024 * 1024;

pub fn manifest_bytes_cache() -> moka::future::Cache<String, bytes::Bytes> {
    moka::future::Cache::builder()
        .weigher(|key: &String, value: &bytes::Bytes| {
            u32::try_from(key.len() + value.len()).unwrap_or(u32::MAX)
        })
        .max_capacity(MANIFEST_BYTES_CACHE)
        .build()
}

/// How long a manifest answer is given again to the same credentials for the same request
/// without a second look at who they are and what the image holds. Changes made through
/// this replica (pushes, deletes, grants, tokens) forget the answers at once.
pub const ANSWER_TTL: std::time::Duration = std::time::Duration::from_secs(1);

pub fn answer_cache<V: Clone + Send + Sync + 'static>() -> moka::future::Cache<String, V> {
    moka::future::Cache::builder()
        .max_capacity(10_000)
        .time_to_live(ANSWER_TTL)
        .build()
}

/// The longest package name a protocol read path looks up.
const MAX_PACKAGE_NAME: usize = 512;

/// How long another replica's write may take to show on a protocol read path.
pub const HOT_TTL: std::time::Duration = std::time::Duration::from_secs(2);

pub fn hot_cache<K, V>() -> moka::future::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::future::Cache::builder()
        .max_capacity(100_000)
        .time_to_live(HOT_TTL)
        .build()
}

impl AppState {
    /// The caller's access for a protocol route (grants cached briefly).
    pub async fn protocol_access(
        &self,
        principal: crate::auth::Principal,
    ) -> crate::error::Result<crate::services::access::Access> {
        crate::services::access::Access::load_cached(&self.db, &self.grants_cache, principal).await
    }

    /// A repository by name for a protocol route (cached briefly).
    pub async fn protocol_repository(
        &self,
        name: &str,
    ) -> crate::error::Result<Option<crate::db::entities::repositories::Model>> {
        // A name no repository can have is answered without a lookup, and never becomes a
        // cache key: callers cannot fill the cache with keys of any size.
        if !packistry_shared::names::is_valid_repository_name(name) {
            return Ok(None);
        }
        if let Some(found) = self.repository_cache.get(name).await {
            return Ok(found);
        }
        let found = crate::services::repositories::find_by_name(&self.db, name).await?;
        self.repository_cache
            .insert(name.to_owned(), found.clone())
            .await;
        Ok(found)
    }

    /// A package by repository and name for a protocol read path (cached briefly).
    pub async fn protocol_package(
        &self,
        repository_id: uuid::Uuid,
        name: &str,
    ) -> crate::error::Result<Option<crate::db::entities::packages::Model>> {
        // Longer than any stored name: no lookup, and no cache key of the caller's size.
        if name.len() > MAX_PACKAGE_NAME {
            return Ok(None);
        }
        let key = (repository_id, name.to_owned());
        if let Some(found) = self.package_cache.get(&key).await {
            return Ok(found);
        }
        let found = crate::services::packages::find(&self.db, repository_id, name).await?;
        self.package_cache.insert(key, found.clone()).await;
        Ok(found)
    }

    /// Forget cached packages and manifests after a write through this replica.
    pub fn forget_packages(&self) {
        self.package_cache.invalidate_all();
        self.manifest_cache.invalidate_all();
        self.manifest_answers.invalidate_all();
        self.metadata_answers.invalidate_all();
    }

    /// Forget cached repositories and grants after a change made through this replica.
    pub fn forget_access_caches(&self) {
        self.repository_cache.invalidate_all();
        self.grants_cache.invalidate_all();
        self.manifest_answers.invalidate_all();
        self.metadata_answers.invalidate_all();
    }

    /// Forget cached tokens (and what they were answered) after a token or user changed.
    pub fn forget_tokens(&self) {
        self.tokens.invalidate_all();
        self.manifest_answers.invalidate_all();
        self.metadata_answers.invalidate_all();
    }
}

impl AppState {
    /// Cookies get `Secure` when the server is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

/// The token a request carries, authenticated: `None` without an `Authorization` header;
/// otherwise the caller, or why the credentials were refused (unknown, expired, revoked,
/// deactivated owner, not a token). The one way every route learns who sends a token;
/// each protocol answers a refusal in its own wire format.
pub struct TokenAuth(pub Option<crate::error::Result<crate::auth::Principal>>);

impl axum::extract::FromRequestParts<crate::state::SharedState> for TokenAuth {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &crate::state::SharedState,
    ) -> Result<Self, Self::Rejection> {
        Ok(TokenAuth::from_headers(state, &parts.headers).await)
    }
}

impl TokenAuth {
    /// The token of a request's headers, authenticated (for handlers that look at a cache
    /// before they need to know who asks).
    pub async fn from_headers(
        state: &crate::state::SharedState,
        headers: &http::HeaderMap,
    ) -> Self {
        let Some(secret) = crate::auth::token::secret_from_headers(headers) else {
            return TokenAuth(None);
        };
        TokenAuth(Some(match secret {
            Ok(secret) => state.tokens.authenticate(&state.db, &secret).await,
            Err(err) => Err(err),
        }))
    }
}
