//! Documents' bytes: judged by their content, sealed, and kept content-addressed in a blob
//! store, durable before anyone is told they are saved.
//!
//! - **Type by content.** A file is a PDF, JPEG or PNG if its first bytes say so (`infer`);
//!   its name and the browser's claimed type are ignored.
//! - **Sealed.** Scans of identity cards are personal data: the stored bytes are sealed with
//!   the data keys (context `document`), as the sealed columns are.
//! - **Content-addressed.** A blob's name is the SHA-256 of the plain bytes, so the same file
//!   uploaded twice is stored once, and a name says nothing about its owner.
//! - **Durable.** On the local disk a blob is written to a temporary file, flushed to the disk
//!   (`fsync`), renamed into place and its directory flushed, before `put` returns. In an
//!   S3-compatible bucket (`object_store`), `put` returns once the PUT is acknowledged, which
//!   S3 gives only for a stored object. The database row naming a blob is written after that.
//!   A crash in between leaves a blob no row names: `sweep_orphans` removes those.
//!
//! The local disk keeps its own writing code: `object_store`'s local backend renames into
//! place without flushing the file or its directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};

use crate::domain::form::DocumentType;
use crate::privacy::DataKeys;

const SEAL_CONTEXT: &str = "document";

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("blob store: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    #[error("documents_url must be s3://BUCKET or s3://BUCKET/PREFIX")]
    Url,
    #[error("blob {0} is missing")]
    Missing(String),
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
}

impl DocumentError {
    /// The store could not be reached or answered with an error (a bucket's outage): worth a
    /// 503 and a retry, unlike a missing blob or a disk that refuses.
    pub fn is_outage(&self) -> bool {
        // Refused credentials or permissions are a configuration fault, not an outage.
        matches!(
            self,
            DocumentError::ObjectStore(e) if !matches!(
                e,
                object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
            )
        )
    }
}

/// The type of a file judged by its first bytes, if it is one a form can accept.
pub fn sniff(bytes: &[u8]) -> Option<DocumentType> {
    match infer::get(bytes)?.mime_type() {
        "application/pdf" => Some(DocumentType::Pdf),
        "image/jpeg" => Some(DocumentType::Jpeg),
        "image/png" => Some(DocumentType::Png),
        _ => None,
    }
}

pub fn content_type(kind: DocumentType) -> &'static str {
    match kind {
        DocumentType::Pdf => "application/pdf",
        DocumentType::Jpeg => "image/jpeg",
        DocumentType::Png => "image/png",
    }
}

/// The content address of plain bytes.
pub fn address(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn is_address(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Sealed blobs named `ab/abcdef…` (the first two hex digits make a directory, so no directory
/// holds more than a few thousand files): under a directory of the local disk, or under a
/// prefix of an S3-compatible bucket that several nodes share.
#[derive(Debug, Clone)]
pub struct BlobStore {
    backend: Backend,
}

#[derive(Debug, Clone)]
enum Backend {
    Disk(PathBuf),
    Bucket {
        store: Arc<dyn ObjectStore>,
        /// Without slashes at either end; empty for the bucket's root.
        prefix: String,
    },
}

impl BlobStore {
    pub fn local(root: impl Into<PathBuf>) -> BlobStore {
        BlobStore {
            backend: Backend::Disk(root.into()),
        }
    }

    /// A store of its own under the system's temporary directory (tests and benchmarks).
    pub fn in_temp_dir() -> BlobStore {
        BlobStore::local(std::env::temp_dir().join(format!("mpp-blobs-{}", uuid::Uuid::new_v4())))
    }

    /// The bucket and prefix of `url` (`s3://BUCKET/PREFIX`), reached with the credentials,
    /// region and endpoint of the standard `AWS_*` environment variables.
    pub fn s3(url: &str) -> Result<BlobStore, DocumentError> {
        BlobStore::s3_with(url, AmazonS3Builder::from_env())
    }

    /// The bucket and prefix of `url` reached with `builder`'s settings (tests give an endpoint
    /// and credentials here rather than in the process's environment).
    pub fn s3_with(url: &str, builder: AmazonS3Builder) -> Result<BlobStore, DocumentError> {
        let (bucket, prefix) = parse_s3_url(url).ok_or(DocumentError::Url)?;
        // A few quick retries: long enough for a blip, short enough that a citizen's upload
        // or a node's start fails within seconds when the bucket is really unreachable.
        let retry = object_store::RetryConfig {
            max_retries: 4,
            retry_timeout: Duration::from_secs(20),
            ..object_store::RetryConfig::default()
        };
        let store = builder.with_bucket_name(bucket).with_retry(retry).build()?;
        Ok(BlobStore::in_object_store(Arc::new(store), prefix))
    }

    /// Blobs under `prefix` of any object store (tests use the in-memory one).
    pub fn in_object_store(store: Arc<dyn ObjectStore>, prefix: &str) -> BlobStore {
        BlobStore {
            backend: Backend::Bucket {
                store,
                prefix: prefix.trim_matches('/').to_owned(),
            },
        }
    }

    /// Checks that the store can be reached, written, read and listed (a node refuses to start
    /// otherwise): the directory is created; in the bucket a probe object is written, read back
    /// and removed, and the prefix is listed (as the orphan sweep does).
    pub async fn check(&self) -> Result<(), DocumentError> {
        match &self.backend {
            Backend::Disk(root) => Ok(tokio::fs::create_dir_all(root).await?),
            Backend::Bucket { store, prefix } => {
                let base = object_store::path::Path::from(prefix.as_str());
                let probe = base
                    .clone()
                    .join(format!(".probe-{}", uuid::Uuid::new_v4().as_simple()));
                store.put(&probe, b"mpp".to_vec().into()).await?;
                let read = store.get(&probe).await?.bytes().await?;
                store.delete(&probe).await?;
                if read.as_ref() != b"mpp" {
                    return Err(DocumentError::Missing(probe.to_string()));
                }
                store.list_with_delimiter(Some(&base)).await?;
                Ok(())
            }
        }
    }

    /// Seals and stores `bytes`; returns their address once they are durably stored.
    pub async fn put(&self, keys: &DataKeys, bytes: &[u8]) -> Result<String, DocumentError> {
        let address = address(bytes);
        let sealed = keys.seal(SEAL_CONTEXT, bytes)?;
        match &self.backend {
            Backend::Disk(root) => {
                let path = disk_path(root, &address)
                    .ok_or_else(|| DocumentError::Missing(address.clone()))?;
                tokio::task::spawn_blocking(move || write_durably(&path, &sealed))
                    .await
                    .map_err(std::io::Error::other)??;
            }
            Backend::Bucket { store, prefix } => {
                let key = object_key(prefix, &address)
                    .ok_or_else(|| DocumentError::Missing(address.clone()))?;
                store.put(&key, sealed.into()).await?;
            }
        }
        Ok(address)
    }

    /// The plain bytes stored at `address`.
    pub async fn get(&self, keys: &DataKeys, address: &str) -> Result<Vec<u8>, DocumentError> {
        let missing = || DocumentError::Missing(address.to_owned());
        let sealed = match &self.backend {
            Backend::Disk(root) => {
                let path = disk_path(root, address).ok_or_else(missing)?;
                match tokio::fs::read(&path).await {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
                    Err(e) => return Err(e.into()),
                }
            }
            Backend::Bucket { store, prefix } => {
                let key = object_key(prefix, address).ok_or_else(missing)?;
                let found = match store.get(&key).await {
                    Ok(found) => found,
                    Err(object_store::Error::NotFound { .. }) => return Err(missing()),
                    Err(e) => return Err(e.into()),
                };
                found.bytes().await?.to_vec()
            }
        };
        Ok(keys.open(SEAL_CONTEXT, &sealed)?)
    }

    /// Addresses of blobs older than `age`, for the orphan sweep to compare with the rows. On
    /// the disk, temporary files that old (writes a crash cut short) are removed on the way.
    pub async fn older_than(&self, age: Duration) -> Result<Vec<String>, DocumentError> {
        match &self.backend {
            Backend::Disk(root) => {
                let root = root.clone();
                let found = tokio::task::spawn_blocking(move || disk_older_than(&root, age))
                    .await
                    .map_err(std::io::Error::other)??;
                Ok(found)
            }
            Backend::Bucket { store, prefix } => {
                // The bucket's clock dates the objects; a node's clock a few seconds off is
                // nothing against the sweep's hour.
                let cutoff = chrono::Utc::now() - age;
                let prefix = object_store::path::Path::from(prefix.as_str());
                let mut listed = store.list(Some(&prefix));
                let mut out = Vec::new();
                while let Some(meta) = listed.try_next().await? {
                    if meta.last_modified < cutoff
                        && let Some(name) = meta.location.filename()
                        && is_address(name)
                    {
                        out.push(name.to_owned());
                    }
                }
                Ok(out)
            }
        }
    }

    /// When the blob at `address` was last written (none when it is not there). The same
    /// bytes uploaded again rewrite it, so a blob in use again looks new.
    pub async fn modified(&self, address: &str) -> Result<Option<SystemTime>, DocumentError> {
        match &self.backend {
            Backend::Disk(root) => {
                let Some(path) = disk_path(root, address) else {
                    return Ok(None);
                };
                match tokio::fs::metadata(path).await {
                    Ok(m) => Ok(Some(m.modified()?)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
            Backend::Bucket { store, prefix } => {
                let Some(key) = object_key(prefix, address) else {
                    return Ok(None);
                };
                match store.head(&key).await {
                    Ok(meta) => Ok(Some(SystemTime::from(meta.last_modified))),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    pub async fn remove(&self, address: &str) -> Result<(), DocumentError> {
        match &self.backend {
            Backend::Disk(root) => {
                if let Some(path) = disk_path(root, address) {
                    match tokio::fs::remove_file(path).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Backend::Bucket { store, prefix } => {
                if let Some(key) = object_key(prefix, address) {
                    match store.delete(&key).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }
}

/// `s3://bucket/some/prefix/` → `("bucket", "some/prefix")`.
fn parse_s3_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    valid.then_some((bucket, prefix.trim_matches('/')))
}

fn disk_path(root: &Path, address: &str) -> Option<PathBuf> {
    is_address(address).then(|| root.join(&address[..2]).join(address))
}

fn object_key(prefix: &str, address: &str) -> Option<object_store::path::Path> {
    is_address(address).then(|| {
        let key = if prefix.is_empty() {
            format!("{}/{address}", &address[..2])
        } else {
            format!("{prefix}/{}/{address}", &address[..2])
        };
        object_store::path::Path::from(key)
    })
}

fn disk_older_than(root: &Path, age: Duration) -> std::io::Result<Vec<String>> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(root) else {
        return Ok(out);
    };
    let cutoff = SystemTime::now() - age;
    for dir in dirs {
        let dir = dir?;
        if !dir.file_type()?.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir.path())? {
            let file = file?;
            let name = file.file_name().to_string_lossy().into_owned();
            if file.metadata()?.modified()? >= cutoff {
                continue;
            }
            if name.len() == 64 {
                out.push(name);
            } else if name.starts_with(".tmp-") {
                // A write a crash interrupted: never named by anything.
                std::fs::remove_file(file.path())?;
            }
        }
    }
    Ok(out)
}

/// Removes blobs that no document row names and that are older than `age` (a crash between
/// storing the bytes and recording them, or an upload refused after storing). Returns how many.
pub async fn sweep_orphans(
    db: &crate::storage::Db,
    blobs: &BlobStore,
    age: Duration,
) -> Result<usize, DocumentError> {
    let mut removed = 0;
    for address in blobs.older_than(age).await? {
        match crate::storage::applications::blob_in_use(db, &address).await {
            Ok(false) => {}
            Ok(true) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "orphan sweep: cannot read the documents");
                continue;
            }
        }
        // Listing a large store takes a while: the same bytes may have been uploaded again
        // since (rewriting the blob, its row not yet written). Only a blob still old goes.
        let cutoff = SystemTime::now() - age;
        match blobs.modified(&address).await {
            Ok(Some(at)) if at < cutoff => {}
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "orphan sweep: cannot read a blob's age");
                continue;
            }
        }
        match blobs.remove(&address).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(error = %e, "orphan sweep: cannot remove a blob"),
        }
    }
    Ok(removed)
}

/// Sweeps orphans older than an hour, and resumable uploads left unfinished past their expiry,
/// every hour.
pub async fn sweep_orphans_forever(db: crate::storage::Db, blobs: BlobStore) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match crate::storage::uploads::sweep_expired(&db, chrono::Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed expired unfinished uploads"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired uploads failed"),
        }
        match sweep_orphans(&db, &blobs, Duration::from_secs(3600)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "removed orphaned document blobs"),
            Err(e) => tracing::warn!(error = %e, "orphan sweep failed"),
        }
    }
}

/// Writes `bytes` at `path` so that after a crash the file is either whole or absent.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().as_simple()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, b'I', b'H', b'D', b'R',
    ];

    #[test]
    fn the_type_is_judged_by_content_not_name() {
        assert_eq!(
            sniff(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
            Some(DocumentType::Pdf)
        );
        assert_eq!(sniff(PNG), Some(DocumentType::Png));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F']),
            Some(DocumentType::Jpeg)
        );
        assert_eq!(sniff(b"MZ\x90\x00 an executable"), None);
        assert_eq!(sniff(b"<html>not a pdf</html>"), None);
        assert_eq!(sniff(b""), None);
    }

    fn keys() -> DataKeys {
        DataKeys::parse(
            &format!("k1:{}", DataKeys::generate_key().expect("key")),
            &DataKeys::generate_key().expect("key"),
        )
        .expect("keys")
    }

    #[tokio::test]
    async fn blobs_are_sealed_on_disk_and_found_by_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::local(dir.path());
        let keys = keys();
        let plain = b"%PDF-1.4 a scan of a family card";
        let at = store.put(&keys, plain).await.expect("put");
        assert_eq!(at, address(plain));
        let on_disk = std::fs::read(dir.path().join(&at[..2]).join(&at)).expect("file");
        assert!(
            !on_disk.windows(10).any(|w| w == &plain[..10]),
            "the bytes on disk are sealed"
        );
        assert_eq!(store.get(&keys, &at).await.expect("get"), plain);
        assert_eq!(
            store.put(&keys, plain).await.expect("again"),
            at,
            "one address"
        );
        assert!(matches!(
            store.get(&keys, "../../etc/passwd").await,
            Err(DocumentError::Missing(_))
        ));
        assert_eq!(
            store.older_than(Duration::ZERO).await.expect("list"),
            vec![at.clone()]
        );
        store.remove(&at).await.expect("remove");
        assert!(matches!(
            store.get(&keys, &at).await,
            Err(DocumentError::Missing(_))
        ));
    }

    #[tokio::test]
    async fn blobs_in_a_bucket_live_under_the_prefix() {
        let memory = Arc::new(object_store::memory::InMemory::new());
        let store = BlobStore::in_object_store(memory.clone(), "/mpp/documents/");
        store.check().await.expect("reachable");
        let keys = keys();
        let plain = b"%PDF-1.4 a scan of a family card";
        let at = store.put(&keys, plain).await.expect("put");
        let key = object_store::path::Path::from(format!("mpp/documents/{}/{at}", &at[..2]));
        let stored = memory.get(&key).await.expect("object").bytes().await;
        assert!(
            !stored
                .expect("bytes")
                .windows(10)
                .any(|w| w == &plain[..10]),
            "the object is sealed"
        );
        assert_eq!(store.get(&keys, &at).await.expect("get"), plain);
        assert!(matches!(
            store.get(&keys, &"0".repeat(64)).await,
            Err(DocumentError::Missing(_))
        ));
        assert_eq!(
            store
                .older_than(Duration::from_secs(3600))
                .await
                .expect("list"),
            Vec::<String>::new()
        );
        assert_eq!(
            store.older_than(Duration::ZERO).await.expect("list"),
            vec![at.clone()]
        );
        store.remove(&at).await.expect("remove");
        store.remove(&at).await.expect("removing twice is no error");
        assert!(matches!(
            store.get(&keys, &at).await,
            Err(DocumentError::Missing(_))
        ));
    }

    #[test]
    fn a_documents_url_names_a_bucket_and_a_prefix() {
        assert_eq!(parse_s3_url("s3://mpp-docs"), Some(("mpp-docs", "")));
        assert_eq!(
            parse_s3_url("s3://mpp-docs/batu/documents/"),
            Some(("mpp-docs", "batu/documents"))
        );
        assert_eq!(parse_s3_url("https://mpp-docs/x"), None);
        assert_eq!(parse_s3_url("s3://key:secret@bucket/x"), None);
        assert_eq!(parse_s3_url("s3:///x"), None);
    }
}
