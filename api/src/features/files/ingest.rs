//! An upload's way in, the same for `uploadFile` (GraphQL multipart) and `POST /files`: the
//! declared content type is checked against the allow-list (`UPLOAD_ALLOWED_TYPES`), the
//! content is streamed to a spool file while its SHA-256 and size are computed (refused as soon
//! as it passes `UPLOAD_MAX_BYTES`, never held in memory whole), handed to the file store under
//! its hash, and recorded with its metadata and audit entry in one transaction.

use std::io;
use std::path::PathBuf;

use axum::body::Bytes;
use entity::FieldError;
use entity::features::files::{self, NewFile, StoredFile};
use entity::runtime::audit::Actor;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::auth::principal::Principal;
use crate::config::Config;
use crate::error::ApiError;
use crate::services::{Services, Txn};
use crate::storage;

/// The argument or part an upload's errors name.
const FIELD: &str = "file";
/// The type of content whose sender did not say.
const UNDECLARED: &str = "application/octet-stream";

/// Removes a spool file when the upload ends, however it ends (the local store has usually
/// renamed it away by then).
struct Spooled(PathBuf);

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn refused(message: String) -> ApiError {
    ApiError::Validation(vec![FieldError::new(FIELD, message)])
}

/// The declared content type, normalised (lower case, no parameters), if the allow-list has it.
pub fn allowed_type(config: &Config, declared: Option<&str>) -> Result<String, ApiError> {
    let ty = declared.and_then(|t| t.split(';').next()).map(str::trim).filter(|t| !t.is_empty());
    let ty = ty.unwrap_or(UNDECLARED).to_ascii_lowercase();
    let well_formed = ty.split('/').count() == 2
        && ty.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-/".contains(&b));
    let allowed = config.upload_allowed_types.iter().map(|a| a.trim().to_ascii_lowercase()).any(|a| match a
        .strip_suffix('*')
    {
        Some(prefix) => ty.starts_with(prefix),
        None => ty == a,
    });
    if well_formed && allowed {
        Ok(ty)
    } else {
        Err(refused(format!(
            "content type `{ty}` is not allowed (allowed: {})",
            config.upload_allowed_types.join(", ")
        )))
    }
}

/// A file name as kept: its last path segment, without control characters, at most 255
/// characters (`file` when nothing is left).
fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last.chars().filter(|c| !c.is_control()).take(255).collect();
    let kept = kept.trim();
    if kept.is_empty() { "file".into() } else { kept.to_owned() }
}

/// Stores an upload named `name`, declared as `content_type`, whose content `body` streams;
/// the recorded file.
pub async fn ingest<S>(
    services: &Services,
    p: &Principal,
    actor: &Actor,
    name: &str,
    content_type: Option<&str>,
    mut body: S,
) -> Result<StoredFile, ApiError>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
{
    let config = &services.config;
    let content_type = allowed_type(config, content_type)?;
    let dir = storage::spool_dir(config);
    tokio::fs::create_dir_all(&dir).await.map_err(internal)?;
    let spooled = Spooled(dir.join(uuid::Uuid::new_v4().simple().to_string()));
    let mut out = tokio::fs::File::create(&spooled.0).await.map_err(internal)?;
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("the upload could not be read: {e}")))?;
        size += chunk.len() as u64;
        if size > config.upload_max_bytes {
            return Err(refused(format!(
                "is larger than the upload limit of {} bytes",
                config.upload_max_bytes
            )));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).await.map_err(internal)?;
    }
    out.flush().await.map_err(internal)?;
    drop(out);
    let sha256 = entity::hex::encode(&hasher.finalize());
    services.files.put(&sha256, &spooled.0, size).await.map_err(internal)?;
    let new = NewFile {
        name: clean_name(name),
        content_type,
        size: i64::try_from(size).map_err(internal)?,
        sha256,
    };
    let (d, tenant) = (services.db.dialect, p.tenant_id.as_str());
    services.in_tenant(tenant, Txn::Write, async |txn| files::insert(txn, d, tenant, actor, new).await).await
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("storing an upload: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_last_segment() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\docs\\contract.pdf"), "contract.pdf");
        assert_eq!(clean_name("a\u{0}b.txt"), "ab.txt");
        assert_eq!(clean_name("  "), "file");
    }

    #[test]
    fn types_follow_the_allow_list() {
        let config = Config::for_tests("sqlite::memory:");
        assert_eq!(allowed_type(&config, Some("Image/PNG; q=1")).ok().as_deref(), Some("image/png"));
        assert!(allowed_type(&config, Some("application/pdf")).is_ok());
        assert!(allowed_type(&config, Some("application/x-msdownload")).is_err());
        assert!(allowed_type(&config, None).is_err());
        assert!(allowed_type(&config, Some("image/png\r\nx: y")).is_err());
    }
}
