//! In-memory caches whose entries are more than rows: rendered Composer p2 documents and
//! the answers kept for a protocol's repeated requests (see `state::ANSWER_TTL`).
//! The protocols fill and read them; the writers forget them through
//! `AppState`'s invalidation methods.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::HeaderValue;
use uuid::Uuid;

use crate::services::downloads::Downloader;

/// Rendered p2 documents, keyed by package, its last change, dev or not, and prefix: a change
/// to a package changes its `updated_at`, so stale entries are never read, on any replica.
pub type MetadataCache = moka::future::Cache<(Uuid, i64, bool, &'static str), (Bytes, String)>;

pub fn new_metadata_cache() -> MetadataCache {
    moka::future::Cache::builder()
        .max_capacity(64 * 1024 * 1024)
        .weigher(|_, (body, _): &(Bytes, String)| body.len().try_into().unwrap_or(u32::MAX))
        .build()
}

/// A p2 document as answered to a token or to nobody: kept briefly by the credentials and
/// path of the request (see `state::ANSWER_TTL`), so Composer's bursts of metadata
/// requests are answered without authenticating each one again. Changes through this
/// replica (uploads, deletes, grants, tokens) forget the answers at once.
pub struct MetadataAnswer {
    pub(crate) body: Bytes,
    pub(crate) etag: String,
    pub(crate) updated_at: DateTime<Utc>,
    /// When the token that asked expires.
    pub(crate) valid_until: Option<DateTime<Utc>>,
}

/// A manifest as answered to a GET or HEAD: kept briefly by the credentials, path and
/// `Accept` of the request (see `state::ANSWER_TTL`), so a busy client's next
/// request is answered without authenticating it again.
#[derive(Clone)]
pub struct ManifestAnswer {
    pub(crate) media_type: HeaderValue,
    pub(crate) digest: HeaderValue,
    pub(crate) etag: HeaderValue,
    pub(crate) size: u64,
    /// Empty for a HEAD (whose answer is not kept).
    pub(crate) body: Bytes,
    pub(crate) package_id: Uuid,
    /// Who asked (without an address: each request has its own).
    pub(crate) who: Downloader,
    /// When the token that asked expires.
    pub(crate) valid_until: Option<DateTime<Utc>>,
}
