//! The outbox tailer: every server instance reads the change events that committed
//! transactions wrote to `outbox`, in id order from its own cursor, and publishes them on its
//! local bus — so a subscriber hears of every committed change whichever instance made it.
//! (Consuming events exactly once, for jobs, is a different reader: it claims rows through
//! `dispatched_at`; tailing never marks anything.)
//!
//! PostgreSQL hands out sequence ids at insert time but transactions commit in any order, so
//! id 11 can become visible before id 10. The tailer therefore keeps a cursor below which
//! every id has been seen, remembers the ids it has published above it, and only skips a
//! missing id (a rolled-back insert) after it has stayed missing for `GAP_TIMEOUT`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use entity::runtime::audit::AuditAppended;
use entity::runtime::outbox::Event;
use entity::runtime::outbox::events::OutboxEvent;
use entity::runtime::record::ChangeEvent;
use entity::sql_buf::SqlBuf;
use entity::{Db, Dialect};
use sea_orm::{ConnectionTrait, QueryResult};
use tokio::sync::Mutex;

use crate::bus::{BusEvent, EventBus};
use crate::peers::Peers;

/// How many events one pass reads at most.
const BATCH: usize = 500;
/// Events are kept this long, then pruned.
const RETENTION: chrono::Duration = chrono::Duration::days(7);
/// How long a missing id may stay missing before it is taken for a rolled-back insert.
const GAP_TIMEOUT: Duration = Duration::from_secs(10);

/// The tailer's position.
#[derive(Debug, Default)]
struct Cursor {
    /// Every id at or below this has been published (or given up on).
    done: i64,
    /// Ids above `done` already published.
    seen: BTreeSet<i64>,
    /// Since when `done + 1` has been missing while later ids were visible.
    gap_since: Option<Instant>,
}

impl Cursor {
    /// Moves `done` over contiguous published ids; gives up on a gap that lasted too long.
    fn advance(&mut self, now: Instant) {
        loop {
            while self.seen.remove(&(self.done + 1)) {
                self.done += 1;
                self.gap_since = None;
            }
            let Some(&next) = self.seen.first() else {
                self.gap_since = None;
                return;
            };
            match self.gap_since {
                None => {
                    self.gap_since = Some(now);
                    return;
                }
                Some(since) if now.duration_since(since) >= GAP_TIMEOUT => {
                    tracing::debug!(
                        from = self.done + 1,
                        to = next - 1,
                        "outbox ids never committed; skipping"
                    );
                    self.done = next - 1;
                    self.gap_since = None;
                }
                Some(_) => return,
            }
        }
    }
}

/// The least time between the starts of two tailing passes (see `Dispatcher::run`): the most
/// a subscriber waits beyond the commit for batching's sake.
const MIN_GAP: Duration = Duration::from_millis(10);

/// Whether this instance has a listener for record changes of (tenant id, entity id), or for
/// the tenant's audit entries (the entity id is then `AuditAppended::TOPIC`).
pub type Interest = Arc<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// Publishes outbox rows to this instance's bus.
#[derive(Clone)]
pub struct Dispatcher {
    db: Db,
    bus: EventBus,
    /// Commits of this process and, through Redis, of the others: each wakes the tailer.
    peers: Peers,
    /// Whether anyone on this instance listens to record changes of (tenant, entity); none
    /// given: everything is published.
    interest: Option<Interest>,
    poll: Duration,
    cursor: Arc<Mutex<Option<Cursor>>>,
}

impl Dispatcher {
    pub fn new(db: Db, bus: EventBus, poll: Duration, peers: Peers) -> Self {
        Dispatcher { db, bus, peers, interest: None, poll, cursor: Arc::new(Mutex::new(None)) }
    }

    /// Publishes only the record changes `interest` asks for (the others are not parsed).
    pub fn with_interest(mut self, interest: Interest) -> Self {
        self.interest = Some(interest);
        self
    }

    /// The tailers of this and (through Redis) every other instance look now, at a lower
    /// latency than their poll: called when a unit of work (a request, a socket operation, an
    /// inbound webhook) that wrote to the outbox has ended (`entity::runtime::outbox::tracked`).
    pub fn wake(&self) {
        self.peers.committed();
    }

    /// How this instance hears of the others.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// Runs forever (`Peers::drive`); every 10,000th pass that leaves nothing waiting also
    /// prunes the outbox.
    pub async fn run(self) {
        let this = &self;
        let mut passes: u64 = 0;
        let prune = || {
            passes += 1;
            let due = passes.is_multiple_of(10_000);
            async move {
                if due && let Err(e) = this.prune().await {
                    tracing::warn!(error = %e, "outbox prune failed");
                }
            }
        };
        let cadence = (BATCH, self.poll, MIN_GAP);
        self.peers.drive("outbox tail", cadence, || self.pass(), prune).await;
    }

    /// The newest id at start: an instance publishes what commits after it starts.
    async fn start_position(&self) -> entity::Result<i64> {
        let mut buf = SqlBuf::new(self.db.dialect);
        buf.push("SELECT MAX(id) AS m FROM outbox");
        let row = self.db.conn.query_one_raw(buf.into_statement()).await?;
        Ok(row.map(|r| r.try_get::<Option<i64>>("", "m")).transpose()?.flatten().unwrap_or(0))
    }

    /// Publishes the events committed since the last pass; returns how many rows it read.
    pub async fn pass(&self) -> entity::Result<usize> {
        let mut guard = self.cursor.lock().await;
        if guard.is_none() {
            *guard = Some(Cursor { done: self.start_position().await?, ..Cursor::default() });
        }
        let Some(cursor) = guard.as_mut() else { return Ok(0) };
        let d = self.db.dialect;
        // New rows above everything seen, plus (while there are gaps) the missing ids below:
        // a long gap never holds back newer events.
        let high = cursor.seen.last().copied().unwrap_or(cursor.done).max(cursor.done);
        let mut buf = SqlBuf::new(d);
        // The payload as text, parsed only when someone here listens (`publish`); the entity of
        // a record change read by the database, to ask.
        buf.push(match d {
            Dialect::Postgres => {
                "SELECT id, tenant_id, topic, payload::text AS payload, payload->>'entityId' AS entity_id"
            }
            Dialect::Sqlite => {
                "SELECT id, tenant_id, topic, payload, json_extract(payload, '$.entityId') AS entity_id"
            }
        });
        buf.push(" FROM outbox WHERE id > ").bind(high);
        let missing: Vec<i64> =
            (cursor.done + 1..high).filter(|id| !cursor.seen.contains(id)).take(BATCH).collect();
        if !missing.is_empty() {
            buf.push(" OR id IN (");
            for (i, id) in missing.iter().enumerate() {
                if i > 0 {
                    buf.push(", ");
                }
                buf.bind(*id);
            }
            buf.push(")");
        }
        buf.push(" ORDER BY id LIMIT ").push(&BATCH.to_string());
        let rows = self.db.conn.query_all_raw(buf.into_statement()).await?;
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            if cursor.seen.insert(id) {
                self.publish(row)?;
            }
        }
        cursor.advance(Instant::now());
        Ok(rows.len())
    }

    fn publish(&self, row: &QueryResult) -> entity::Result<()> {
        let topic: String = row.try_get("", "topic")?;
        let text: String = row.try_get("", "payload")?;
        // Most changes and audit entries (one with every write) have no subscriber on this
        // instance: they are not parsed at all.
        let interest_key = match topic.as_str() {
            ChangeEvent::TOPIC => row.try_get::<Option<String>>("", "entity_id")?,
            AuditAppended::TOPIC => Some(AuditAppended::TOPIC.to_owned()),
            _ => None,
        };
        if let (Some(interest), Some(key)) = (&self.interest, interest_key)
            && !interest(&row.try_get::<String>("", "tenant_id")?, &key)
        {
            return Ok(());
        }
        let Some(event) = OutboxEvent::decode_text(&topic, &text)? else {
            tracing::warn!(topic = %topic, "unknown outbox topic");
            return Ok(());
        };
        let tenant_id = || row.try_get::<String>("", "tenant_id");
        let news = match event {
            OutboxEvent::RecordChanged(e) => BusEvent::Record(Arc::from(e)),
            OutboxEvent::MetadataChanged(e) => {
                BusEvent::MetadataChanged { tenant_id: tenant_id()?, version: e.version }
            }
            OutboxEvent::NotificationCreated(n) => BusEvent::Notification(Arc::from(n)),
            OutboxEvent::WorkflowRunChanged(r) => BusEvent::WorkflowRun(Arc::from(r)),
            OutboxEvent::ApprovalRequestChanged(r) => BusEvent::ApprovalRequest(Arc::from(r)),
            OutboxEvent::AuditAppended(e) => BusEvent::Audit(Arc::new(e)),
            OutboxEvent::EmailChanged(e) => BusEvent::Email(Arc::new(e)),
            OutboxEvent::WebhookDeliveryChanged(e) => BusEvent::WebhookDelivery(Arc::new(e)),
            OutboxEvent::ExportChanged(e) => BusEvent::Export(Arc::new(e)),
            OutboxEvent::ImportChanged(e) => BusEvent::Import(Arc::new(e)),
            OutboxEvent::SessionRevoked(e) => BusEvent::SessionRevoked { session_id: e.session_id },
            OutboxEvent::AccessChanged(e) => {
                BusEvent::AccessChanged { tenant_id: tenant_id()?, role_id: e.role_id, user_id: e.user_id }
            }
            // Work for the job relay, not news for subscribers.
            OutboxEvent::EmailQueued(_)
            | OutboxEvent::EmailSent(_)
            | OutboxEvent::WorkflowManual(_)
            | OutboxEvent::WorkflowResume(_)
            | OutboxEvent::WebhookRetry(_)
            | OutboxEvent::IndexSlot(_)
            | OutboxEvent::ExportQueued(_)
            | OutboxEvent::SearchBuild(_)
            | OutboxEvent::ImportQueued(_)
            | OutboxEvent::StockBelowReorder(_)
            | OutboxEvent::ConfidenceBackfill(_) => return Ok(()),
        };
        self.bus.publish(news);
        Ok(())
    }

    async fn prune(&self) -> entity::Result<()> {
        let mut buf = SqlBuf::new(self.db.dialect);
        buf.push("DELETE FROM outbox WHERE created_at < ").bind_ts(entity::runtime::time::now() - RETENTION);
        self.db.conn.execute_raw(buf.into_statement()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_waits_for_late_ids_then_gives_up_on_gaps() {
        let t0 = Instant::now();
        let mut c = Cursor { done: 9, ..Cursor::default() };
        c.seen.extend([11, 12]);
        c.advance(t0);
        assert_eq!(c.done, 9, "10 may still commit");
        c.seen.insert(10);
        c.advance(t0 + Duration::from_secs(1));
        assert_eq!((c.done, c.seen.len()), (12, 0));
        c.seen.insert(14);
        c.advance(t0 + Duration::from_secs(2));
        assert_eq!(c.done, 12);
        c.advance(t0 + Duration::from_secs(2) + GAP_TIMEOUT);
        assert_eq!(c.done, 14, "13 was rolled back");
    }
}
