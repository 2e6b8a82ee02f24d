//! Scoring a pipeline record's confidence again (`Job::RefreshConfidence`), queued by the relay
//! when the record or an activity about it is created, updated, deleted or restored: the
//! record's signals are read and its score written (`entity::features::confidence::refresh`).
//! The score goes to the meter's own table, so this job causes no change event of its own.
//! Scoring a page of a tenant's open records (`Job::BackfillConfidence`), queued when it sets
//! its weights, each page queueing the next (`entity::features::confidence::backfill`).

use entity::features::confidence;
use entity::runtime::meta::TenantMeta;

use crate::context::JobContext;
use crate::error::JobError;

/// Scores record `record_id` of the tenant's pipeline as of now.
pub async fn refresh(ctx: &JobContext, tenant_id: &str, record_id: &str) -> Result<(), JobError> {
    let meta = TenantMeta::load_for(&ctx.db, tenant_id).await?;
    confidence::refresh(&ctx.db, &meta, record_id, entity::runtime::time::now()).await?;
    Ok(())
}

/// Scores a page of the tenant's open pipeline records from cursor `after` as of now, and
/// queues the next page.
pub async fn backfill(ctx: &JobContext, tenant_id: &str, after: Option<String>) -> Result<(), JobError> {
    let meta = TenantMeta::load_for(&ctx.db, tenant_id).await?;
    confidence::backfill::page(&ctx.db, &meta, after, entity::runtime::time::now()).await?;
    Ok(())
}
