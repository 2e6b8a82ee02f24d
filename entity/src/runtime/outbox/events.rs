//! The outbox's events as one enum, for the readers (the tailer and the job relay in `jobs`):
//! a row's topic and payload decoded into the event type its writer wrote, matched
//! exhaustively, so a new kind of event shows every reader that must handle it. Above the
//! features whose event types it names; writers use `outbox::write` with their own type.

use serde_json::Value;

use super::{
    AccessChanged, EmailQueued, Event, IndexSlot, MetadataChanged, SearchBuild, SessionRevoked, WebhookRetry,
    WorkflowManual, WorkflowResume,
};
use crate::features::approvals::flow::RequestChanged;
use crate::features::confidence::backfill::BackfillQueued;
use crate::features::emails::{EmailChanged, EmailSent};
use crate::features::exports::jobs::{ExportChanged, ExportQueued};
use crate::features::imports::{ImportChanged, ImportQueued};
use crate::features::notifications::Notification;
use crate::features::webhooks::DeliveryChanged;
use crate::features::workflows::RunChanged;
use crate::runtime::audit::AuditAppended;
use crate::runtime::record::ChangeEvent;
use crate::runtime::stock::BelowReorder;
use crate::{Error, Result};

/// The topics the job relay claims: the others are news for subscribers only.
pub const WORK_TOPICS: [&str; 12] = [
    ChangeEvent::TOPIC,
    EmailQueued::TOPIC,
    EmailSent::TOPIC,
    WorkflowManual::TOPIC,
    WorkflowResume::TOPIC,
    WebhookRetry::TOPIC,
    IndexSlot::TOPIC,
    ExportQueued::TOPIC,
    SearchBuild::TOPIC,
    ImportQueued::TOPIC,
    BelowReorder::TOPIC,
    BackfillQueued::TOPIC,
];

/// One event of the outbox.
#[derive(Debug, Clone)]
pub enum OutboxEvent {
    /// A record was created, updated, deleted or restored (subscriptions, workflows, webhooks).
    RecordChanged(Box<ChangeEvent>),
    /// A tenant's definitions changed: cached schemas and sockets of the tenant start over.
    MetadataChanged(MetadataChanged),
    /// A new in-app notification for one user.
    NotificationCreated(Box<Notification>),
    /// A workflow run's status changed (`workflowRunChanged`).
    WorkflowRunChanged(Box<RunChanged>),
    /// An approval request was created or moved (`approvalRequestChanged`).
    ApprovalRequestChanged(Box<RequestChanged>),
    /// An audit entry was appended (`auditAppended`).
    AuditAppended(AuditAppended),
    /// An email's status changed (`emailChanged`, `deadJobAdded`).
    EmailChanged(EmailChanged),
    /// A webhook delivery's status changed (`webhookDeliveryChanged`, `deadJobAdded`).
    WebhookDeliveryChanged(DeliveryChanged),
    /// A session or an API key (by id) was revoked: its sockets close.
    SessionRevoked(SessionRevoked),
    /// What a holder of a role, or a user, may access has changed.
    AccessChanged(AccessChanged),
    /// An email to send (`emails`).
    EmailQueued(EmailQueued),
    /// An email about a record was sent: the record's confidence score may move.
    EmailSent(EmailSent),
    /// A logged workflow run to execute on a record as it is now: manual runs (`runWorkflow`),
    /// inbound webhooks and relative-date triggers.
    WorkflowManual(WorkflowManual),
    /// A waiting workflow run to continue once its time has come.
    WorkflowResume(WorkflowResume),
    /// A dead webhook delivery to try again.
    WebhookRetry(WebhookRetry),
    /// An index slot of a large entity to fill or clear in batches (`indexes`).
    IndexSlot(IndexSlot),
    /// An export to write to a file (`exportRecords`).
    ExportQueued(ExportQueued),
    /// An export job's status or progress changed (`exportChanged`).
    ExportChanged(ExportChanged),
    /// A searchable field's entries to write for a large entity's records (`search`).
    SearchBuild(SearchBuild),
    /// A CSV import to run, or to take over from a worker that fell silent.
    ImportQueued(ImportQueued),
    /// An import's status or progress changed (`importChanged`).
    ImportChanged(ImportChanged),
    /// A stock balance fell below its item's reorder level: the item's `stock_below_reorder`
    /// workflows to run.
    StockBelowReorder(BelowReorder),
    /// A tenant's open pipeline records to score (a page from a cursor): it set its confidence
    /// weights.
    ConfidenceBackfill(BackfillQueued),
}

impl OutboxEvent {
    /// The row's topic and payload, as its writer wrote them.
    pub fn encode(&self) -> Result<(&'static str, Value)> {
        fn row<E: Event>(e: &E) -> Result<(&'static str, Value)> {
            Ok((E::TOPIC, serde_json::to_value(e).map_err(Error::from)?))
        }
        match self {
            OutboxEvent::RecordChanged(e) => row(e.as_ref()),
            OutboxEvent::MetadataChanged(e) => row(e),
            OutboxEvent::NotificationCreated(e) => row(e.as_ref()),
            OutboxEvent::WorkflowRunChanged(e) => row(e.as_ref()),
            OutboxEvent::ApprovalRequestChanged(e) => row(e.as_ref()),
            OutboxEvent::AuditAppended(e) => row(e),
            OutboxEvent::EmailChanged(e) => row(e),
            OutboxEvent::WebhookDeliveryChanged(e) => row(e),
            OutboxEvent::SessionRevoked(e) => row(e),
            OutboxEvent::AccessChanged(e) => row(e),
            OutboxEvent::EmailQueued(e) => row(e),
            OutboxEvent::EmailSent(e) => row(e),
            OutboxEvent::WorkflowManual(e) => row(e),
            OutboxEvent::WorkflowResume(e) => row(e),
            OutboxEvent::WebhookRetry(e) => row(e),
            OutboxEvent::IndexSlot(e) => row(e),
            OutboxEvent::ExportQueued(e) => row(e),
            OutboxEvent::ExportChanged(e) => row(e),
            OutboxEvent::SearchBuild(e) => row(e),
            OutboxEvent::ImportQueued(e) => row(e),
            OutboxEvent::ImportChanged(e) => row(e),
            OutboxEvent::StockBelowReorder(e) => row(e),
            OutboxEvent::ConfidenceBackfill(e) => row(e),
        }
    }

    /// The event of a row; `None` for a topic this version does not know (logged by the
    /// reader), an error for a payload that does not fit its topic.
    pub fn decode(topic: &str, payload: Value) -> Result<Option<OutboxEvent>> {
        fn of<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T> {
            Ok(serde_json::from_value(payload)?)
        }
        Ok(Some(match topic {
            ChangeEvent::TOPIC => OutboxEvent::RecordChanged(Box::new(of(payload)?)),
            MetadataChanged::TOPIC => OutboxEvent::MetadataChanged(of(payload)?),
            Notification::TOPIC => OutboxEvent::NotificationCreated(Box::new(of(payload)?)),
            RunChanged::TOPIC => OutboxEvent::WorkflowRunChanged(Box::new(of(payload)?)),
            RequestChanged::TOPIC => OutboxEvent::ApprovalRequestChanged(Box::new(of(payload)?)),
            AuditAppended::TOPIC => OutboxEvent::AuditAppended(of(payload)?),
            EmailChanged::TOPIC => OutboxEvent::EmailChanged(of(payload)?),
            DeliveryChanged::TOPIC => OutboxEvent::WebhookDeliveryChanged(of(payload)?),
            SessionRevoked::TOPIC => OutboxEvent::SessionRevoked(of(payload)?),
            AccessChanged::TOPIC => OutboxEvent::AccessChanged(of(payload)?),
            EmailQueued::TOPIC => OutboxEvent::EmailQueued(of(payload)?),
            EmailSent::TOPIC => OutboxEvent::EmailSent(of(payload)?),
            WorkflowManual::TOPIC => OutboxEvent::WorkflowManual(of(payload)?),
            WorkflowResume::TOPIC => OutboxEvent::WorkflowResume(of(payload)?),
            WebhookRetry::TOPIC => OutboxEvent::WebhookRetry(of(payload)?),
            IndexSlot::TOPIC => OutboxEvent::IndexSlot(of(payload)?),
            ExportQueued::TOPIC => OutboxEvent::ExportQueued(of(payload)?),
            ExportChanged::TOPIC => OutboxEvent::ExportChanged(of(payload)?),
            SearchBuild::TOPIC => OutboxEvent::SearchBuild(of(payload)?),
            ImportQueued::TOPIC => OutboxEvent::ImportQueued(of(payload)?),
            ImportChanged::TOPIC => OutboxEvent::ImportChanged(of(payload)?),
            BelowReorder::TOPIC => OutboxEvent::StockBelowReorder(of(payload)?),
            BackfillQueued::TOPIC => OutboxEvent::ConfidenceBackfill(of(payload)?),
            _ => return Ok(None),
        }))
    }

    /// The event of a row read as text (a payload the database gave back as text).
    pub fn decode_text(topic: &str, payload: &str) -> Result<Option<OutboxEvent>> {
        OutboxEvent::decode(topic, serde_json::from_str(payload)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

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
                OutboxEvent::EmailSent(EmailSent {
                    email_id: "e".into(),
                    entity_id: "n".into(),
                    record_id: "r".into(),
                }),
                serde_json::json!({"emailId": "e", "entityId": "n", "recordId": "r"}),
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
            (
                OutboxEvent::SearchBuild(SearchBuild { entity_id: "e".into() }),
                serde_json::json!({"entityId": "e"}),
            ),
            (
                OutboxEvent::ImportQueued(ImportQueued { import_id: "i".into() }),
                serde_json::json!({"importId": "i"}),
            ),
            (
                OutboxEvent::ConfidenceBackfill(BackfillQueued { after: Some("c".into()) }),
                serde_json::json!({"after": "c"}),
            ),
            (
                OutboxEvent::ImportChanged(ImportChanged {
                    tenant_id: "t".into(),
                    import_id: "i".into(),
                    status: "running".into(),
                    processed_rows: 500,
                }),
                serde_json::json!({"tenantId": "t", "importId": "i", "status": "running", "processedRows": 500}),
            ),
            (
                OutboxEvent::AuditAppended(AuditAppended { tenant_id: "t".into(), seq: 7 }),
                serde_json::json!({"tenantId": "t", "seq": 7}),
            ),
            (
                OutboxEvent::EmailChanged(EmailChanged {
                    tenant_id: "t".into(),
                    email_id: "e".into(),
                    status: "sent".into(),
                }),
                serde_json::json!({"tenantId": "t", "emailId": "e", "status": "sent"}),
            ),
            (
                OutboxEvent::WebhookDeliveryChanged(DeliveryChanged {
                    tenant_id: "t".into(),
                    delivery_id: "d".into(),
                    status: "dead".into(),
                }),
                serde_json::json!({"tenantId": "t", "deliveryId": "d", "status": "dead"}),
            ),
            (
                OutboxEvent::WorkflowRunChanged(Box::new(RunChanged {
                    tenant_id: "t".into(),
                    run: crate::features::workflows::Run {
                        id: "n".into(),
                        workflow_id: "w".into(),
                        record_id: None,
                        status: "running".into(),
                        depth: 0,
                        attempts: 0,
                        error: None,
                        started_at: at,
                        finished_at: None,
                    },
                })),
                serde_json::json!({"tenantId": "t", "id": "n", "workflowId": "w", "recordId": null,
                    "status": "running", "depth": 0, "attempts": 0, "error": null,
                    "startedAt": "2026-12-05T10:00:00Z", "finishedAt": null}),
            ),
            (
                OutboxEvent::ApprovalRequestChanged(Box::new(RequestChanged {
                    request: crate::features::approvals::Request {
                        id: "q".into(),
                        tenant_id: "t".into(),
                        policy_id: "p".into(),
                        entity_id: "e".into(),
                        record_id: "r".into(),
                        state: crate::features::approvals::State::PendingApproval,
                        stage: Some(0),
                        stage_due_at: None,
                        escalated: false,
                        requested_by: Some("u".into()),
                        created_at: at,
                        updated_at: at,
                    },
                    roles: vec!["approver".into()],
                })),
                serde_json::json!({"id": "q", "tenantId": "t", "policyId": "p", "entityId": "e",
                    "recordId": "r", "state": "PENDING_APPROVAL", "stage": 0, "stageDueAt": null,
                    "escalated": false, "requestedBy": "u", "createdAt": "2026-12-05T10:00:00Z",
                    "updatedAt": "2026-12-05T10:00:00Z", "roles": ["approver"]}),
            ),
        ];
        for (event, payload) in events {
            let (topic, written) = event.encode().expect("encodes");
            assert_eq!(written, payload, "{topic}");
            let back = OutboxEvent::decode(topic, written).expect("decodes").expect("a known topic");
            assert_eq!(format!("{back:?}"), format!("{event:?}"));
        }
        assert!(OutboxEvent::decode("no.such.topic", serde_json::json!({})).expect("no error").is_none());
        assert!(OutboxEvent::decode(EmailQueued::TOPIC, serde_json::json!({"id": 1})).is_err());
    }

    /// What earlier versions wrote still reads: a resume time with an offset and no attempts.
    #[test]
    fn rows_of_earlier_versions_still_read() {
        let old = serde_json::json!({"runId": "n", "position": 0, "resumeAt": "2026-12-05T10:00:00+00:00"});
        let Some(OutboxEvent::WorkflowResume(r)) =
            OutboxEvent::decode(WorkflowResume::TOPIC, old).expect("decodes")
        else {
            panic!("a resume");
        };
        assert_eq!((r.attempts, r.resume_at.to_rfc3339()), (None, "2026-12-05T10:00:00+00:00".to_owned()));
    }
}
