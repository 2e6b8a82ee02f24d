//! The email outbox in the data layer: queue an email inside the caller's transaction (with an
//! `email.queued` outbox event that becomes a delivery job after commit), and record each
//! delivery attempt. Statuses: `queued` → `sent`; `retrying` after a failed attempt; `dead`
//! after the last attempt; `held` when no SMTP relay is configured (kept, never dropped);
//! `sending` while a worker holds the claim of one attempt. Delivery is at least once: a claim
//! whose worker died is taken back after the lease and the email sent again, which duplicates
//! it only if the relay had already taken the whole message (it then carries the same
//! Message-ID). Each change of status writes an `EmailChanged` event in its transaction
//! (`emailChanged`). An email about a record (`NewEmail::about`) keeps the record's link; when
//! it is sent, the same transaction writes an `EmailSent` event, which the job relay turns into
//! a rescoring of the record when the tenant's confidence meter scores it (an email sent is a
//! touch: `confidence::touches`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    UpdateMany,
};
use serde::{Deserialize, Serialize};

use crate::models::email::{self, Column};
use crate::runtime::outbox::{self, EmailQueued};
use crate::runtime::time;
use crate::{Dialect, Result};

/// One email of the outbox: its row (the lease's `claimed_at` included).
pub use crate::models::email::Model as Email;

/// `OutboxEvent::EmailChanged`: email `email_id` took status `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailChanged {
    pub tenant_id: String,
    pub email_id: String,
    pub status: String,
}

impl outbox::Event for EmailChanged {
    const TOPIC: &'static str = "email.changed";
    const WORK: bool = false;
}

/// Writes the `EmailChanged` event of email `id`, in the transaction that gave it `status`.
async fn announce(conn: &impl ConnectionTrait, tenant_id: &str, id: &str, status: &str) -> Result<()> {
    let event =
        EmailChanged { tenant_id: tenant_id.to_owned(), email_id: id.to_owned(), status: status.to_owned() };
    outbox::write(conn, Dialect::of(conn), tenant_id, &event).await
}

/// `OutboxEvent::EmailSent`: email `email_id`, about record `record_id` of entity
/// `entity_id`, was sent (work for the job relay: the record's confidence may move).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailSent {
    pub email_id: String,
    pub entity_id: String,
    pub record_id: String,
}

impl outbox::Event for EmailSent {
    const TOPIC: &'static str = "email.sent";
}

/// The record an email is about.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    pub entity_id: &'a str,
    pub record_id: &'a str,
}

/// What to send.
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    /// Unique per tenant: queueing the same key twice sends once.
    pub idempotency_key: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// The record the email is about (`None`: an email about no record, an invitation).
    pub about: Option<About<'a>>,
}

/// Queues an email inside `txn`; returns its id (the existing one for a repeated key).
pub async fn queue(txn: &impl ConnectionTrait, tenant_id: &str, e: &NewEmail<'_>) -> Result<String> {
    let existing: Option<String> = email::Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::IdempotencyKey.eq(e.idempotency_key))
        .into_tuple()
        .one(txn)
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let row = email::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(tenant_id.to_owned()),
        idempotency_key: Set(e.idempotency_key.to_owned()),
        to_address: Set(e.to.to_owned()),
        subject: Set(e.subject.to_owned()),
        body: Set(e.body.to_owned()),
        status: Set("queued".to_owned()),
        entity_id: Set(e.about.map(|a| a.entity_id.to_owned())),
        record_id: Set(e.about.map(|a| a.record_id.to_owned())),
        created_at: Set(time::now()),
        // Not set: `attempts` takes the column's default (0), the rest starts NULL.
        ..Default::default()
    };
    email::Entity::insert(row).exec_without_returning(txn).await?;
    queued(txn, tenant_id, &id, "queued").await?;
    Ok(id)
}

/// One email by id.
pub async fn get(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<Email>> {
    let found = email::Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Id.eq(id))
        .one(conn)
        .await?;
    Ok(found)
}

/// A tenant's emails, newest first, optionally of one status.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    status: Option<&str>,
    first: u64,
) -> Result<Vec<Email>> {
    let mut q = email::Entity::find().filter(Column::TenantId.eq(tenant_id));
    if let Some(s) = status {
        q = q.filter(Column::Status.eq(s));
    }
    Ok(q.order_by_desc(Column::CreatedAt).order_by_desc(Column::Id).limit(first).all(conn).await?)
}

/// Claims an email for one delivery attempt (`queued`/`retrying` → `sending`). Only the
/// caller that gets `true` may send it; a duplicate job gets `false` and does nothing.
pub async fn claim(conn: &impl ConnectionTrait, e: &Email) -> Result<bool> {
    let res = update_of(&e.tenant_id, &e.id)
        .col_expr(Column::Status, Expr::value("sending"))
        .col_expr(Column::ClaimedAt, Expr::value(time::now()))
        .filter(Column::Status.is_in(["queued", "retrying"]))
        .exec(conn)
        .await?;
    let claimed = res.rows_affected == 1;
    if claimed {
        announce(conn, &e.tenant_id, &e.id, "sending").await?;
    }
    Ok(claimed)
}

/// Records the outcome of one delivery attempt (a `message_id` of `None` keeps the one
/// recorded before); a sent email about a record also writes its `EmailSent` event.
pub async fn record_attempt(
    conn: &impl ConnectionTrait,
    e: &Email,
    status: &str,
    error: Option<&str>,
    message_id: Option<&str>,
) -> Result<()> {
    let mut update = update_of(&e.tenant_id, &e.id)
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastError, Expr::value(error.map(str::to_owned)));
    if let Some(message_id) = message_id {
        update = update.col_expr(Column::MessageId, Expr::value(message_id));
    }
    if status == "sent" {
        update = update.col_expr(Column::SentAt, Expr::value(time::now()));
    }
    update.exec(conn).await?;
    if status == "sent"
        && let (Some(entity_id), Some(record_id)) = (&e.entity_id, &e.record_id)
    {
        let sent =
            EmailSent { email_id: e.id.clone(), entity_id: entity_id.clone(), record_id: record_id.clone() };
        outbox::write(conn, Dialect::of(conn), &e.tenant_id, &sent).await?;
    }
    announce(conn, &e.tenant_id, &e.id, status).await
}

/// Puts a dead (or held) email back in the queue: it is delivered again by a new job.
pub async fn requeue(txn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<bool> {
    let update = update_of(tenant_id, id)
        .col_expr(Column::Status, Expr::value("queued"))
        .col_expr(Column::LastError, Expr::value(Option::<String>::None))
        .filter(Column::Status.is_in(["dead", "held"]));
    requeue_with(txn, tenant_id, id, update, "queued").await
}

/// Emails claimed before `cutoff` and still `sending`, of every tenant: their worker died
/// mid-delivery (a live one finishes or times out well within the lease). Read on the system
/// connection.
pub async fn stale_claims(
    conn: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<Vec<(String, String)>> {
    crate::features::rows::stale::<email::Entity>(conn, cutoff).await
}

/// Puts a stale claim back in the queue (counted as a failed attempt), with the event that
/// makes a worker deliver it; `false` when it moved meanwhile.
pub async fn release_stale(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    id: &str,
    cutoff: DateTime<Utc>,
) -> Result<bool> {
    let update = update_of(tenant_id, id)
        .col_expr(Column::Status, Expr::value("retrying"))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .col_expr(Column::LastError, Expr::value("the worker stopped during delivery"))
        .filter(Column::Status.eq("sending"))
        .filter(Column::ClaimedAt.lt(cutoff));
    requeue_with(txn, tenant_id, id, update, "retrying").await
}

/// An UPDATE of email `id` alone.
fn update_of(tenant_id: &str, id: &str) -> UpdateMany<email::Entity> {
    email::Entity::update_many().filter(Column::TenantId.eq(tenant_id)).filter(Column::Id.eq(id))
}

/// Runs `update` of email `id` (back into the queue as `status`, from the states it may
/// leave) and, when it moved, writes the event that hands it to the workers; `false` when it
/// did not move.
async fn requeue_with(
    txn: &impl ConnectionTrait,
    tenant_id: &str,
    id: &str,
    update: UpdateMany<email::Entity>,
    status: &str,
) -> Result<bool> {
    let res = update.exec(txn).await?;
    let changed = res.rows_affected > 0;
    if changed {
        queued(txn, tenant_id, id, status).await?;
    }
    Ok(changed)
}

/// The outbox events that hand email `id`, now `status`, to the workers and tell subscribers.
async fn queued(txn: &impl ConnectionTrait, tenant_id: &str, id: &str, status: &str) -> Result<()> {
    outbox::write(txn, Dialect::of(txn), tenant_id, &EmailQueued { email_id: id.to_owned() }).await?;
    announce(txn, tenant_id, id, status).await
}
