//! The document vault's metadata: uploaded files (`files`, migration 40), what they are
//! attached to, and their deletion. Each change is audited in its transaction (`file.upload`,
//! `file.attach`, `file.delete`). The bytes are not here: the API's file store keeps them
//! under their SHA-256. A FILE field's value points at a file too; the record store links it
//! (and a record's delete soft-deletes its files) in the record's own transaction
//! (`runtime::store::files`).

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::models::file::{self, Column, Entity as Files};
use crate::pipeline::Exec;
use crate::runtime::audit::{self, Actor};
use crate::runtime::time;
use crate::{Dialect, Result};

pub use crate::models::file::Model as StoredFile;

/// What an upload learnt of a file before its metadata is written.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// SHA-256 of the content (hex).
    pub sha256: String,
}

/// Where a file is attached: a record of an entity, and the FILE field (`None`: a generic
/// attachment).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub entity_id: &'a str,
    pub record_id: &'a str,
    pub field_key: Option<&'a str>,
}

/// Records an uploaded file (not attached yet) for `actor`, audited as `file.upload`.
pub async fn insert(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    new: NewFile,
) -> Result<StoredFile> {
    let row = file::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        entity_id: Set(None),
        record_id: Set(None),
        field_key: Set(None),
        name: Set(new.name),
        content_type: Set(new.content_type),
        size: Set(new.size),
        sha256: Set(new.sha256),
        uploaded_by: Set(actor.user_id.clone()),
        created_at: Set(time::now()),
        deleted_at: Set(None),
    }
    .insert(txn)
    .await?;
    let changes =
        json!({"name": row.name, "contentType": row.content_type, "size": row.size, "sha256": row.sha256});
    audit_entry(txn, d, tenant_id, actor, "file.upload", &row.id, changes).await?;
    Ok(row)
}

/// File `id` of the tenant, unless deleted.
pub async fn get(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<StoredFile>> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(None);
    }
    Ok(Files::find_by_id(id.to_owned())
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::DeletedAt.is_null())
        .one(conn)
        .await?)
}

/// The live files attached to any of `record_ids`, oldest first.
pub async fn of_records(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    record_ids: &[&str],
) -> Result<Vec<StoredFile>> {
    if record_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Files::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::RecordId.is_in(record_ids.iter().copied()))
        .filter(Column::DeletedAt.is_null())
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Attaches `file` (uploaded, not attached yet) to `owner`, audited as `file.attach`.
pub async fn attach(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    file: StoredFile,
    owner: Owner<'_>,
) -> Result<StoredFile> {
    let mut row = file.into_active_model();
    row.entity_id = Set(Some(owner.entity_id.to_owned()));
    row.record_id = Set(Some(owner.record_id.to_owned()));
    row.field_key = Set(owner.field_key.map(str::to_owned));
    let row = row.update(txn).await?;
    let changes = json!({"recordId": owner.record_id, "field": owner.field_key});
    audit_entry(txn, d, tenant_id, actor, "file.attach", &row.id, changes).await?;
    Ok(row)
}

/// Soft-deletes `file`, audited as `file.delete`.
pub async fn delete(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    file: StoredFile,
) -> Result<StoredFile> {
    delete_as(txn, d, tenant_id, actor, file, None).await
}

/// Soft-deletes `file` for a data subject's erasure: its name, which may itself be personal
/// (a scanned passport's file name), is replaced too; audited as `file.delete`.
pub async fn erase(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    file: StoredFile,
) -> Result<StoredFile> {
    delete_as(txn, d, tenant_id, actor, file, Some("erased")).await
}

async fn delete_as(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    file: StoredFile,
    rename: Option<&str>,
) -> Result<StoredFile> {
    let mut row = file.into_active_model();
    let at: DateTime<Utc> = time::now();
    row.deleted_at = Set(Some(at));
    if let Some(name) = rename {
        row.name = Set(name.to_owned());
    }
    let row = row.update(txn).await?;
    let changes = json!({"recordId": row.record_id, "sha256": row.sha256});
    audit_entry(txn, d, tenant_id, actor, "file.delete", &row.id, changes).await?;
    Ok(row)
}

async fn audit_entry(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    action: &str,
    id: &str,
    changes: serde_json::Value,
) -> Result<()> {
    let entry = audit::Entry { action, object_type: "file", object_id: Some(id), changes };
    audit::append(txn, d, tenant_id, actor, &entry).await
}
