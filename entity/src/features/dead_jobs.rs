//! The dead-letter view: work that ran out of attempts (or failed for good) — emails, webhook
//! deliveries and workflow runs — listed together for an administrator, and sent back to the
//! queue one by one. A retry writes its event to the outbox in the caller's transaction, so it
//! cannot be lost between "marked for retry" and "queued".

use crate::features::{emails, webhooks, workflows};
use crate::runtime::time;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

/// What kind of work a dead job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    WebhookDelivery,
    WorkflowRun,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "EMAIL",
            Kind::WebhookDelivery => "WEBHOOK_DELIVERY",
            Kind::WorkflowRun => "WORKFLOW_RUN",
        }
    }
}

/// One dead job.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadJob {
    pub id: String,
    pub kind: Kind,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// What it was: the recipient and subject, the event and URL, the workflow.
    pub summary: String,
    pub created_at: DateTime<Utc>,
}

/// The tenant's dead jobs, newest first, at most `first`.
pub async fn list(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    first: u64,
) -> Result<Vec<DeadJob>> {
    let queries: [(Kind, &str); 3] = [
        (
            Kind::Email,
            "SELECT id, status, attempts, last_error, to_address || ': ' || subject AS summary, created_at \
             FROM emails WHERE status = 'dead' AND tenant_id = ",
        ),
        (
            Kind::WebhookDelivery,
            "SELECT d.id AS id, d.status AS status, d.attempts AS attempts, d.last_error AS last_error, \
             d.event_type || ' → ' || w.url AS summary, d.created_at AS created_at \
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.status = 'dead' AND d.tenant_id = ",
        ),
        (
            Kind::WorkflowRun,
            "SELECT r.id AS id, r.status AS status, r.attempts AS attempts, r.error AS last_error, \
             w.name AS summary, r.started_at AS created_at \
             FROM workflow_runs r JOIN workflows w ON w.id = r.workflow_id \
             WHERE r.status IN ('dead', 'failed') AND r.tenant_id = ",
        ),
    ];
    let mut out = Vec::new();
    for (kind, select) in queries {
        let mut buf = SqlBuf::new(d);
        buf.push(select).bind(tenant_id.to_owned());
        buf.push(" ORDER BY created_at DESC LIMIT ").push(&first.to_string());
        for r in conn.query_all_raw(buf.into_statement()).await? {
            out.push(DeadJob {
                id: r.try_get("", "id")?,
                kind,
                status: r.try_get("", "status")?,
                attempts: r.try_get("", "attempts")?,
                last_error: r.try_get("", "last_error")?,
                summary: r.try_get("", "summary")?,
                created_at: time::column(&r, d, "created_at")?.unwrap_or_else(time::now),
            });
        }
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
    out.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok(out)
}

/// Sends dead job `id` back to the queue; `None` when no dead job has that id.
pub async fn retry(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Kind>> {
    if emails::requeue(txn, d, tenant_id, id).await? {
        return Ok(Some(Kind::Email));
    }
    if webhooks::requeue_delivery(txn, d, tenant_id, id, None).await? {
        return Ok(Some(Kind::WebhookDelivery));
    }
    if workflows::requeue_run(txn, d, tenant_id, id, None).await? {
        return Ok(Some(Kind::WorkflowRun));
    }
    Ok(None)
}
