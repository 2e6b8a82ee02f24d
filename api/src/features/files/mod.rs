//! The document vault (issue 14 § 3): files uploaded over the GraphQL multipart request spec
//! (`uploadFile(file: Upload!)`) or plain HTTP (`POST /files`, `http`), kept by the file store
//! (`crate::storage`) under their SHA-256, and attached to records — as a record's
//! attachments (`attachFile`, `attachments`, `deleteAttachment`) or as a FILE field's value
//! (`{fileId}` in the record's input; the record store links it). Every read and change is
//! decided by the owning record (`access`); downloads stream (`GET /files/<id>`). Uploads take
//! one way in (`ingest`): type allow-list, size limit, hash, metadata and audit entry.

pub mod access;
pub mod http;
pub mod ingest;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, Type, TypeRef};
use entity::features::files::{self as vault, Owner, StoredFile};
use entity::runtime::naming::{fields as f, types as t};
use entity::runtime::store::download_path;

use self::access::Need;
use crate::error::ApiError;
use crate::schema::feature::{Declared, Slot};
use crate::schema::values::{s, sync_field, ts};
use crate::schema::{args, ctx, upload};
use crate::services::Txn;

fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    vec![
        Object::new(t::ATTACHMENT)
            .description("An uploaded file: attached to a record, the value of a FILE field, or neither yet.")
            .field(sync_field::<StoredFile>("id", TypeRef::named_nn(TypeRef::ID), |f| s(&f.id)))
            .field(sync_field::<StoredFile>("name", string(), |f| s(&f.name)))
            .field(sync_field::<StoredFile>("mimeType", string(), |f| s(&f.content_type)))
            .field(sync_field::<StoredFile>("size", TypeRef::named_nn(TypeRef::INT), |f| {
                Some(Value::from(f.size))
            }))
            .field(
                sync_field::<StoredFile>("sha256", string(), |f| s(&f.sha256))
                    .description("SHA-256 of the content (hex)."),
            )
            .field(
                sync_field::<StoredFile>("url", string(), |f| s(&download_path(&f.id)))
                    .description("Where the content is downloaded (GET, with the same credentials)."),
            )
            .field(sync_field::<StoredFile>("recordId", TypeRef::named(TypeRef::ID), |f| {
                f.record_id.as_deref().and_then(s)
            }))
            .field(
                sync_field::<StoredFile>("fieldKey", TypeRef::named(TypeRef::STRING), |f| {
                    f.field_key.as_deref().and_then(s)
                })
                .description("The FILE field whose value it is (null: an attachment of the record)."),
            )
            .field(sync_field::<StoredFile>("createdAt", TypeRef::named_nn(t::DATE_TIME), |f| {
                ts(&f.created_at)
            }))
            .into(),
    ]
}

fn files(list: Vec<StoredFile>) -> FieldValue<'static> {
    FieldValue::list(list.into_iter().map(FieldValue::owned_any))
}

fn record_arguments(field: Field) -> Field {
    field
        .argument(
            InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING))
                .description("The entity's nameSingular."),
        )
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)).description("The record's id."))
}

fn queries() -> Vec<Field> {
    vec![
        record_arguments(Field::new(f::ATTACHMENTS, TypeRef::named_nn_list_nn(t::ATTACHMENT), |c| {
            FieldFuture::new(async move {
                let (state, p, schema) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::access(&c)?);
                let entity = access::entity_named(schema, &args::string(&c, "entity")?)?;
                let id = args::record_id(&c)?;
                access::record(state, p, &entity, &id, Need::Read).await?;
                let tenant = p.tenant_id.as_str();
                let list = state
                    .in_tenant(tenant, Txn::Read, async |txn| {
                        vault::of_records(txn, tenant, &[id.as_str()]).await
                    })
                    .await?;
                // A FILE field the role may not read keeps its file out of the list too.
                let readable = |f: &StoredFile| {
                    f.field_key.as_ref().is_none_or(|k| entity.view.field_by_key(k).is_some())
                };
                Ok(Some(files(list.into_iter().filter(readable).collect())))
            })
        }))
        .description("The files of a record — its attachments and its FILE fields' files — oldest first."),
    ]
}

fn mutations() -> Vec<Field> {
    vec![
        Field::new(f::UPLOAD_FILE, TypeRef::named_nn(t::ATTACHMENT), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let file = upload::argument(&c, "file")?;
                let content = crate::storage::chunks(tokio::fs::File::from_std(file.content));
                let stored = ingest::ingest(
                    state,
                    p,
                    &ctx::actor(&c)?,
                    &file.filename,
                    file.content_type.as_deref(),
                    content,
                )
                .await?;
                Ok(Some(FieldValue::owned_any(stored)))
            })
        })
        .argument(InputValue::new("file", upload::required()))
        .description(
            "Uploads a file (GraphQL multipart request spec), not attached yet: give its id to \
             `attachFile` or to a FILE field (`{fileId}`).",
        ),
        record_arguments(Field::new(f::ATTACH_FILE, TypeRef::named_nn(t::ATTACHMENT), |c| {
            FieldFuture::new(async move {
                let (state, p, schema) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::access(&c)?);
                let entity = access::entity_named(schema, &args::string(&c, "entity")?)?;
                let (id, file_id) = (args::record_id(&c)?, args::record_id_named(&c, "file")?);
                access::record(state, p, &entity, &id, Need::Change).await?;
                let (d, tenant, actor) = (state.db.dialect, p.tenant_id.as_str(), ctx::actor(&c)?);
                let owner = Owner { entity_id: &entity.full.id, record_id: &id, field_key: None };
                let attached = state
                    .in_tenant(tenant, Txn::Write, async |txn| {
                        // Only an upload of the caller's own that is attached nowhere yet.
                        match vault::get(txn, tenant, &file_id).await? {
                            Some(file)
                                if file.record_id.is_none()
                                    && file.uploaded_by.as_deref() == Some(p.user_id.as_str()) =>
                            {
                                Ok(vault::attach(txn, d, tenant, &actor, file, owner).await?)
                            }
                            _ => Err(ApiError::NotFound("file".into())),
                        }
                    })
                    .await?;
                Ok(Some(FieldValue::owned_any(attached)))
            })
        }))
        .argument(
            InputValue::new("file", TypeRef::named_nn(TypeRef::ID)).description("An uploaded file's id."),
        )
        .description("Attaches a file the caller uploaded to a record (update permission on it)."),
        Field::new(f::DELETE_ATTACHMENT, TypeRef::named_nn(t::ATTACHMENT), |c| {
            FieldFuture::new(async move {
                let (state, p, schema) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::access(&c)?);
                let id = args::id(&c)?;
                let (d, tenant, actor) = (state.db.dialect, p.tenant_id.as_str(), ctx::actor(&c)?);
                let file = state
                    .in_tenant(tenant, Txn::Read, async |txn| vault::get(txn, tenant, &id).await)
                    .await?
                    .ok_or_else(|| ApiError::NotFound("file".into()))?;
                access::file(state, p, schema, &file, Need::Change).await?;
                let deleted = state
                    .in_tenant(tenant, Txn::Write, async |txn| {
                        vault::delete(txn, d, tenant, &actor, file).await
                    })
                    .await?;
                Ok(Some(FieldValue::owned_any(deleted)))
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .description("Deletes an attachment (soft: its record's audit trail keeps it)."),
    ]
}

/// Uploads and attachments, for every role (each operation checks the record).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| queries())],
    mutations: &[(Slot::Member, |_| mutations())],
    types: |_| types(),
    ..Declared::EMPTY
};
