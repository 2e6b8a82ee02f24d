//! Where uploaded files' bytes live: the `FileStore` trait and its two backends — a directory
//! under the data folder (`local`, the default) and an S3-compatible bucket (`s3`, requests
//! signed with AWS Signature Version 4, `sigv4`). Content-addressed: a file's bytes are kept
//! under their SHA-256, so the same content uploaded twice is stored once, and what a key
//! holds never changes. The metadata (name, type, owner record) is the database's
//! (`entity::features::files`); nothing here knows tenants or permissions.

pub mod local;
pub mod s3;
pub mod sigv4;

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Bytes;
use futures_util::Stream;
use futures_util::future::BoxFuture;

use crate::config::Config;
use crate::error::ApiError;

/// A file's content as it is read: chunks, never the whole file at once.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A store of file contents by SHA-256 (lower-case hex).
pub trait FileStore: Send + Sync {
    /// Stores the `size` bytes spooled at `source` (a local temporary file, whose SHA-256 is
    /// `sha256`) under that hash, streaming them; storing a hash already held is a no-op.
    fn put<'a>(&'a self, sha256: &'a str, source: &'a Path, size: u64) -> BoxFuture<'a, io::Result<()>>;

    /// The content under `sha256` as a stream (`None`: the store holds no such content).
    fn get<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, io::Result<Option<ByteStream>>>;

    /// Removes the content under `sha256` (nothing to remove is not an error).
    fn delete<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, io::Result<()>>;
}

/// The store the configuration names: the S3-compatible bucket when `S3_BUCKET` is set, else
/// the `files` directory under the data folder.
pub fn open(config: &Config) -> Result<Arc<dyn FileStore>, ApiError> {
    match &config.s3_bucket {
        Some(bucket) if !bucket.is_empty() => Ok(Arc::new(s3::S3Store::new(s3::S3Config {
            endpoint: config
                .s3_endpoint
                .clone()
                .ok_or_else(|| ApiError::BadRequest("S3_BUCKET needs S3_ENDPOINT".into()))?,
            bucket: bucket.clone(),
            region: config.s3_region.clone(),
            access_key: config.s3_access_key.clone().unwrap_or_default(),
            secret_key: config.s3_secret_key.clone().unwrap_or_default(),
        })?)),
        _ => Ok(Arc::new(local::LocalStore::new(config.data_dir.join("files")))),
    }
}

/// Where uploads are spooled before they are stored (beside the local store's files, so a
/// local store takes a spooled file by renaming it).
pub fn spool_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("files").join("spool")
}

/// Whether `s` is a SHA-256 in lower-case hex: the only keys a store accepts, so no key can
/// name a path or URL of its choosing.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A file store as the tenant's archive reads it (`entity::features::exports::tenant`): the
/// worker's way to the bytes of every uploaded file, whichever backend holds them.
pub struct Blobs(pub Arc<dyn FileStore>);

impl entity::features::exports::tenant::Blobs for Blobs {
    fn open<'a>(
        &'a self,
        sha256: &'a str,
    ) -> BoxFuture<'a, io::Result<Option<entity::features::exports::tenant::Chunks>>> {
        use futures_util::StreamExt;
        Box::pin(async move {
            let stream = self.0.get(sha256).await?;
            Ok(stream.map(|s| -> entity::features::exports::tenant::Chunks {
                Box::pin(s.map(|chunk| chunk.map(|b| b.to_vec())))
            }))
        })
    }
}

/// Size of the chunks a file is read in.
const CHUNK: usize = 64 * 1024;

/// A local file's content as a stream of chunks.
pub fn chunks(file: tokio::fs::File) -> ByteStream {
    use tokio::io::AsyncReadExt;
    Box::pin(futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; CHUNK];
        let n = match file.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    }))
}

fn bad_key() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "a file store key must be a SHA-256 in lower-case hex")
}
