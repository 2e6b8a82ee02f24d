//! What a record write does to the document vault's `files` (migration 40), in the record's
//! own transaction: a FILE field given an uploaded file's id (`{"fileId": …}`, as
//! `value::normalize` keeps it) is checked and gets the file's metadata as its stored value
//! (`resolve`), the file is linked to the record and field, and the field's previous file is
//! soft-deleted (`link`); a record's soft delete soft-deletes its files, and its restore brings
//! back those that went with it (`follow_record`). Hand-built statements, as everything the
//! record store sends (its transaction may be a pipeline, not a SeaORM connection).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::pipeline::Exec;
use crate::runtime::audit::Actor;
use crate::runtime::meta::{EntityDef, FieldDef, FieldType};
use crate::runtime::time;
use crate::runtime::value::FILE_ID;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, FieldError, Result};

/// Where an uploaded file is downloaded: `GET /files/<id>`.
pub fn download_path(id: &str) -> String {
    format!("/files/{id}")
}

/// The uploaded file a FILE value names as written by a client: `{"fileId": …}` alone (a
/// stored value carries the file's metadata beside its id).
fn reference(v: &Value) -> Option<&str> {
    let o = v.as_object()?;
    if o.len() == 1 { o.get(FILE_ID)?.as_str() } else { None }
}

/// The uploaded file a FILE value holds, reference or stored.
fn file_id(v: Option<&Value>) -> Option<&str> {
    v?.as_object()?.get(FILE_ID)?.as_str()
}

fn is_file(f: &&FieldDef) -> bool {
    f.ty == FieldType::File && f.is_stored()
}

/// Checks every FILE value of `data` given as a file reference and replaces it with the file's
/// metadata. The file must be live, of this tenant, and either uploaded by `actor` and not yet
/// attached, or already this record's (`record_id`) value of the same field; anything else is
/// answered as if it did not exist, so ids of other people's files cannot be probed.
pub(super) async fn resolve(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    entity: &EntityDef,
    data: &mut Map<String, Value>,
    record_id: Option<&str>,
    actor: &Actor,
) -> Result<Vec<FieldError>> {
    let mut errors = Vec::new();
    for f in entity.fields.iter().filter(is_file) {
        let Some(id) = data.get(f.key.as_str()).and_then(reference).map(str::to_owned) else { continue };
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT name, content_type, size, sha256, record_id, field_key, uploaded_by FROM files");
        buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned());
        buf.push(" AND id = ").bind(id.clone()).push(" AND deleted_at IS NULL");
        let row = match uuid::Uuid::parse_str(&id) {
            Ok(_) => txn.query_one(buf.into_statement()).await?,
            Err(_) => None,
        };
        let usable = match &row {
            Some(r) => {
                let attached_to: Option<String> = r.try_get("", "record_id")?;
                let field: Option<String> = r.try_get("", "field_key")?;
                let uploader: Option<String> = r.try_get("", "uploaded_by")?;
                match attached_to {
                    None => uploader == actor.user_id,
                    Some(rid) => Some(rid.as_str()) == record_id && field.as_deref() == Some(f.key.as_str()),
                }
            }
            None => false,
        };
        let Some(r) = row.filter(|_| usable) else {
            errors.push(FieldError::new(&f.graphql_name, "no uploaded file with this id"));
            continue;
        };
        let (name, mime, size, sha256): (String, String, i64, String) = (
            r.try_get("", "name")?,
            r.try_get("", "content_type")?,
            r.try_get("", "size")?,
            r.try_get("", "sha256")?,
        );
        let value = json!({
            FILE_ID: id, "name": name, "mimeType": mime, "size": size, "sha256": sha256,
            "url": download_path(&id),
        });
        data.insert(f.key.as_str().to_owned(), value);
    }
    Ok(errors)
}

/// Links the files `data`'s FILE fields hold to record `record_id`, and soft-deletes what a
/// changed field held before (`old`: the stored values before the write; empty for a create).
pub(super) async fn link(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    entity: &EntityDef,
    record_id: &str,
    old: &Map<String, Value>,
    data: &Map<String, Value>,
) -> Result<()> {
    for f in entity.fields.iter().filter(is_file) {
        let (before, after) = (file_id(old.get(f.key.as_str())), file_id(data.get(f.key.as_str())));
        if before == after {
            continue;
        }
        if let Some(id) = before {
            let mut buf = SqlBuf::new(d);
            buf.push("UPDATE files SET deleted_at = ").bind_ts(time::now());
            buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind(id.to_owned());
            buf.push(" AND record_id = ").bind(record_id.to_owned()).push(" AND deleted_at IS NULL");
            txn.execute(buf.into_statement()).await?;
        }
        if let Some(id) = after {
            let mut buf = SqlBuf::new(d);
            buf.push("UPDATE files SET entity_id = ").bind(entity.id.clone());
            buf.push(", record_id = ").bind(record_id.to_owned());
            buf.push(", field_key = ").bind(f.key.as_str().to_owned());
            buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind(id.to_owned());
            txn.execute(buf.into_statement()).await?;
        }
    }
    Ok(())
}

/// A record's soft delete (`deleted_at` the record's new deletion time) soft-deletes its live
/// files; its restore (`None`, `was_deleted_at` when the record went) brings back the files
/// deleted with it or since, not those deleted before it.
pub(super) async fn follow_record(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    record_id: &str,
    deleted_at: Option<DateTime<Utc>>,
    was_deleted_at: Option<DateTime<Utc>>,
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    match (deleted_at, was_deleted_at) {
        (Some(at), _) => {
            buf.push("UPDATE files SET deleted_at = ").bind_ts(at);
            buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned());
            buf.push(" AND record_id = ").bind(record_id.to_owned()).push(" AND deleted_at IS NULL");
        }
        (None, Some(since)) => {
            buf.push("UPDATE files SET deleted_at = NULL WHERE tenant_id = ").bind(tenant_id.to_owned());
            buf.push(" AND record_id = ")
                .bind(record_id.to_owned())
                .push(" AND deleted_at >= ")
                .bind_ts(since);
        }
        (None, None) => return Ok(()),
    }
    txn.execute(buf.into_statement()).await
}
