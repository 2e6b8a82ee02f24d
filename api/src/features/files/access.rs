//! Who may see or change a file, decided from the record it belongs to — the one check every
//! way to a file goes through (`GET /files/<id>`, `attachments`, `attachFile`,
//! `deleteAttachment`): read permission on the record's entity, the caller's row rule on the
//! record itself (a record outside it answers FORBIDDEN: the file was named, not the record),
//! read permission on the field for a FILE field's value, and update permission to change a
//! record's attachments. A file not attached yet is its uploader's alone; one of another
//! tenant, deleted, or of a deleted record does not exist (NOT_FOUND).

use std::sync::Arc;

use entity::features::files::StoredFile;
use entity::runtime::store::Store;

use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::schema::access::{EntityAccess, SchemaAccess};
use crate::services::Services;

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Download it, list it.
    Read,
    /// Attach it to a record, delete it (update permission on the record).
    Change,
}

fn no_file() -> ApiError {
    ApiError::NotFound("file".into())
}

/// The entity named `name` as the caller's role sees it.
pub fn entity_named(access: &SchemaAccess, name: &str) -> Result<Arc<EntityAccess>, ApiError> {
    access
        .meta
        .entity_by_name(name)
        .and_then(|e| access.entity(&e.id))
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("entity `{name}`")))
}

/// Record `record_id` of `entity` is the caller's to `need`.
pub async fn record(
    services: &Services,
    p: &Principal,
    entity: &EntityAccess,
    record_id: &str,
    need: Need,
) -> Result<(), ApiError> {
    if need == Need::Change && !entity.update {
        return Err(ApiError::Forbidden(format!("your role may not update {}", entity.full.label_plural)));
    }
    let store = Store::new(&services.db, &p.tenant_id);
    let row = p.permissions.row_filter(&entity.full, p.subject());
    if store.get(&entity.full, record_id, row.as_ref()).await?.is_some() {
        return Ok(());
    }
    if row.is_some() && store.get(&entity.full, record_id, None).await?.is_some() {
        return Err(ApiError::Forbidden("the record is outside your role's access".into()));
    }
    Err(ApiError::NotFound(entity.full.label_singular.clone()))
}

/// `file` is the caller's to `need`.
pub async fn file(
    services: &Services,
    p: &Principal,
    access: &SchemaAccess,
    file: &StoredFile,
    need: Need,
) -> Result<(), ApiError> {
    let (Some(entity_id), Some(record_id)) = (&file.entity_id, &file.record_id) else {
        return if file.uploaded_by.as_deref() == Some(p.user_id.as_str()) { Ok(()) } else { Err(no_file()) };
    };
    let Some(entity) = access.entity(entity_id) else {
        // An entity of the tenant the role may not read, or one gone since.
        return Err(if access.meta.entity_by_id(entity_id).is_some() {
            ApiError::Forbidden("your role may not read this file's record".into())
        } else {
            no_file()
        });
    };
    if let Some(key) = &file.field_key {
        if entity.view.field_by_key(key).is_none() {
            return Err(if entity.full.field_by_key(key).is_some() {
                ApiError::Forbidden("your role may not read the field holding this file".into())
            } else {
                no_file()
            });
        }
        if need == Need::Change {
            return Err(ApiError::BadRequest(format!(
                "this file is the value of field `{key}`: update the record to change it"
            )));
        }
    }
    record(services, p, entity, record_id, need).await
}
