//! Scoring the open records a tenant already has when it turns the meter on or changes its
//! weights: nothing else would score a record until it or an activity about it changes, or
//! until the nightly pass (which only rescores records scored before). Setting the weights
//! writes `BackfillQueued` in its transaction; the job relay turns it into a job that scores
//! one page of the pipeline's records (`page`, keyset through the store's cursor) and, when
//! more are left, queues the next page with its cursor in the same way. A job that a worker
//! restart interrupts runs again from its cursor: scoring a record twice at one instant
//! writes the same score (no new version).

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

use super::gather::Pipeline;
use crate::runtime::meta::TenantMeta;
use crate::runtime::outbox;
use crate::runtime::store::{ListArgs, Store};
use crate::{Db, Dialect, Result};

/// Pipeline records read and scored per job.
pub const PAGE: u64 = 50;

/// `OutboxEvent::ConfidenceBackfill`: the tenant's open pipeline records after cursor `after`
/// (from the first when `None`) are to be scored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillQueued {
    pub after: Option<String>,
}

impl outbox::Event for BackfillQueued {
    const TOPIC: &'static str = "confidence.backfill";
}

/// Queues the scoring of the tenant's open records from `after` on, in the caller's transaction.
pub async fn queue(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    after: Option<String>,
) -> Result<()> {
    outbox::write(conn, d, tenant_id, &BackfillQueued { after }).await
}

/// Scores the open records of one page of the tenant's pipeline after `after` as of `now`
/// (closed ones are left unscored), then queues the next page when there is one. Returns how
/// many records it scored. Nothing to do when the tenant has no pipeline or turned the meter off.
pub async fn page(db: &Db, meta: &TenantMeta, after: Option<String>, now: DateTime<Utc>) -> Result<usize> {
    let Some(pipeline) = Pipeline::of(meta).filter(|_| meta.confidence.is_some()) else { return Ok(0) };
    let args = ListArgs { first: Some(PAGE), after, ..ListArgs::default() };
    let page = Store::new(db, &meta.tenant_id).list(&pipeline.entity, &args, PAGE).await?;
    let mut scored = 0;
    for r in &page.records {
        if pipeline.outcome(pipeline.stage_of(r).as_deref()).is_some() {
            continue;
        }
        super::refresh(db, meta, &r.id, now).await?;
        scored += 1;
    }
    if page.has_next
        && let Some(next) = page.end_cursor()
    {
        let txn = db.begin_tenant_write(&meta.tenant_id).await?;
        queue(&txn, db.dialect, &meta.tenant_id, Some(next)).await?;
        txn.commit().await?;
    }
    Ok(scored)
}
