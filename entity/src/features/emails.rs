//! The email outbox in the data layer: queue an email inside the caller's transaction (with an
//! `email.queued` outbox event that becomes a delivery job after commit), and record each
//! delivery attempt. Statuses: `queued` → `sent`; `retrying` after a failed attempt; `dead`
//! after the last attempt; `held` when no SMTP relay is configured (kept, never dropped);
//! `sending` while a worker holds the claim of one attempt. Delivery is at least once: a claim
//! whose worker died is taken back after the lease and the email sent again, which duplicates
//! it only if the relay had already taken the whole message (it then carries the same
//! Message-ID).

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::{Deserialize, Serialize};

use crate::runtime::outbox::{self, EmailQueued};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

/// One email of the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Email {
    pub id: String,
    pub tenant_id: String,
    pub idempotency_key: String,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, tenant_id, idempotency_key, to_address, subject, body, status, attempts, last_error, \
                       message_id, created_at, sent_at";

fn from_row(r: &QueryResult, d: Dialect) -> Result<Email> {
    Ok(Email {
        id: r.try_get("", "id")?,
        tenant_id: r.try_get("", "tenant_id")?,
        idempotency_key: r.try_get("", "idempotency_key")?,
        to_address: r.try_get("", "to_address")?,
        subject: r.try_get("", "subject")?,
        body: r.try_get("", "body")?,
        status: r.try_get("", "status")?,
        attempts: r.try_get("", "attempts")?,
        last_error: r.try_get("", "last_error")?,
        message_id: r.try_get("", "message_id")?,
        created_at: crate::runtime::time::column(r, d, "created_at")?
            .ok_or_else(|| Error::Internal("email without time".into()))?,
        sent_at: crate::runtime::time::column(r, d, "sent_at")?,
    })
}

/// What to send.
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    /// Unique per tenant: queueing the same key twice sends once.
    pub idempotency_key: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Queues an email inside `txn`; returns its id (the existing one for a repeated key).
pub async fn queue(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    e: &NewEmail<'_>,
) -> Result<String> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT id FROM emails WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND idempotency_key = ").bind(e.idempotency_key.to_owned());
    if let Some(row) = txn.query_one_raw(buf.into_statement()).await? {
        return Ok(row.try_get("", "id")?);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let mut buf = SqlBuf::new(d);
    buf.push("INSERT INTO emails (id, tenant_id, idempotency_key, to_address, subject, body, status, created_at) VALUES (");
    buf.bind(id.clone()).push(", ").bind(tenant_id.to_owned()).push(", ").bind(e.idempotency_key.to_owned());
    buf.push(", ")
        .bind(e.to.to_owned())
        .push(", ")
        .bind(e.subject.to_owned())
        .push(", ")
        .bind(e.body.to_owned());
    buf.push(", 'queued', ").bind_ts(crate::runtime::time::now()).push(")");
    txn.execute_raw(buf.into_statement()).await?;
    queued(txn, d, tenant_id, &id).await?;
    Ok(id)
}

/// One email by id.
pub async fn get(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Email>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(COLUMNS).push(" FROM emails WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind(id.to_owned());
    conn.query_one_raw(buf.into_statement()).await?.map(|r| from_row(&r, d)).transpose()
}

/// A tenant's emails, newest first, optionally of one status.
pub async fn list(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    status: Option<&str>,
    first: u64,
) -> Result<Vec<Email>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(COLUMNS).push(" FROM emails WHERE tenant_id = ").bind(tenant_id.to_owned());
    if let Some(s) = status {
        buf.push(" AND status = ").bind(s.to_owned());
    }
    buf.push(" ORDER BY created_at DESC, id DESC LIMIT ").push(&first.to_string());
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| from_row(r, d)).collect()
}

/// Claims an email for one delivery attempt (`queued`/`retrying` → `sending`). Only the
/// caller that gets `true` may send it; a duplicate job gets `false` and does nothing.
pub async fn claim(conn: &impl ConnectionTrait, d: Dialect, e: &Email) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE emails SET status = 'sending', claimed_at = ").bind_ts(crate::runtime::time::now());
    buf.push(" WHERE tenant_id = ").bind(e.tenant_id.clone());
    buf.push(" AND id = ").bind(e.id.clone()).push(" AND status IN ('queued', 'retrying')");
    Ok(conn.execute_raw(buf.into_statement()).await?.rows_affected() == 1)
}

/// Records the outcome of one delivery attempt.
pub async fn record_attempt(
    conn: &impl ConnectionTrait,
    d: Dialect,
    e: &Email,
    status: &str,
    error: Option<&str>,
    message_id: Option<&str>,
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE emails SET status = ").bind(status.to_owned());
    buf.push(", attempts = attempts + 1, last_error = ").bind(error.map(str::to_owned));
    buf.push(", message_id = COALESCE(").bind(message_id.map(str::to_owned)).push(", message_id)");
    if status == "sent" {
        buf.push(", sent_at = ").bind_ts(crate::runtime::time::now());
    }
    buf.push(" WHERE tenant_id = ").bind(e.tenant_id.clone()).push(" AND id = ").bind(e.id.clone());
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}

/// Puts a dead (or held) email back in the queue: it is delivered again by a new job.
pub async fn requeue(txn: &impl ConnectionTrait, d: Dialect, tenant_id: &str, id: &str) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE emails SET status = 'queued', last_error = NULL WHERE tenant_id = ")
        .bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind(id.to_owned()).push(" AND status IN ('dead', 'held')");
    let changed = txn.execute_raw(buf.into_statement()).await?.rows_affected() > 0;
    if changed {
        queued(txn, d, tenant_id, id).await?;
    }
    Ok(changed)
}

/// Emails claimed before `cutoff` and still `sending`, of every tenant: their worker died
/// mid-delivery (a live one finishes or times out well within the lease). Read on the system
/// connection.
pub async fn stale_claims(
    conn: &impl ConnectionTrait,
    d: Dialect,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(String, String)>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT tenant_id, id FROM emails WHERE status = 'sending' AND claimed_at < ").bind_ts(cutoff);
    buf.push(" ORDER BY claimed_at LIMIT 500");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "id")?))).collect()
}

/// Puts a stale claim back in the queue (counted as a failed attempt), with the event that
/// makes a worker deliver it; `false` when it moved meanwhile.
pub async fn release_stale(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<bool> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE emails SET status = 'retrying', attempts = attempts + 1, last_error = ")
        .bind("the worker stopped during delivery".to_owned());
    buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind(id.to_owned());
    buf.push(" AND status = 'sending' AND claimed_at < ").bind_ts(cutoff);
    let changed = txn.execute_raw(buf.into_statement()).await?.rows_affected() > 0;
    if changed {
        queued(txn, d, tenant_id, id).await?;
    }
    Ok(changed)
}

/// The outbox event that hands email `id` to the workers.
async fn queued(txn: &impl ConnectionTrait, d: Dialect, tenant_id: &str, id: &str) -> Result<()> {
    outbox::write(txn, d, tenant_id, &EmailQueued { email_id: id.to_owned() }).await
}
