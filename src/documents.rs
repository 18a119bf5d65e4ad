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
//!   (`fsync`), renamed into place and its directory flushed, before `put` returns; the
//!   database row naming it is written after that. A crash in between leaves a blob no row
//!   names: `orphans` finds those for removal.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::domain::form::DocumentType;
use crate::privacy::DataKeys;

const SEAL_CONTEXT: &str = "document";

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("blob store: {0}")]
    Io(#[from] std::io::Error),
    #[error("blob {0} is missing")]
    Missing(String),
    #[error(transparent)]
    Privacy(#[from] crate::privacy::PrivacyError),
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

/// Sealed blobs on the local disk, under `{root}/ab/abcdef…` (the first two hex digits make a
/// directory, so no directory holds more than a few thousand files).
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn local(root: impl Into<PathBuf>) -> BlobStore {
        BlobStore { root: root.into() }
    }

    /// A store of its own under the system's temporary directory (tests and benchmarks).
    pub fn in_temp_dir() -> BlobStore {
        BlobStore::local(std::env::temp_dir().join(format!("mpp-blobs-{}", uuid::Uuid::new_v4())))
    }

    fn path(&self, address: &str) -> Option<PathBuf> {
        let valid = address.len() == 64 && address.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.root.join(&address[..2]).join(address))
    }

    /// Seals and stores `bytes`; returns their address once they are on the disk.
    pub async fn put(&self, keys: &DataKeys, bytes: &[u8]) -> Result<String, DocumentError> {
        let address = address(bytes);
        let sealed = keys.seal(SEAL_CONTEXT, bytes)?;
        let path = self
            .path(&address)
            .ok_or_else(|| DocumentError::Missing(address.clone()))?;
        tokio::task::spawn_blocking(move || write_durably(&path, &sealed))
            .await
            .map_err(std::io::Error::other)??;
        Ok(address)
    }

    /// The plain bytes stored at `address`.
    pub async fn get(&self, keys: &DataKeys, address: &str) -> Result<Vec<u8>, DocumentError> {
        let path = self
            .path(address)
            .ok_or_else(|| DocumentError::Missing(address.to_owned()))?;
        let sealed = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DocumentError::Missing(address.to_owned()));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(keys.open(SEAL_CONTEXT, &sealed)?)
    }

    /// Addresses of blobs older than `age`, for the orphan sweep to compare with the rows.
    pub async fn older_than(&self, age: Duration) -> Result<Vec<String>, DocumentError> {
        let root = self.root.clone();
        let found = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<String>> {
            let mut out = Vec::new();
            let Ok(dirs) = std::fs::read_dir(&root) else {
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
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(found)
    }

    pub async fn remove(&self, address: &str) -> Result<(), DocumentError> {
        if let Some(path) = self.path(address) {
            match tokio::fs::remove_file(path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
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
            Ok(false) => {
                blobs.remove(&address).await?;
                removed += 1;
            }
            Ok(true) => {}
            Err(e) => tracing::warn!(error = %e, "orphan sweep: cannot read the documents"),
        }
    }
    Ok(removed)
}

/// Sweeps orphans older than an hour, every hour.
pub async fn sweep_orphans_forever(db: crate::storage::Db, blobs: BlobStore) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
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

    #[tokio::test]
    async fn blobs_are_sealed_on_disk_and_found_by_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = BlobStore::local(dir.path());
        let keys = DataKeys::parse(
            &format!("k1:{}", DataKeys::generate_key().expect("key")),
            &DataKeys::generate_key().expect("key"),
        )
        .expect("keys");
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
}
