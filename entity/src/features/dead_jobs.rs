//! The dead-letter view: work that ran out of attempts (or failed for good) — emails, webhook
//! deliveries and workflow runs — listed together for an administrator, and sent back to the
//! queue one by one. A retry writes its event to the outbox in the caller's transaction, so it
//! cannot be lost between "marked for retry" and "queued".
//!
//! Each kind is read through its SeaORM models; dead workflow runs come from
//! `features::workflows`, which owns their table.

use crate::features::{emails, webhooks, workflows};
use crate::models::{email, webhook, webhook_delivery as delivery};
use crate::{Dialect, Result};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

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

/// A dead email or delivery as read: id, status, attempts, last error, the two parts of its
/// summary, and when it was created.
type Row = (String, String, i32, Option<String>, String, String, DateTime<Utc>);

/// The tenant's dead jobs, newest first, at most `first`.
pub async fn list(conn: &impl ConnectionTrait, tenant_id: &str, first: u64) -> Result<Vec<DeadJob>> {
    dead(conn, tenant_id, first, None).await
}

/// Dead job `id` of the tenant, if it is dead (`deadJobAdded`).
pub async fn get(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<DeadJob>> {
    Ok(dead(conn, tenant_id, 1, Some(id)).await?.into_iter().next())
}

/// The tenant's dead jobs (only job `only`, when given), newest first, at most `first`.
async fn dead(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    first: u64,
    only: Option<&str>,
) -> Result<Vec<DeadJob>> {
    let job = |kind, sep, (id, status, attempts, last_error, what, to, created_at): Row| DeadJob {
        id,
        kind,
        status,
        attempts,
        last_error,
        summary: format!("{what}{sep}{to}"),
        created_at,
    };
    let mut out = Vec::new();
    let dead_emails: Vec<Row> = email::Entity::find()
        .select_only()
        .columns([
            email::Column::Id,
            email::Column::Status,
            email::Column::Attempts,
            email::Column::LastError,
            email::Column::ToAddress,
            email::Column::Subject,
            email::Column::CreatedAt,
        ])
        .filter(email::Column::Status.eq("dead"))
        .filter(email::Column::TenantId.eq(tenant_id))
        .apply_if(only, |q, id| q.filter(email::Column::Id.eq(id)))
        .order_by_desc(email::Column::CreatedAt)
        .limit(first)
        .into_tuple()
        .all(conn)
        .await?;
    out.extend(dead_emails.into_iter().map(|r| job(Kind::Email, ": ", r)));
    let dead_deliveries: Vec<Row> = delivery::Entity::find()
        .select_only()
        .columns([
            delivery::Column::Id,
            delivery::Column::Status,
            delivery::Column::Attempts,
            delivery::Column::LastError,
            delivery::Column::EventType,
        ])
        .column(webhook::Column::Url)
        .column(delivery::Column::CreatedAt)
        .inner_join(webhook::Entity)
        .filter(delivery::Column::Status.eq("dead"))
        .filter(delivery::Column::TenantId.eq(tenant_id))
        .apply_if(only, |q, id| q.filter(delivery::Column::Id.eq(id)))
        .order_by_desc(delivery::Column::CreatedAt)
        .limit(first)
        .into_tuple()
        .all(conn)
        .await?;
    out.extend(dead_deliveries.into_iter().map(|r| job(Kind::WebhookDelivery, " → ", r)));
    for r in workflows::dead_runs(conn, tenant_id, first, only).await? {
        out.push(DeadJob {
            id: r.run.id,
            kind: Kind::WorkflowRun,
            status: r.run.status,
            attempts: r.run.attempts,
            last_error: r.run.error,
            summary: r.workflow_name,
            created_at: r.run.started_at,
        });
    }
    out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
    out.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok(out)
}

/// Sends dead job `id` back to the queue; `None` when no dead job has that id.
pub async fn retry(txn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<Kind>> {
    if emails::requeue(txn, tenant_id, id).await? {
        return Ok(Some(Kind::Email));
    }
    if webhooks::requeue_delivery(txn, tenant_id, id, None).await? {
        return Ok(Some(Kind::WebhookDelivery));
    }
    if workflows::requeue_run(txn, Dialect::of(txn), tenant_id, id, None).await? {
        return Ok(Some(Kind::WorkflowRun));
    }
    Ok(None)
}
