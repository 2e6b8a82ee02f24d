//! Outgoing webhooks in the data layer: subscriptions (URL, event-type patterns, up to two
//! active signing secrets), event types of record changes (`deal.created`), and the delivery
//! log with status, attempts, the receiver's answer and the last error.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::runtime::outbox::{self, WebhookRetry};
use crate::runtime::record::{ChangeEvent, ChangeKind};
use crate::runtime::sql::{self, json_col};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

/// A signing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    pub id: String,
    pub secret: String,
}

/// How many secrets sign at once: the newest and the one it replaced (the grace period of a
/// rotation lasts until the next rotation).
pub const ACTIVE_SECRETS: usize = 2;

/// A new signing secret (`whsec_` and 64 hex digits from the operating system's random source,
/// through UUID v4).
pub fn new_secret() -> Secret {
    let random = || uuid::Uuid::new_v4().simple().to_string();
    Secret { id: uuid::Uuid::new_v4().to_string(), secret: format!("whsec_{}{}", random(), random()) }
}

/// Rotates `secrets` (newest first): a new secret signs first and the previous one keeps
/// signing until the next rotation, so receivers can switch without rejecting a request.
/// Integrator webhooks and workflows' `call_webhook` rotate the same way. Returns the new one.
pub fn rotate(secrets: &mut Vec<Secret>) -> Secret {
    let secret = new_secret();
    secrets.insert(0, secret.clone());
    secrets.truncate(ACTIVE_SECRETS);
    secret
}

/// A subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    pub description: Option<String>,
    /// Patterns: `deal.created`, `deal.*`, `*`.
    pub events: Vec<String>,
    /// Newest first; at most two (rotation).
    pub secrets: Vec<Secret>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    pub fn wants(&self, event_type: &str) -> bool {
        self.active
            && self.events.iter().any(|p| {
                p == "*"
                    || p == event_type
                    || p.strip_suffix(".*").is_some_and(|e| event_type.split('.').next() == Some(e))
            })
    }
}

/// The event type of a record change (`deal.created`).
pub fn event_type(entity: &str, kind: ChangeKind) -> String {
    let verb = match kind {
        ChangeKind::Created => "created",
        ChangeKind::Updated => "updated",
        ChangeKind::Deleted => "deleted",
        ChangeKind::Restored => "restored",
    };
    format!("{entity}.{verb}")
}

/// The body sent for a record change.
pub fn payload(event_key: &str, event_type: &str, event: &ChangeEvent) -> Value {
    serde_json::json!({
        "id": event_key,
        "type": event_type,
        "tenantId": event.tenant_id,
        "occurredAt": crate::runtime::time::format(&event.record.updated_at),
        "data": {"record": event.record, "changedFields": event.changed_fields},
    })
}

const COLUMNS: &str = "id, tenant_id, url, description, events, secrets, active, created_at";

fn from_row(r: &QueryResult, d: Dialect) -> Result<Webhook> {
    Ok(Webhook {
        id: r.try_get("", "id")?,
        tenant_id: r.try_get("", "tenant_id")?,
        url: r.try_get("", "url")?,
        description: r.try_get("", "description")?,
        events: serde_json::from_value(json_col(r, d, "events")?)?,
        secrets: serde_json::from_value(json_col(r, d, "secrets")?)?,
        active: r.try_get("", "active")?,
        created_at: crate::runtime::time::column(r, d, "created_at")?
            .ok_or_else(|| Error::Internal("webhook without time".into()))?,
    })
}

/// Webhooks of a tenant (or of every tenant, for the relay's owner connection).
pub async fn list(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: Option<&str>,
    active_only: bool,
) -> Result<Vec<Webhook>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(COLUMNS).push(" FROM webhooks WHERE 1=1");
    if let Some(t) = tenant_id {
        buf.push(" AND tenant_id = ").bind(t.to_owned());
    }
    if active_only {
        buf.push(" AND active = ").bind(true);
    }
    buf.push(" ORDER BY created_at, id");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| from_row(r, d)).collect()
}

pub async fn get(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Webhook>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(COLUMNS).push(" FROM webhooks WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind(id.to_owned());
    conn.query_one_raw(buf.into_statement()).await?.map(|r| from_row(&r, d)).transpose()
}

/// Inserts or updates a webhook.
pub async fn save(conn: &impl ConnectionTrait, d: Dialect, w: &Webhook, insert: bool) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    if insert {
        buf.push("INSERT INTO webhooks (").push(COLUMNS).push(") VALUES (").bind(w.id.clone()).push(", ");
        buf.bind(w.tenant_id.clone())
            .push(", ")
            .bind(w.url.clone())
            .push(", ")
            .bind(w.description.clone())
            .push(", ");
        buf.bind_json(&w.events)?;
        buf.push(", ");
        buf.bind_json(&w.secrets)?;
        buf.push(", ").bind(w.active).push(", ").bind_ts(w.created_at).push(")");
    } else {
        buf.push("UPDATE webhooks SET url = ")
            .bind(w.url.clone())
            .push(", description = ")
            .bind(w.description.clone());
        buf.push(", events = ");
        buf.bind_json(&w.events)?;
        buf.push(", secrets = ");
        buf.bind_json(&w.secrets)?;
        buf.push(", active = ").bind(w.active).push(" WHERE tenant_id = ").bind(w.tenant_id.clone());
        buf.push(" AND id = ").bind(w.id.clone());
    }
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}

pub async fn delete(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str, id: &str) -> Result<bool> {
    sql::delete_tenant_row(conn, d, "webhooks", tenant_id, id).await
}

/// One delivery.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub id: String,
    pub tenant_id: String,
    pub webhook_id: String,
    pub event_key: String,
    pub event_type: String,
    pub payload: Value,
    pub status: String,
    pub attempts: i32,
    pub response_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

const DELIVERY_COLUMNS: &str = "id, tenant_id, webhook_id, event_key, event_type, payload, status, attempts, \
                                response_status, last_error, created_at, delivered_at";

fn delivery_from_row(r: &QueryResult, d: Dialect) -> Result<Delivery> {
    Ok(Delivery {
        id: r.try_get("", "id")?,
        tenant_id: r.try_get("", "tenant_id")?,
        webhook_id: r.try_get("", "webhook_id")?,
        event_key: r.try_get("", "event_key")?,
        event_type: r.try_get("", "event_type")?,
        payload: json_col(r, d, "payload")?,
        status: r.try_get("", "status")?,
        attempts: r.try_get("", "attempts")?,
        response_status: r.try_get("", "response_status")?,
        last_error: r.try_get("", "last_error")?,
        created_at: crate::runtime::time::column(r, d, "created_at")?
            .ok_or_else(|| Error::Internal("delivery without time".into()))?,
        delivered_at: crate::runtime::time::column(r, d, "delivered_at")?,
    })
}

/// Records a delivery to make; `None` when (webhook, event) was already recorded.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    d: Dialect,
    w: &Webhook,
    event_key: &str,
    event_type: &str,
    payload: &Value,
) -> Result<Option<String>> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut buf = SqlBuf::new(d);
    buf.push("INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_key, event_type, payload, status, created_at) VALUES (");
    buf.bind(id.clone()).push(", ").bind(w.tenant_id.clone()).push(", ").bind(w.id.clone()).push(", ");
    buf.bind(event_key.to_owned()).push(", ").bind(event_type.to_owned()).push(", ");
    buf.bind_json(payload)?;
    buf.push(", 'pending', ")
        .bind_ts(crate::runtime::time::now())
        .push(") ON CONFLICT (webhook_id, event_key) DO NOTHING");
    Ok((conn.execute_raw(buf.into_statement()).await?.rows_affected() == 1).then_some(id))
}

pub async fn get_delivery(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Delivery>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ")
        .push(DELIVERY_COLUMNS)
        .push(" FROM webhook_deliveries WHERE tenant_id = ")
        .bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind(id.to_owned());
    conn.query_one_raw(buf.into_statement()).await?.map(|r| delivery_from_row(&r, d)).transpose()
}

/// Deliveries of a webhook, newest first.
pub async fn deliveries(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    webhook_id: &str,
    first: u64,
) -> Result<Vec<Delivery>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ")
        .push(DELIVERY_COLUMNS)
        .push(" FROM webhook_deliveries WHERE tenant_id = ")
        .bind(tenant_id.to_owned());
    buf.push(" AND webhook_id = ")
        .bind(webhook_id.to_owned())
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push(&first.to_string());
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| delivery_from_row(r, d)).collect()
}

/// Claims a delivery for one attempt (`pending`/`retrying` → `sending`); only the caller that
/// gets `true` may post it, so a duplicate job posts nothing.
pub async fn claim_delivery(conn: &impl ConnectionTrait, d: Dialect, del: &Delivery) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE webhook_deliveries SET status = 'sending', claimed_at = ")
        .bind_ts(crate::runtime::time::now());
    buf.push(" WHERE tenant_id = ").bind(del.tenant_id.clone()).push(" AND id = ").bind(del.id.clone());
    buf.push(" AND status IN ('pending', 'retrying')");
    Ok(conn.execute_raw(buf.into_statement()).await?.rows_affected() == 1)
}

/// Deliveries claimed before `cutoff` and still `sending` (their worker died), of every
/// tenant: (tenant, delivery). Read on the system connection.
pub async fn stale_deliveries(
    conn: &impl ConnectionTrait,
    d: Dialect,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(String, String)>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT tenant_id, id FROM webhook_deliveries WHERE status = 'sending' AND claimed_at < ");
    buf.bind_ts(cutoff).push(" ORDER BY claimed_at LIMIT 500");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "id")?))).collect()
}

/// Sends a delivery back to be posted: a stale claim (`stale_cutoff`: only if still claimed
/// before it) or a `dead` one an administrator retries. Writes the event that queues it.
pub async fn requeue_delivery(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
    stale_cutoff: Option<DateTime<Utc>>,
) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE webhook_deliveries SET status = 'retrying'");
    match stale_cutoff {
        Some(cutoff) => buf
            .push(", attempts = attempts + 1, last_error = ")
            .bind("the worker stopped during delivery".to_owned())
            .push(" WHERE status = 'sending' AND claimed_at < ")
            .bind_ts(cutoff),
        None => buf.push(", last_error = NULL WHERE status = 'dead'"),
    };
    buf.push(" AND tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind(id.to_owned());
    if txn.execute_raw(buf.into_statement()).await?.rows_affected() != 1 {
        return Ok(false);
    }
    outbox::write(txn, d, tenant_id, &WebhookRetry { delivery_id: id.to_owned() }).await?;
    Ok(true)
}

/// Records one attempt.
pub async fn record_attempt(
    conn: &impl ConnectionTrait,
    d: Dialect,
    del: &Delivery,
    status: &str,
    response_status: Option<i32>,
    error: Option<&str>,
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE webhook_deliveries SET status = ")
        .bind(status.to_owned())
        .push(", attempts = attempts + 1");
    buf.push(", response_status = ")
        .bind(response_status)
        .push(", last_error = ")
        .bind(error.map(str::to_owned));
    if status == "delivered" {
        buf.push(", delivered_at = ").bind_ts(crate::runtime::time::now());
    }
    buf.push(" WHERE tenant_id = ").bind(del.tenant_id.clone()).push(" AND id = ").bind(del.id.clone());
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}
