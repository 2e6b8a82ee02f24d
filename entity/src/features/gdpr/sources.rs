//! Where personal data lives besides the records themselves: the seam a data-subject request
//! goes through. Each `PersonalDataSource` contributes one part of an export and erases its
//! part in the erasure's transaction. The audit trail is one (its entries about the subject's
//! and linked records, decrypted; erasing it is crypto-shredding, done by the caller for every
//! source at once: `personal::destroy`); attachments join the list when they are integrated
//! (their files of the subject records exported as metadata and deleted with them).

use futures_util::future::BoxFuture;
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;

use super::SubjectRecord;
use crate::models::audit_log;
use crate::runtime::audit::{Actor, AuditRow};
use crate::runtime::personal;
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
pub static SOURCES: &[&dyn PersonalDataSource] = &[&AuditTrail];

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
            personal::reveal(ctx.txn, ctx.db.sealer()?, ctx.tenant_id, &mut rows).await?;
            Ok(serde_json::to_value(rows)?)
        })
    }

    /// Entries stay (the chain must verify); their personal values die with the subject keys,
    /// which the erasure destroys for every source at once.
    fn erase<'a>(&'a self, _: &'a SourceCtx<'a>, _: &'a [SubjectRecord]) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async { Ok(0) })
    }
}
