//! The default file store: a directory under the data folder (`DATA_DIR/files`), each content
//! at `<first two hex digits>/<sha256>` so no directory grows too large. A spooled upload is
//! moved into place by a rename (same file system), so storing copies nothing.

use std::io;
use std::path::{Path, PathBuf};

use futures_util::future::BoxFuture;

use super::{ByteStream, FileStore, bad_key, chunks, is_sha256};

/// Files under one directory.
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: PathBuf) -> Self {
        LocalStore { root }
    }

    fn path(&self, sha256: &str) -> io::Result<PathBuf> {
        if !is_sha256(sha256) {
            return Err(bad_key());
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }
}

impl FileStore for LocalStore {
    fn put<'a>(&'a self, sha256: &'a str, source: &'a Path, _size: u64) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let path = self.path(sha256)?;
            if tokio::fs::try_exists(&path).await? {
                // The same content is already stored (content-addressed).
                return Ok(());
            }
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            // Under a name of its own first, then renamed: a reader never sees half a file.
            let partial = path.with_extension(format!("part-{}", uuid::Uuid::new_v4().simple()));
            if tokio::fs::rename(source, &partial).await.is_err() {
                // Another file system: copy (streamed by the OS).
                tokio::fs::copy(source, &partial).await?;
            }
            tokio::fs::rename(&partial, &path).await
        })
    }

    fn get<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, io::Result<Option<ByteStream>>> {
        Box::pin(async move {
            let file = match tokio::fs::File::open(self.path(sha256)?).await {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            Ok(Some(chunks(file)))
        })
    }

    fn delete<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(sha256)?).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
    }
}
