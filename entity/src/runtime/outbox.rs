//! The outbox: what a transaction tells the rest of the system, written in the transaction of
//! the change it is about, so it exists exactly when the change committed. Every event is one
//! `OutboxEvent`; a row holds its topic and its JSON payload. The tailer (`jobs::outbox`)
//! publishes the events live subscribers need; the job relay (`jobs::relay`) turns those that
//! need work into jobs. Both read rows back with `OutboxEvent::decode`, and match on the enum.
//!
//! Rows written by earlier versions read back unchanged: each payload keeps the keys it had
//! when it was a hand-built JSON object.
//!
//! A write also marks the task it runs in (`tracked`), so that whoever ran the transaction can
//! wake the tailers once it has committed (`jobs::Dispatcher::wake`) — the request, the socket
//! operation or the job, not each place that writes.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::notifications::Notification;
use super::sql::SqlBuf;
use super::store::ChangeEvent;
use super::time;
use crate::pipeline::Exec;
use crate::{Dialect, Error, Result};

/// Topic of a record change (`OutboxEvent::RecordChanged`); the tailer compares it before it
/// parses a payload, as most record changes have no listener on an instance.
pub const RECORD_CHANGED: &str = "record.changed";
const METADATA_CHANGED: &str = "metadata.changed";
const NOTIFICATION_CREATED: &str = "notification.created";
const SESSION_REVOKED: &str = "session.revoked";
const ACCESS_CHANGED: &str = "access.changed";
const EMAIL_QUEUED: &str = "email.queued";
const WORKFLOW_MANUAL: &str = "workflow.manual";
const WORKFLOW_RESUME: &str = "workflow.resume";
const WEBHOOK_RETRY: &str = "webhook.retry";
const INDEX_SLOT: &str = "index.slot";

/// The topics the job relay claims: the others are news for subscribers only.
pub const WORK_TOPICS: [&str; 6] =
    [RECORD_CHANGED, EMAIL_QUEUED, WORKFLOW_MANUAL, WORKFLOW_RESUME, WEBHOOK_RETRY, INDEX_SLOT];

/// One event of the outbox.
#[derive(Debug, Clone)]
pub enum OutboxEvent {
    /// A record was created, updated, deleted or restored (subscriptions, workflows, webhooks).
    RecordChanged(Box<ChangeEvent>),
    /// A tenant's definitions changed: cached schemas and sockets of the tenant start over.
    MetadataChanged(MetadataChanged),
    /// A new in-app notification for one user.
    NotificationCreated(Box<Notification>),
    /// A session or an API key (by id) was revoked: its sockets close.
    SessionRevoked(SessionRevoked),
    /// What a holder of a role, or a user, may access has changed.
    AccessChanged(AccessChanged),
    /// An email to send (`emails`).
    EmailQueued(EmailQueued),
    /// A logged workflow run to execute on a record as it is now: manual runs (`runWorkflow`),
    /// inbound webhooks and relative-date triggers.
    WorkflowManual(WorkflowManual),
    /// A waiting workflow run to continue once its time has come.
    WorkflowResume(WorkflowResume),
    /// A dead webhook delivery to try again.
    WebhookRetry(WebhookRetry),
    /// An index slot of a large entity to fill or clear in batches (`indexes`).
    IndexSlot(IndexSlot),
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

/// `OutboxEvent::IndexSlot`: the slot by its name (`indexes::Slot::name`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexSlot {
    pub entity_id: String,
    pub slot: String,
}

impl OutboxEvent {
    /// The row's topic and payload.
    pub fn encode(&self) -> Result<(&'static str, Value)> {
        let json = |v: serde_json::Result<Value>| v.map_err(Error::from);
        Ok(match self {
            OutboxEvent::RecordChanged(e) => (RECORD_CHANGED, json(serde_json::to_value(e))?),
            OutboxEvent::MetadataChanged(e) => (METADATA_CHANGED, json(serde_json::to_value(e))?),
            OutboxEvent::NotificationCreated(e) => (NOTIFICATION_CREATED, json(serde_json::to_value(e))?),
            OutboxEvent::SessionRevoked(e) => (SESSION_REVOKED, json(serde_json::to_value(e))?),
            OutboxEvent::AccessChanged(e) => (ACCESS_CHANGED, json(serde_json::to_value(e))?),
            OutboxEvent::EmailQueued(e) => (EMAIL_QUEUED, json(serde_json::to_value(e))?),
            OutboxEvent::WorkflowManual(e) => (WORKFLOW_MANUAL, json(serde_json::to_value(e))?),
            OutboxEvent::WorkflowResume(e) => (WORKFLOW_RESUME, json(serde_json::to_value(e))?),
            OutboxEvent::WebhookRetry(e) => (WEBHOOK_RETRY, json(serde_json::to_value(e))?),
            OutboxEvent::IndexSlot(e) => (INDEX_SLOT, json(serde_json::to_value(e))?),
        })
    }

    /// The event of a row; `None` for a topic this version does not know (logged by the
    /// reader), an error for a payload that does not fit its topic.
    pub fn decode(topic: &str, payload: Value) -> Result<Option<OutboxEvent>> {
        fn of<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T> {
            Ok(serde_json::from_value(payload)?)
        }
        Ok(Some(match topic {
            RECORD_CHANGED => OutboxEvent::RecordChanged(Box::new(of(payload)?)),
            METADATA_CHANGED => OutboxEvent::MetadataChanged(of(payload)?),
            NOTIFICATION_CREATED => OutboxEvent::NotificationCreated(Box::new(of(payload)?)),
            SESSION_REVOKED => OutboxEvent::SessionRevoked(of(payload)?),
            ACCESS_CHANGED => OutboxEvent::AccessChanged(of(payload)?),
            EMAIL_QUEUED => OutboxEvent::EmailQueued(of(payload)?),
            WORKFLOW_MANUAL => OutboxEvent::WorkflowManual(of(payload)?),
            WORKFLOW_RESUME => OutboxEvent::WorkflowResume(of(payload)?),
            WEBHOOK_RETRY => OutboxEvent::WebhookRetry(of(payload)?),
            INDEX_SLOT => OutboxEvent::IndexSlot(of(payload)?),
            _ => return Ok(None),
        }))
    }

    /// The event of a row read as text (a payload the database gave back as text).
    pub fn decode_text(topic: &str, payload: &str) -> Result<Option<OutboxEvent>> {
        OutboxEvent::decode(topic, serde_json::from_str(payload)?)
    }
}

/// Appends `event` inside `txn`.
pub async fn write(txn: &impl Exec, d: Dialect, tenant_id: &str, event: &OutboxEvent) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    push(&mut buf, tenant_id, event)?;
    txn.execute(buf.into_statement()).await
}

/// The INSERT of `event` (for a statement that carries several writes).
pub fn push(buf: &mut SqlBuf, tenant_id: &str, event: &OutboxEvent) -> Result<()> {
    let (topic, payload) = event.encode()?;
    push_row(buf, tenant_id, topic, &payload, |buf: &mut SqlBuf| {
        buf.push("NULL");
    })
}

/// The INSERT of a row whose `dispatched_at` is the expression `dispatched` writes (`NULL`:
/// the job relay claims the row), for a payload already encoded (a record change's, written
/// with its write: `store`).
pub(crate) fn push_row(
    buf: &mut SqlBuf,
    tenant_id: &str,
    topic: &'static str,
    payload: &Value,
    dispatched: impl FnOnce(&mut SqlBuf),
) -> Result<()> {
    written();
    buf.push("INSERT INTO outbox (tenant_id, topic, payload, created_at, dispatched_at) VALUES (");
    buf.bind(tenant_id.to_owned()).push(", ").bind(topic.to_owned()).push(", ");
    buf.bind_json(payload)?;
    buf.push(", ").bind_ts(time::now()).push(", ");
    dispatched(buf);
    buf.push(")");
    Ok(())
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

    /// Every variant reads back as itself, under the topic and with the payload keys rows
    /// have always had.
    #[test]
    fn every_event_reads_back_from_its_row() {
        let at: DateTime<Utc> = "2026-12-05T10:00:00Z".parse().expect("a time");
        let events = [
            (
                OutboxEvent::MetadataChanged(MetadataChanged { tenant_id: "t".into(), version: 3 }),
                serde_json::json!({"tenantId": "t", "version": 3}),
            ),
            (
                OutboxEvent::SessionRevoked(SessionRevoked { session_id: "s".into() }),
                serde_json::json!({"sessionId": "s"}),
            ),
            (
                OutboxEvent::AccessChanged(AccessChanged { role_id: Some("r".into()), user_id: None }),
                serde_json::json!({"roleId": "r", "userId": null}),
            ),
            (
                OutboxEvent::EmailQueued(EmailQueued { email_id: "e".into() }),
                serde_json::json!({"emailId": "e"}),
            ),
            (
                OutboxEvent::WorkflowManual(WorkflowManual {
                    workflow_id: "w".into(),
                    record_id: "r".into(),
                    run_id: "n".into(),
                    payload: Some(serde_json::json!({"k": 1})),
                }),
                serde_json::json!({"workflowId": "w", "recordId": "r", "runId": "n", "payload": {"k": 1}}),
            ),
            (
                OutboxEvent::WorkflowResume(WorkflowResume {
                    run_id: "n".into(),
                    position: 2,
                    attempts: Some(1),
                    resume_at: at,
                }),
                serde_json::json!({"runId": "n", "position": 2, "attempts": 1, "resumeAt": "2026-12-05T10:00:00Z"}),
            ),
            (
                OutboxEvent::WebhookRetry(WebhookRetry { delivery_id: "d".into() }),
                serde_json::json!({"deliveryId": "d"}),
            ),
            (
                OutboxEvent::IndexSlot(IndexSlot { entity_id: "e".into(), slot: "num1".into() }),
                serde_json::json!({"entityId": "e", "slot": "num1"}),
            ),
        ];
        for (event, payload) in events {
            let (topic, written) = event.encode().expect("encodes");
            assert_eq!(written, payload, "{topic}");
            let back = OutboxEvent::decode(topic, written).expect("decodes").expect("a known topic");
            assert_eq!(format!("{back:?}"), format!("{event:?}"));
        }
        assert!(OutboxEvent::decode("no.such.topic", serde_json::json!({})).expect("no error").is_none());
        assert!(OutboxEvent::decode(EMAIL_QUEUED, serde_json::json!({"id": 1})).is_err());
    }

    /// What earlier versions wrote still reads: a resume time with an offset and no attempts.
    #[test]
    fn rows_of_earlier_versions_still_read() {
        let old = serde_json::json!({"runId": "n", "position": 0, "resumeAt": "2026-12-05T10:00:00+00:00"});
        let Some(OutboxEvent::WorkflowResume(r)) =
            OutboxEvent::decode(WORKFLOW_RESUME, old).expect("decodes")
        else {
            panic!("a resume");
        };
        assert_eq!((r.attempts, r.resume_at.to_rfc3339()), (None, "2026-12-05T10:00:00+00:00".to_owned()));
    }

    /// A write marks the unit of work it runs in, polled as a whole or poll by poll; nothing
    /// else does, and nothing outside a unit of work is marked.
    #[tokio::test]
    async fn a_write_marks_the_unit_of_work_it_runs_in() {
        let event = OutboxEvent::EmailQueued(EmailQueued { email_id: "e".into() });
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
