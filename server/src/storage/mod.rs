//! The blob store: local files under the data dir by default, or S3-compatible storage.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload};

use crate::config::{ConfigError, StorageUrl};

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    description: String,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("location", &self.description)
            .finish()
    }
}

impl BlobStore {
    pub fn open(url: &StorageUrl) -> Result<BlobStore, ConfigError> {
        let fail = |message: String| ConfigError::new("PACKISTRY_STORAGE_URL", message);
        match url {
            StorageUrl::Local(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|err| fail(format!("cannot create {}: {err}", dir.display())))?;
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|err| fail(format!("cannot use {}: {err}", dir.display())))?;
                Ok(BlobStore {
                    store: Arc::new(store),
                    description: dir.display().to_string(),
                })
            }
            StorageUrl::S3 { url } => {
                let rest = url.trim_start_matches("s3://");
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let store = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|err| fail(format!("cannot use {url}: {err}")))?;
                let store: Arc<dyn ObjectStore> = match prefix.trim_matches('/') {
                    "" => Arc::new(store),
                    prefix => Arc::new(PrefixStore::new(store, prefix)),
                };
                Ok(BlobStore {
                    store,
                    description: url.clone(),
                })
            }
        }
    }

    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Readiness: a small object can be written and read back.
    pub async fn probe(&self) -> Result<(), object_store::Error> {
        let path = ObjectPath::from(".packistry-ready");
        self.store
            .put(&path, PutPayload::from_static(b"ok"))
            .await?;
        self.store.head(&path).await?;
        Ok(())
    }
}
