//! Outgoing webhooks in the data layer: subscriptions (URL, event-type patterns, up to two
//! active signing secrets), event types of record changes (`deal.created`), and the delivery
//! log with status, attempts, the receiver's answer and the last error. Each change of a
//! delivery's status writes a `DeliveryChanged` event in its transaction
//! (`webhookDeliveryChanged`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TryInsertResult,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::models::{webhook, webhook_delivery as delivery};
use crate::runtime::outbox::{self, WebhookRetry};
use crate::runtime::record::{ChangeEvent, ChangeKind};
use crate::runtime::time;
use crate::{Dialect, Result};

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

impl TryFrom<webhook::Model> for Webhook {
    type Error = crate::Error;

    fn try_from(m: webhook::Model) -> Result<Webhook> {
        Ok(Webhook {
            id: m.id,
            tenant_id: m.tenant_id,
            url: m.url,
            description: m.description,
            events: serde_json::from_value(m.events)?,
            secrets: serde_json::from_value(m.secrets)?,
            active: m.active,
            created_at: m.created_at,
        })
    }
}

/// Webhooks of a tenant (or of every tenant, for the relay's owner connection).
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant_id: Option<&str>,
    active_only: bool,
) -> Result<Vec<Webhook>> {
    let mut q = webhook::Entity::find();
    if let Some(t) = tenant_id {
        q = q.filter(webhook::Column::TenantId.eq(t));
    }
    if active_only {
        q = q.filter(webhook::Column::Active.eq(true));
    }
    let rows = q.order_by_asc(webhook::Column::CreatedAt).order_by_asc(webhook::Column::Id).all(conn).await?;
    rows.into_iter().map(Webhook::try_from).collect()
}

pub async fn get(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<Webhook>> {
    webhook::Entity::find()
        .filter(webhook::Column::TenantId.eq(tenant_id))
        .filter(webhook::Column::Id.eq(id))
        .one(conn)
        .await?
        .map(Webhook::try_from)
        .transpose()
}

/// Inserts or updates a webhook (an update writes what can change: URL, description, event
/// types, secrets and whether it is active).
pub async fn save(conn: &impl ConnectionTrait, w: &Webhook, insert: bool) -> Result<()> {
    let mut row = webhook::ActiveModel {
        id: NotSet,
        tenant_id: NotSet,
        url: Set(w.url.clone()),
        description: Set(w.description.clone()),
        events: Set(serde_json::to_value(&w.events)?),
        secrets: Set(serde_json::to_value(&w.secrets)?),
        active: Set(w.active),
        created_at: NotSet,
    };
    if insert {
        row.id = Set(w.id.clone());
        row.tenant_id = Set(w.tenant_id.clone());
        row.created_at = Set(w.created_at);
        webhook::Entity::insert(row).exec_without_returning(conn).await?;
    } else {
        webhook::Entity::update_many()
            .set(row)
            .filter(webhook::Column::TenantId.eq(&w.tenant_id))
            .filter(webhook::Column::Id.eq(&w.id))
            .exec(conn)
            .await?;
    }
    Ok(())
}

pub async fn delete(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<bool> {
    let res = webhook::Entity::delete_many()
        .filter(webhook::Column::TenantId.eq(tenant_id))
        .filter(webhook::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(res.rows_affected > 0)
}

/// One delivery: its row (the lease's `claimed_at` included).
pub use crate::models::webhook_delivery::Model as Delivery;

/// `OutboxEvent::WebhookDeliveryChanged`: delivery `delivery_id` took status `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryChanged {
    pub tenant_id: String,
    pub delivery_id: String,
    pub status: String,
}

impl outbox::Event for DeliveryChanged {
    const TOPIC: &'static str = "webhook.delivery.changed";
    const WORK: bool = false;
}

/// Writes the `DeliveryChanged` event of delivery `id`, in the transaction that gave it
/// `status`.
async fn announce(conn: &impl ConnectionTrait, tenant_id: &str, id: &str, status: &str) -> Result<()> {
    let event = DeliveryChanged {
        tenant_id: tenant_id.to_owned(),
        delivery_id: id.to_owned(),
        status: status.to_owned(),
    };
    outbox::write(conn, Dialect::of(conn), tenant_id, &event).await
}

/// Records a delivery to make; `None` when (webhook, event) was already recorded.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    w: &Webhook,
    event_key: &str,
    event_type: &str,
    payload: &Value,
) -> Result<Option<String>> {
    let id = uuid::Uuid::new_v4().to_string();
    let row = delivery::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(w.tenant_id.clone()),
        webhook_id: Set(w.id.clone()),
        event_key: Set(event_key.to_owned()),
        event_type: Set(event_type.to_owned()),
        payload: Set(payload.clone()),
        status: Set("pending".to_owned()),
        created_at: Set(time::now()),
        // Not set: `attempts` takes the column's default (0), the rest starts NULL.
        ..Default::default()
    };
    let inserted = delivery::Entity::insert(row)
        .on_conflict_do_nothing_on([delivery::Column::WebhookId, delivery::Column::EventKey])
        .exec_without_returning(conn)
        .await?;
    if !matches!(inserted, TryInsertResult::Inserted(1)) {
        return Ok(None);
    }
    announce(conn, &w.tenant_id, &id, "pending").await?;
    Ok(Some(id))
}

pub async fn get_delivery(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Delivery>> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::TenantId.eq(tenant_id))
        .filter(delivery::Column::Id.eq(id))
        .one(conn)
        .await?)
}

/// Deliveries of a webhook, newest first.
pub async fn deliveries(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    webhook_id: &str,
    first: u64,
) -> Result<Vec<Delivery>> {
    Ok(delivery::Entity::find()
        .filter(delivery::Column::TenantId.eq(tenant_id))
        .filter(delivery::Column::WebhookId.eq(webhook_id))
        .order_by_desc(delivery::Column::CreatedAt)
        .order_by_desc(delivery::Column::Id)
        .limit(first)
        .all(conn)
        .await?)
}

/// Claims a delivery for one attempt (`pending`/`retrying` → `sending`); only the caller that
/// gets `true` may post it, so a duplicate job posts nothing.
pub async fn claim_delivery(conn: &impl ConnectionTrait, del: &Delivery) -> Result<bool> {
    let res = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value("sending"))
        .col_expr(delivery::Column::ClaimedAt, Expr::value(time::now()))
        .filter(delivery::Column::TenantId.eq(&del.tenant_id))
        .filter(delivery::Column::Id.eq(&del.id))
        .filter(delivery::Column::Status.is_in(["pending", "retrying"]))
        .exec(conn)
        .await?;
    let claimed = res.rows_affected == 1;
    if claimed {
        announce(conn, &del.tenant_id, &del.id, "sending").await?;
    }
    Ok(claimed)
}

/// Deliveries claimed before `cutoff` and still `sending` (their worker died), of every
/// tenant: (tenant, delivery). Read on the system connection.
pub async fn stale_deliveries(
    conn: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(String, String)>> {
    crate::features::rows::stale::<delivery::Entity>(conn, cutoff).await
}

/// Sends a delivery back to be posted: a stale claim (`stale_cutoff`: only if still claimed
/// before it) or a `dead` one an administrator retries. Writes the event that queues it.
pub async fn requeue_delivery(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    id: &str,
    stale_cutoff: Option<DateTime<Utc>>,
) -> Result<bool> {
    let update = delivery::Entity::update_many().col_expr(delivery::Column::Status, Expr::value("retrying"));
    let update = match stale_cutoff {
        Some(cutoff) => update
            .col_expr(delivery::Column::Attempts, Expr::col(delivery::Column::Attempts).add(1))
            .col_expr(delivery::Column::LastError, Expr::value("the worker stopped during delivery"))
            .filter(delivery::Column::Status.eq("sending"))
            .filter(delivery::Column::ClaimedAt.lt(cutoff)),
        None => update
            .col_expr(delivery::Column::LastError, Expr::value(Option::<String>::None))
            .filter(delivery::Column::Status.eq("dead")),
    };
    let res = update
        .filter(delivery::Column::TenantId.eq(tenant_id))
        .filter(delivery::Column::Id.eq(id))
        .exec(txn)
        .await?;
    if res.rows_affected != 1 {
        return Ok(false);
    }
    outbox::write(txn, Dialect::of(txn), tenant_id, &WebhookRetry { delivery_id: id.to_owned() }).await?;
    announce(txn, tenant_id, id, "retrying").await?;
    Ok(true)
}

/// Records one attempt.
pub async fn record_attempt(
    conn: &impl ConnectionTrait,
    del: &Delivery,
    status: &str,
    response_status: Option<i32>,
    error: Option<&str>,
) -> Result<()> {
    let mut update = delivery::Entity::update_many()
        .col_expr(delivery::Column::Status, Expr::value(status))
        .col_expr(delivery::Column::Attempts, Expr::col(delivery::Column::Attempts).add(1))
        .col_expr(delivery::Column::ResponseStatus, Expr::value(response_status))
        .col_expr(delivery::Column::LastError, Expr::value(error.map(str::to_owned)));
    if status == "delivered" {
        update = update.col_expr(delivery::Column::DeliveredAt, Expr::value(time::now()));
    }
    update
        .filter(delivery::Column::TenantId.eq(&del.tenant_id))
        .filter(delivery::Column::Id.eq(&del.id))
        .exec(conn)
        .await?;
    announce(conn, &del.tenant_id, &del.id, status).await
}
