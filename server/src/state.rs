//! What every request handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;

use crate::auth::throttle::LoginThrottle;
use crate::auth::token::TokenAuthenticator;
use crate::config::Config;
use crate::graphql::PackistrySchema;
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
    pub tokens: TokenAuthenticator,
    pub metrics: PrometheusHandle,
    pub schema: PackistrySchema,
    pub downloads: DownloadRecorder,
    pub composer_cache: crate::protocols::composer::MetadataCache,
    /// Users' grants for the protocol routes (see [`crate::services::access::GrantsCache`]).
    pub grants_cache: crate::services::access::GrantsCache,
    /// Repositories by name for the protocol routes, for [`crate::auth::token::CACHE_TTL`];
    /// GraphQL changes invalidate it at once on this replica.
    pub repository_cache:
        moka::future::Cache<String, Option<crate::db::entities::repositories::Model>>,
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
        if let Some(found) = self.repository_cache.get(name).await {
            return Ok(found);
        }
        let found = crate::services::repositories::find_by_name(&self.db, name).await?;
        self.repository_cache
            .insert(name.to_owned(), found.clone())
            .await;
        Ok(found)
    }

    /// Forget cached repositories and grants after a change made through this replica.
    pub fn forget_access_caches(&self) {
        self.repository_cache.invalidate_all();
        self.grants_cache.invalidate_all();
    }
}

impl AppState {
    /// Cookies get `Secure` when the server is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}
