//! The event bus: a broadcast channel every subscription socket listens to. Events are small
//! (`Arc`ed) and carry their tenant, so a listener filters by tenant before anything else.

use std::sync::Arc;

use entity::features::approvals::flow::RequestChanged;
use entity::features::emails::EmailChanged;
use entity::features::exports::jobs::ExportChanged;
use entity::features::imports::ImportChanged;
use entity::features::notifications::Notification;
use entity::features::webhooks::DeliveryChanged;
use entity::features::workflows::RunChanged;
use entity::runtime::audit::AuditAppended;
use entity::runtime::record::ChangeEvent;
use tokio::sync::broadcast;

/// Something live listeners need to know.
#[derive(Debug, Clone)]
pub enum BusEvent {
    /// A committed record change.
    Record(Arc<ChangeEvent>),
    /// A new in-app notification for one user.
    Notification(Arc<Notification>),
    /// A workflow run's status changed (its tenant is in it).
    WorkflowRun(Arc<RunChanged>),
    /// An approval request was created or moved (its tenant is in it).
    ApprovalRequest(Arc<RequestChanged>),
    /// An audit entry was appended (its tenant is in it).
    Audit(Arc<AuditAppended>),
    /// An email's status changed (its tenant is in it).
    Email(Arc<EmailChanged>),
    /// A webhook delivery's status changed (its tenant is in it).
    WebhookDelivery(Arc<DeliveryChanged>),
    /// An export job's status or progress changed (its tenant is in it).
    Export(Arc<ExportChanged>),
    /// An import's status or progress changed (its tenant is in it).
    Import(Arc<ImportChanged>),
    /// A tenant's definitions changed (its open sockets must reconnect for the new schema).
    MetadataChanged { tenant_id: String, version: i64 },
    /// A session or API key was revoked (logout, forced logout, key revoked): its sockets
    /// close now.
    SessionRevoked { session_id: String },
    /// A role's permissions or a user's role changed: affected sockets reconnect to get the
    /// schema their access now allows.
    AccessChanged { tenant_id: String, role_id: Option<String>, user_id: Option<String> },
}

/// A cloneable handle to the bus.
#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<BusEvent>,
}

impl BusEvent {
    /// The tenant of a module's news (runs, requests, audit entries, emails, deliveries,
    /// exports, imports): the
    /// live fan-out hands it to that tenant's subscribers only. `None` for the rest.
    pub fn news_of(&self) -> Option<&str> {
        match self {
            BusEvent::WorkflowRun(e) => Some(&e.tenant_id),
            BusEvent::ApprovalRequest(e) => Some(&e.request.tenant_id),
            BusEvent::Audit(e) => Some(&e.tenant_id),
            BusEvent::Email(e) => Some(&e.tenant_id),
            BusEvent::WebhookDelivery(e) => Some(&e.tenant_id),
            BusEvent::Export(e) => Some(&e.tenant_id),
            BusEvent::Import(e) => Some(&e.tenant_id),
            BusEvent::Record(_)
            | BusEvent::Notification(_)
            | BusEvent::MetadataChanged { .. }
            | BusEvent::SessionRevoked { .. }
            | BusEvent::AccessChanged { .. } => None,
        }
    }
}

impl EventBus {
    /// A bus that buffers `capacity` events per slow listener before it lags.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        EventBus { tx }
    }

    /// Publishes to every current listener (none listening is fine).
    pub fn publish(&self, event: BusEvent) {
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.tx.subscribe()
    }
}
