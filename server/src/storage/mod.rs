//! The blob store: content-addressed by SHA-256, on local files under the data dir by default,
//! or on S3-compatible storage.
//!
//! Writing a blob never exposes a partial object: the bytes go to a staging file in
//! `{data dir}/tmp` while they are hashed, the caller verifies what it received, and only
//! then is the blob committed under its digest (a rename on the local store, one multipart
//! upload on S3). A crash mid-upload leaves at most a staging file, removed at next start.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::{ConfigError, StorageUrl};

/// Staging files are written in pieces of this size to S3.
const S3_PART_SIZE: usize = 8 * 1024 * 1024;
/// Read buffer when serving local blobs.
const READ_CHUNK: usize = 1024 * 1024;
/// While an upload arrives, its staging file is synced in the background every this many
/// bytes.
const SYNC_AHEAD: u64 = 4 * 1024 * 1024;

#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Set for the local store: blobs are plain files under this directory.
    local_root: Option<PathBuf>,
    staging_dir: PathBuf,
    description: String,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobStore")
            .field("location", &self.description)
            .finish()
    }
}

/// Where a blob with this SHA-256 lives inside the store.
pub fn blob_path(sha256_hex: &str) -> String {
    format!("sha256/{}/{sha256_hex}", &sha256_hex[..2])
}

impl BlobStore {
    pub fn open(url: &StorageUrl, data_dir: &Path) -> Result<BlobStore, ConfigError> {
        let fail = |message: String| ConfigError::new("PACKISTRY_STORAGE_URL", message);
        let staging_dir = data_dir.join("tmp");
        std::fs::create_dir_all(&staging_dir).map_err(|err| {
            ConfigError::new(
                "PACKISTRY_DATA_DIR",
                format!("cannot create {}: {err}", staging_dir.display()),
            )
        })?;
        // Staging files left by a crash are incomplete by definition.
        if let Ok(entries) = std::fs::read_dir(&staging_dir) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        match url {
            StorageUrl::Local(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|err| fail(format!("cannot create {}: {err}", dir.display())))?;
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|err| fail(format!("cannot use {}: {err}", dir.display())))?;
                Ok(BlobStore {
                    store: Arc::new(store),
                    local_root: Some(dir.clone()),
                    staging_dir,
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
                    local_root: None,
                    staging_dir,
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

    /// A new staging file that refuses to grow past `limit` bytes.
    pub async fn stage(&self, limit: u64) -> std::io::Result<Staging> {
        self.stage_hashing(limit, Hashes::All).await
    }

    /// A staging file computing only the digests a protocol needs (hashing is most of the
    /// cost of receiving a large upload).
    pub async fn stage_hashing(&self, limit: u64, hashes: Hashes) -> std::io::Result<Staging> {
        let path = self
            .staging_dir
            .join(format!("upload-{}", uuid::Uuid::new_v4()));
        let file = tokio::fs::File::create(&path).await?;
        let all = hashes == Hashes::All;
        Ok(Staging {
            file: Some(tokio::io::BufWriter::with_capacity(256 * 1024, file)),
            guard: StagingGuard(path),
            synced_to: 0,
            syncing: None,
            sha256: (hashes != Hashes::None).then(Sha256::new),
            sha1: all.then(Sha1::new),
            md5: all.then(md5::Md5::new),
            sha512: (all || hashes == Hashes::Sha256AndSha512).then(Sha512::new),
            size: 0,
            limit,
        })
    }

    /// Make a verified staged file a blob. Content-addressed: committing bytes that are
    /// already stored changes nothing.
    pub async fn commit(&self, staged: &Staged) -> anyhow::Result<()> {
        self.commit_as(staged, &blob_path(&staged.sha256)).await
    }

    /// Store a staged file under a key (blobs, and the parts of resumable uploads). An object
    /// already there with the same size is kept (content-addressed keys hold the same bytes);
    /// one of another size is never trusted: it is replaced, atomically.
    pub async fn commit_as(&self, staged: &Staged, key: &str) -> anyhow::Result<()> {
        let key = key.to_owned();
        let existing = self.size_of(&key).await?;
        if existing == Some(staged.size) {
            return Ok(());
        }
        if let Some(size) = existing {
            tracing::warn!(
                key,
                stored = size,
                expected = staged.size,
                "a stored object has the wrong size; replacing it with verified bytes"
            );
        }
        match &self.local_root {
            Some(root) => {
                let target = root.join(&key);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                // A hard link beside the target keeps the staging file for the caller; the
                // rename over the target is atomic (never a partial file under its name).
                let partial = target.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
                if tokio::fs::hard_link(staged.path(), &partial).await.is_err() {
                    // Another filesystem: copy beside the target instead.
                    tokio::fs::copy(staged.path(), &partial).await?;
                }
                if let Err(err) = tokio::fs::rename(&partial, &target).await {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(err.into());
                }
                Ok(())
            }
            None => {
                let path = ObjectPath::from(key);
                let upload = self.store.put_multipart(&path).await?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, S3_PART_SIZE);
                let mut file = tokio::fs::File::open(staged.path()).await?;
                let mut buffer = vec![0u8; S3_PART_SIZE];
                loop {
                    let read = file.read(&mut buffer).await?;
                    if read == 0 {
                        break;
                    }
                    writer.wait_for_capacity(4).await?;
                    writer.write(&buffer[..read]);
                }
                writer.finish().await?;
                Ok(())
            }
        }
    }

    /// The bytes of a blob, streamed.
    pub async fn read(
        &self,
        sha256_hex: &str,
    ) -> anyhow::Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let key = blob_path(sha256_hex);
        match &self.local_root {
            Some(root) => {
                let file = tokio::fs::File::open(root.join(key)).await?;
                Ok(tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK).boxed())
            }
            None => {
                let result = self.store.get(&ObjectPath::from(key)).await?;
                Ok(result
                    .into_stream()
                    .map(|chunk| chunk.map_err(std::io::Error::other))
                    .boxed())
            }
        }
    }

    /// The bytes of any object by key, streamed (upload parts).
    pub async fn read_key(
        &self,
        key: &str,
    ) -> anyhow::Result<BoxStream<'static, std::io::Result<Bytes>>> {
        match &self.local_root {
            Some(root) => {
                let file = tokio::fs::File::open(root.join(key)).await?;
                Ok(tokio_util::io::ReaderStream::with_capacity(file, READ_CHUNK).boxed())
            }
            None => {
                let result = self.store.get(&ObjectPath::from(key)).await?;
                Ok(result
                    .into_stream()
                    .map(|chunk| chunk.map_err(std::io::Error::other))
                    .boxed())
            }
        }
    }

    /// `length` bytes of a blob from `start`, streamed (HTTP range requests).
    pub async fn read_range(
        &self,
        sha256_hex: &str,
        start: u64,
        length: u64,
    ) -> anyhow::Result<BoxStream<'static, std::io::Result<Bytes>>> {
        let key = blob_path(sha256_hex);
        match &self.local_root {
            Some(root) => {
                use tokio::io::AsyncSeekExt;
                let mut file = tokio::fs::File::open(root.join(key)).await?;
                file.seek(std::io::SeekFrom::Start(start)).await?;
                Ok(
                    tokio_util::io::ReaderStream::with_capacity(file.take(length), READ_CHUNK)
                        .boxed(),
                )
            }
            None => {
                let range = start..start + length;
                let bytes = self.store.get_range(&ObjectPath::from(key), range).await?;
                Ok(futures_util::stream::once(async move { Ok(bytes) }).boxed())
            }
        }
    }

    /// Make a stored object (a verified upload part) the blob `sha256_hex` without reading it:
    /// a hard link on local storage, a server-side copy on S3. Content-addressed: a blob
    /// already there is kept.
    ///
    /// `size` is what was hashed to `sha256_hex` when the object was written: the object
    /// must still have that size, and a blob already stored under the digest with another
    /// size is replaced, never trusted.
    pub async fn promote(&self, key: &str, sha256_hex: &str, size: u64) -> anyhow::Result<()> {
        let target_key = blob_path(sha256_hex);
        let source = self.size_of(key).await?;
        if source != Some(size) {
            anyhow::bail!("{key} holds {source:?} bytes, not the {size} that were hashed");
        }
        if self.size_of(&target_key).await? == Some(size) {
            return Ok(());
        }
        match &self.local_root {
            Some(root) => {
                let target = root.join(&target_key);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await?;
                }
                let partial = target.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
                tokio::fs::hard_link(root.join(key), &partial).await?;
                if let Err(err) = tokio::fs::rename(&partial, &target).await {
                    let _ = tokio::fs::remove_file(&partial).await;
                    return Err(err.into());
                }
                Ok(())
            }
            None => {
                self.store
                    .copy(&ObjectPath::from(key), &ObjectPath::from(target_key))
                    .await?;
                Ok(())
            }
        }
    }

    /// The size of the object under `key`; `None` when there is none.
    async fn size_of(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match &self.local_root {
            Some(root) => match tokio::fs::metadata(root.join(key)).await {
                Ok(meta) => Ok(Some(meta.len())),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(err) => Err(err.into()),
            },
            None => match self.store.head(&ObjectPath::from(key)).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(err.into()),
            },
        }
    }

    /// Remove objects under a prefix (an abandoned or finished upload's parts).
    pub async fn delete_prefix(&self, prefix: &str) -> anyhow::Result<()> {
        match &self.local_root {
            Some(root) => match tokio::fs::remove_dir_all(root.join(prefix)).await {
                Ok(()) => Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(err.into()),
            },
            None => {
                let prefix = ObjectPath::from(prefix);
                let mut listing = self.store.list(Some(&prefix));
                while let Some(meta) = listing.next().await {
                    self.store.delete(&meta?.location).await?;
                }
                Ok(())
            }
        }
    }

    /// Move a blob out of the way under a key of its own (garbage collection, before it
    /// knows whether to remove it or to put it back); `None` when there is no such blob.
    pub async fn set_aside(&self, sha256_hex: &str) -> anyhow::Result<Option<String>> {
        let aside = format!("trash/{sha256_hex}-{}", uuid::Uuid::new_v4().simple());
        match self
            .store
            .rename(
                &ObjectPath::from(blob_path(sha256_hex)),
                &ObjectPath::from(aside.as_str()),
            )
            .await
        {
            Ok(()) => Ok(Some(aside)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The blobs set aside and not yet put back or removed (a collection was interrupted),
    /// as (key, digest).
    pub async fn set_aside_keys(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut found = Vec::new();
        let prefix = ObjectPath::from("trash");
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            let key = meta?.location.to_string();
            let digest = key
                .strip_prefix("trash/")
                .and_then(|name| name.split_once('-'))
                .map(|(digest, _)| digest.to_owned());
            if let Some(digest) = digest {
                found.push((key, digest));
            }
        }
        Ok(found)
    }

    /// Put a blob set aside back under its digest (identical bytes may already be there).
    pub async fn put_back(&self, aside: &str, sha256_hex: &str) -> anyhow::Result<()> {
        self.store
            .rename(
                &ObjectPath::from(aside),
                &ObjectPath::from(blob_path(sha256_hex)),
            )
            .await?;
        // A rename between two links of one file does nothing (the bytes committed again
        // were linked from the same staging file): the key set aside may still be there.
        self.delete_key(aside).await
    }

    /// Every stored object under `prefix` older than `before`, as (key, size); streamed, a
    /// page at a time, never the whole store in memory.
    pub fn older_than(
        &self,
        prefix: &str,
        before: chrono::DateTime<chrono::Utc>,
    ) -> BoxStream<'_, anyhow::Result<(String, u64)>> {
        let prefix = ObjectPath::from(prefix);
        self.store
            .list(Some(&prefix))
            .filter_map(move |meta| async move {
                match meta {
                    Ok(meta) if meta.last_modified < before => {
                        Some(Ok((meta.location.to_string(), meta.size)))
                    }
                    Ok(_) => None,
                    Err(err) => Some(Err(err.into())),
                }
            })
            .boxed()
    }

    /// Remove an object by key.
    pub async fn delete_key(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }
}

/// Which digests a staging file computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashes {
    /// SHA-256, SHA-1, MD5 and SHA-512 (Maven serves them all; Composer needs SHA-1).
    All,
    Sha256,
    Sha256AndSha512,
    /// None: a part of a larger upload, hashed when assembled.
    None,
}

/// Removes its staging file when dropped, whatever happened.
#[derive(Debug)]
struct StagingGuard(PathBuf);

impl Drop for StagingGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Why bytes could not be staged.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the upload is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Bytes being received: written to a staging file and hashed as they arrive.
pub struct Staging {
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
    guard: StagingGuard,
    /// Bytes already handed to a background `fdatasync` (see [`SYNC_AHEAD`]).
    synced_to: u64,
    syncing: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    sha256: Option<Sha256>,
    sha1: Option<Sha1>,
    md5: Option<md5::Md5>,
    sha512: Option<Sha512>,
    size: u64,
    limit: u64,
}

impl Staging {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), StageError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(StageError::TooLarge(self.limit));
        }
        if let Some(h) = self.sha256.as_mut() {
            h.update(chunk);
        }
        if let Some(h) = self.sha1.as_mut() {
            h.update(chunk);
        }
        if let Some(h) = self.md5.as_mut() {
            h.update(chunk);
        }
        if let Some(h) = self.sha512.as_mut() {
            h.update(chunk);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(chunk).await?;
            // Start writing back what has arrived while the rest is still coming, so the
            // sync that makes the upload durable at the end has little left to wait for.
            let idle = self.syncing.as_ref().is_none_or(|s| s.is_finished());
            if self.size - self.synced_to >= SYNC_AHEAD && idle {
                if let Some(previous) = self.syncing.take() {
                    previous.await.map_err(std::io::Error::other)??;
                }
                file.flush().await?;
                let handle = file.get_ref().try_clone().await?.into_std().await;
                self.syncing = Some(tokio::task::spawn_blocking(move || handle.sync_data()));
                self.synced_to = self.size;
            }
        }
        Ok(())
    }

    pub async fn finish(mut self) -> std::io::Result<Staged> {
        if let Some(syncing) = self.syncing.take() {
            syncing.await.map_err(std::io::Error::other)??;
        }
        if let Some(mut file) = self.file.take() {
            file.flush().await?;
            file.into_inner().sync_all().await?;
        }
        Ok(Staged {
            sha256: self
                .sha256
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
            sha1: self
                .sha1
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
            md5: self
                .md5
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
            sha512: self
                .sha512
                .map(|h| hex::encode(h.finalize()))
                .unwrap_or_default(),
            size: self.size,
            guard: self.guard,
        })
    }
}

/// A complete staging file with its digests (empty when not computed); removed when dropped
/// (after commit, the blob lives on under its digest).
#[derive(Debug)]
pub struct Staged {
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
    pub sha512: String,
    pub size: u64,
    guard: StagingGuard,
}

impl Staged {
    pub fn path(&self) -> &Path {
        &self.guard.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_set_aside_goes_back_or_goes() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            BlobStore::open(&StorageUrl::Local(dir.path().join("blobs")), dir.path()).unwrap();
        let mut staging = store.stage(1024).await.unwrap();
        staging.write(b"some bytes").await.unwrap();
        let staged = staging.finish().await.unwrap();
        store.commit(&staged).await.unwrap();
        let digest = staged.sha256.clone();
        let read = |store: BlobStore, digest: String| async move {
            let mut bytes = Vec::new();
            let mut stream = store.read(&digest).await?;
            while let Some(chunk) = stream.next().await {
                bytes.extend_from_slice(&chunk?);
            }
            anyhow::Ok(bytes)
        };

        let aside = store.set_aside(&digest).await.unwrap().expect("the blob");
        assert!(read(store.clone(), digest.clone()).await.is_err());
        assert_eq!(
            store.set_aside_keys().await.unwrap(),
            [(aside.clone(), digest.clone())]
        );
        // Identical bytes committed meanwhile do not stop it going back.
        store.commit(&staged).await.unwrap();
        store.put_back(&aside, &digest).await.unwrap();
        assert_eq!(
            read(store.clone(), digest.clone()).await.unwrap(),
            b"some bytes"
        );
        let left = store.set_aside_keys().await.unwrap();
        assert!(left.is_empty(), "{left:?}");

        let aside = store.set_aside(&digest).await.unwrap().expect("the blob");
        store.delete_key(&aside).await.unwrap();
        assert!(read(store.clone(), digest.clone()).await.is_err());
        assert!(store.set_aside_keys().await.unwrap().is_empty());
        assert_eq!(store.set_aside(&digest).await.unwrap(), None);
    }
}
