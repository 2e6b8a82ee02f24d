//! The outbox: what a transaction tells the rest of the system, written in the transaction of
//! the change it is about, so it exists exactly when the change committed. A row holds a topic
//! and a JSON payload. Each kind of event is a type that says its topic (`Event`): the record
//! store's `ChangeEvent`, a `Notification`, and the small payloads below; whoever writes one
//! calls `write` or `push` with it. The readers — the tailer (`jobs::outbox`), which publishes
//! what live subscribers need, and the job relay (`jobs::relay`), which turns what needs work
//! into jobs — read rows back as one enum (`events::OutboxEvent`) and match on it.
//!
//! This module is below the features whose events it carries (they import it to write), and
//! the enum that names them all is above them (`events`), so neither imports the other.
//!
//! Rows written by earlier versions read back unchanged: each payload keeps the keys it had
//! when it was a hand-built JSON object.
//!
//! A write also marks the task it runs in (`tracked`), so that whoever ran the transaction can
//! wake the tailers once it has committed (`jobs::Dispatcher::wake`) — the request, the socket
//! operation or the job, not each place that writes.

pub mod events;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time;
use crate::pipeline::Exec;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// A kind of outbox event: its payload is the type's JSON form, under `TOPIC`.
pub trait Event: Serialize {
    const TOPIC: &'static str;
    /// Whether the job relay takes it (`events::WORK_TOPICS`). News for subscribers only is
    /// written as dispatched already, so the relay's scan of undispatched rows never meets it
    /// (an audit entry's news comes with every write).
    const WORK: bool = true;
}

/// `OutboxEvent::MetadataChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetadataChanged {
    pub tenant_id: String,
    pub version: i64,
}

/// `OutboxEvent::SessionRevoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRevoked {
    pub session_id: String,
}

/// `OutboxEvent::AccessChanged`: a role's holders (`role_id`), one user (`user_id`), or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessChanged {
    pub role_id: Option<String>,
    pub user_id: Option<String>,
}

/// `OutboxEvent::EmailQueued`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailQueued {
    pub email_id: String,
}

/// `OutboxEvent::WorkflowManual`, with the inbound body of a webhook trigger (`payload`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowManual {
    pub workflow_id: String,
    pub record_id: String,
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// `OutboxEvent::WorkflowResume`: one parking of a run, named by the action it continues at
/// and the attempt count it was parked with, so a duplicate of an older resume job cannot take
/// a later parking (rows from before attempts were recorded have none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowResume {
    pub run_id: String,
    pub position: usize,
    #[serde(default)]
    pub attempts: Option<i32>,
    pub resume_at: DateTime<Utc>,
}

/// `OutboxEvent::WebhookRetry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRetry {
    pub delivery_id: String,
}

/// `OutboxEvent::IndexSlot`: the slot by its name (`slot::Slot::name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexSlot {
    pub entity_id: String,
    pub slot: String,
}

/// `OutboxEvent::SearchBuild`: an entity whose searchable fields' entries are still to be
/// written (`search::run_job`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchBuild {
    pub entity_id: String,
}

/// The topics of the payloads defined here (the record store's and the notifications' own
/// types name theirs where they are defined).
macro_rules! topics {
    ($($event:ty => $topic:literal),* $(,)?) => {
        $(impl Event for $event {
            const TOPIC: &'static str = $topic;
        })*
    };
}

topics! {
    MetadataChanged => "metadata.changed",
    SessionRevoked => "session.revoked",
    AccessChanged => "access.changed",
    EmailQueued => "email.queued",
    WorkflowManual => "workflow.manual",
    WorkflowResume => "workflow.resume",
    WebhookRetry => "webhook.retry",
    IndexSlot => "index.slot",
    SearchBuild => "search.build",
}

/// Appends `event` inside `txn`.
pub async fn write<E: Event>(txn: &impl Exec, d: Dialect, tenant_id: &str, event: &E) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    push(&mut buf, tenant_id, event)?;
    txn.execute(buf.into_statement()).await
}

/// The INSERT of `event` (for a statement that carries several writes).
pub fn push<E: Event>(buf: &mut SqlBuf, tenant_id: &str, event: &E) -> Result<()> {
    let payload = serde_json::to_value(event)?;
    push_row(buf, tenant_id, E::TOPIC, &payload, |buf: &mut SqlBuf| {
        dispatched::<E>(buf);
    })
}

/// `dispatched_at` of a new row of `E`: `NULL` (the relay claims it) for work, now for news.
fn dispatched<E: Event>(buf: &mut SqlBuf) {
    if E::WORK {
        buf.push("NULL");
    } else {
        buf.bind_ts(time::now());
    }
}

/// The INSERT of an event of `E` whose payload the statement computes: `payload` writes a SQL
/// expression of a JSON object over the rows of `from` (an earlier part of the same statement,
/// such as the audit head a PostgreSQL append advances), for a value only the database knows.
pub(crate) fn push_computed<E: Event>(
    buf: &mut SqlBuf,
    tenant_id: &str,
    payload: impl FnOnce(&mut SqlBuf),
    from: &str,
) {
    written();
    buf.push("INSERT INTO outbox (tenant_id, topic, payload, created_at, dispatched_at) SELECT ");
    buf.bind(tenant_id.to_owned()).push(", ").bind(E::TOPIC.to_owned()).push(", ");
    payload(buf);
    buf.push(", ").bind_ts(time::now()).push(", ");
    dispatched::<E>(buf);
    buf.push(" FROM ").push(from);
}

/// The INSERT of a row whose `dispatched_at` is the expression `dispatched` writes (`NULL`:
/// the job relay claims the row), for a payload already encoded (a record change's, whose
/// `dispatched_at` depends on who watches: `store`).
pub(crate) fn push_row(
    buf: &mut SqlBuf,
    tenant_id: &str,
    topic: &'static str,
    payload: &Value,
    dispatched: impl Fn(&mut SqlBuf),
) -> Result<()> {
    push_rows(buf, tenant_id, topic, std::slice::from_ref(payload), dispatched)
}

/// [`push_row`] of many payloads of one topic: one multi-row INSERT (a batch of writes).
pub(crate) fn push_rows(
    buf: &mut SqlBuf,
    tenant_id: &str,
    topic: &'static str,
    payloads: &[Value],
    dispatched: impl Fn(&mut SqlBuf),
) -> Result<()> {
    written();
    buf.push("INSERT INTO outbox (tenant_id, topic, payload, created_at, dispatched_at) VALUES ");
    let now = time::now();
    for (i, payload) in payloads.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.push("(").bind(tenant_id.to_owned()).push(", ").bind(topic.to_owned()).push(", ");
        buf.bind_json(payload)?;
        buf.push(", ").bind_ts(now).push(", ");
        dispatched(buf);
        buf.push(")");
    }
    Ok(())
}

/// The INSERT of `events` of `E` (one statement, for a batch of writes).
pub fn push_many<E: Event>(buf: &mut SqlBuf, tenant_id: &str, events: &[E]) -> Result<()> {
    let payloads = events.iter().map(serde_json::to_value).collect::<serde_json::Result<Vec<_>>>()?;
    push_rows(buf, tenant_id, E::TOPIC, &payloads, |buf: &mut SqlBuf| dispatched::<E>(buf))
}

tokio::task_local! {
    static WRITTEN: Arc<AtomicBool>;
}

/// Runs `f`; the flag says whether it wrote to the outbox (in a transaction that may or may
/// not have committed: a wake after a rollback only costs the tailer one empty look).
pub async fn tracked<F: Future>(f: F) -> (F::Output, bool) {
    let flag = Arc::new(AtomicBool::new(false));
    let out = WRITTEN.scope(flag.clone(), f).await;
    (out, flag.load(Ordering::Relaxed))
}

/// Runs `f` (one poll of a longer-lived operation, such as a socket's stream) in `flag`'s
/// scope.
pub fn tracked_sync<R>(flag: &Arc<AtomicBool>, f: impl FnOnce() -> R) -> R {
    WRITTEN.sync_scope(flag.clone(), f)
}

/// Marks the current task as having written to the outbox.
fn written() {
    let _ = WRITTEN.try_with(|w| w.store(true, Ordering::Relaxed));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write marks the unit of work it runs in, polled as a whole or poll by poll; nothing
    /// else does, and nothing outside a unit of work is marked.
    #[tokio::test]
    async fn a_write_marks_the_unit_of_work_it_runs_in() {
        let event = EmailQueued { email_id: "e".into() };
        let write = || {
            let mut buf = SqlBuf::new(Dialect::Sqlite);
            push(&mut buf, "t", &event).expect("an insert");
        };
        let ((), wrote) = tracked(async { write() }).await;
        assert!(wrote);
        let ((), wrote) = tracked(async {}).await;
        assert!(!wrote);
        let flag = Arc::new(AtomicBool::new(false));
        tracked_sync(&flag, write);
        assert!(flag.load(Ordering::Relaxed));
        write();
    }
}
