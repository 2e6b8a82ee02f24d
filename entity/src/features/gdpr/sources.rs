//! Where personal data lives besides the records themselves: the seam a data-subject request
//! goes through. Each `PersonalDataSource` contributes one part of an export and erases its
//! part in the erasure's transaction. The audit trail is one (its entries about the subject's
//! and linked records, decrypted; erasing it is crypto-shredding, done by the caller for every
//! source at once: `personal::destroy`); the document vault is the other (the files of the
//! records, exported as metadata with their download paths; the subject records' files
//! soft-deleted with their names replaced, so no file of the subject is served again).

use futures_util::future::BoxFuture;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use super::SubjectRecord;
use crate::features::files;
use crate::models::audit_log;
use crate::runtime::audit::{Actor, AuditRow};
use crate::runtime::personal;
use crate::runtime::store::download_path;
use crate::runtime::time;
use crate::{Db, Result};

/// What a source works in: the request's transaction and who asked.
pub struct SourceCtx<'a> {
    pub db: &'a Db,
    pub txn: &'a DatabaseTransaction,
    pub tenant_id: &'a str,
    pub actor: &'a Actor,
}

/// A place that holds personal data about records.
pub trait PersonalDataSource: Sync {
    /// The key of its part in an export (`auditEntries`, `attachments`).
    fn name(&self) -> &'static str;

    /// What it holds about `records` (the subject's and the linked ones, `SubjectRecord::linked`).
    fn export<'a>(
        &'a self,
        ctx: &'a SourceCtx<'a>,
        records: &'a [SubjectRecord],
    ) -> BoxFuture<'a, Result<Value>>;

    /// Erases what it holds about the subject's own records; returns how many items it erased.
    fn erase<'a>(
        &'a self,
        ctx: &'a SourceCtx<'a>,
        subjects: &'a [SubjectRecord],
    ) -> BoxFuture<'a, Result<u64>>;
}

/// Every source, in the order of the export's parts.
pub static SOURCES: &[&dyn PersonalDataSource] = &[&AuditTrail, &Attachments];

/// The audit trail's entries about the records, oldest first, personal values opened where
/// their keys still exist.
pub struct AuditTrail;

impl PersonalDataSource for AuditTrail {
    fn name(&self) -> &'static str {
        "auditEntries"
    }

    fn export<'a>(
        &'a self,
        ctx: &'a SourceCtx<'a>,
        records: &'a [SubjectRecord],
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            let ids: Vec<String> = records.iter().map(|r| r.record.id.clone()).collect();
            if ids.is_empty() {
                return Ok(Value::Array(Vec::new()));
            }
            let rows = audit_log::Entity::find()
                .filter(audit_log::Column::TenantId.eq(ctx.tenant_id))
                .filter(audit_log::Column::ObjectId.is_in(ids))
                .order_by_asc(audit_log::Column::Seq)
                .all(ctx.txn)
                .await?;
            let mut rows: Vec<AuditRow> = rows.into_iter().map(AuditRow::from).collect();
            personal::reveal(
                ctx.txn,
                ctx.db.sealer()?,
                ctx.tenant_id,
                rows.iter_mut().map(AuditRow::sealed).collect(),
            )
            .await?;
            Ok(serde_json::to_value(rows)?)
        })
    }

    /// Entries stay (the chain must verify); their personal values die with the subject keys,
    /// which the erasure destroys for every source at once.
    fn erase<'a>(&'a self, _: &'a SourceCtx<'a>, _: &'a [SubjectRecord]) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async { Ok(0) })
    }
}

/// The document vault's files of the records: attachments and FILE field values alike.
pub struct Attachments;

impl PersonalDataSource for Attachments {
    fn name(&self) -> &'static str {
        "attachments"
    }

    fn export<'a>(
        &'a self,
        ctx: &'a SourceCtx<'a>,
        records: &'a [SubjectRecord],
    ) -> BoxFuture<'a, Result<Value>> {
        Box::pin(async move {
            let ids: Vec<&str> = records.iter().map(|r| r.record.id.as_str()).collect();
            let found = files::of_records(ctx.txn, ctx.tenant_id, &ids).await?;
            let shown = found.iter().map(|f| {
                serde_json::json!({
                    "id": f.id, "recordId": f.record_id, "field": f.field_key, "name": f.name,
                    "mimeType": f.content_type, "size": f.size, "sha256": f.sha256,
                    "createdAt": time::format(&f.created_at), "download": download_path(&f.id),
                })
            });
            Ok(Value::Array(shown.collect()))
        })
    }

    /// The subject records' files are deleted with them; a linked record's files are not the
    /// subject's (a deal's contract stays with the deal).
    fn erase<'a>(
        &'a self,
        ctx: &'a SourceCtx<'a>,
        subjects: &'a [SubjectRecord],
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let ids: Vec<&str> =
                subjects.iter().filter(|r| !r.linked).map(|r| r.record.id.as_str()).collect();
            let found = files::of_records(ctx.txn, ctx.tenant_id, &ids).await?;
            let n = found.len() as u64;
            for f in found {
                files::erase(ctx.txn, ctx.db.dialect, ctx.tenant_id, ctx.actor, f).await?;
            }
            Ok(n)
        })
    }
}
