//! The outbox dispatcher: reads change events that committed transactions wrote to `outbox`,
//! publishes them on the bus in order, and marks them dispatched. Writers wake it right after
//! commit (low latency); a short poll covers writes from other processes.

use std::sync::Arc;
use std::time::Duration;

use entity::runtime::definitions::TOPIC_METADATA_CHANGED;
use entity::runtime::notifications::{Notification, TOPIC_NOTIFICATION_CREATED};
use entity::runtime::sql::SqlBuf;
use entity::runtime::store::{ChangeEvent, TOPIC_RECORD_CHANGED};
use entity::{Db, Dialect};
use sea_orm::ConnectionTrait;
use serde_json::Value;
use tokio::sync::Notify;

use crate::bus::{BusEvent, EventBus};

/// How many events one pass publishes at most.
const BATCH: usize = 256;
/// Dispatched events are kept this long (for debugging), then pruned.
const RETENTION: chrono::Duration = chrono::Duration::days(7);

/// Publishes outbox rows to the bus.
#[derive(Clone)]
pub struct Dispatcher {
    db: Db,
    bus: EventBus,
    wake: Arc<Notify>,
    poll: Duration,
}

impl Dispatcher {
    pub fn new(db: Db, bus: EventBus, poll: Duration) -> Self {
        Dispatcher { db, bus, wake: Arc::new(Notify::new()), poll }
    }

    /// Asks the dispatcher to look now (call after a commit).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs forever; errors are logged and retried on the next tick.
    pub async fn run(self) {
        let mut passes: u64 = 0;
        loop {
            match self.pass().await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "outbox dispatch failed"),
            }
            passes += 1;
            if passes.is_multiple_of(10_000)
                && let Err(e) = self.prune().await
            {
                tracing::warn!(error = %e, "outbox prune failed");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Publishes one batch; returns how many rows it handled.
    pub async fn pass(&self) -> entity::Result<usize> {
        let d = self.db.dialect;
        let mut buf = SqlBuf::new(d);
        buf.push(
            "SELECT id, tenant_id, topic, payload FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT ",
        );
        buf.push(&BATCH.to_string());
        let rows = self.db.conn.query_all_raw(buf.into_statement()).await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut ids = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("", "id")?;
            ids.push(id);
            let topic: String = row.try_get("", "topic")?;
            let payload: Value = match d {
                Dialect::Postgres => row.try_get("", "payload")?,
                Dialect::Sqlite => serde_json::from_str(&row.try_get::<String>("", "payload")?)?,
            };
            match topic.as_str() {
                TOPIC_RECORD_CHANGED => {
                    let event: ChangeEvent = serde_json::from_value(payload)?;
                    self.bus.publish(BusEvent::Record(Arc::new(event)));
                }
                TOPIC_METADATA_CHANGED => {
                    let tenant_id: String = row.try_get("", "tenant_id")?;
                    let version = payload.get("version").and_then(Value::as_i64).unwrap_or_default();
                    self.bus.publish(BusEvent::MetadataChanged { tenant_id, version });
                }
                TOPIC_NOTIFICATION_CREATED => {
                    let n: Notification = serde_json::from_value(payload)?;
                    self.bus.publish(BusEvent::Notification(Arc::new(n)));
                }
                other => tracing::warn!(topic = other, "unknown outbox topic"),
            }
        }
        let mut buf = SqlBuf::new(d);
        buf.push("UPDATE outbox SET dispatched_at = ").bind_ts(entity::runtime::time::now());
        buf.push(" WHERE id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                buf.push(", ");
            }
            buf.bind(*id);
        }
        buf.push(")");
        self.db.conn.execute_raw(buf.into_statement()).await?;
        Ok(rows.len())
    }

    async fn prune(&self) -> entity::Result<()> {
        let mut buf = SqlBuf::new(self.db.dialect);
        buf.push("DELETE FROM outbox WHERE dispatched_at < ")
            .bind_ts(entity::runtime::time::now() - RETENTION);
        self.db.conn.execute_raw(buf.into_statement()).await?;
        Ok(())
    }
}
