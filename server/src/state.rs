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
}

impl AppState {
    /// Cookies get `Secure` when the server is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}
