//! The job relay: turns committed outbox events that need work into queued jobs, exactly once
//! per event in intent. Rows are claimed (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several
//! relays share the work), pushed to the queue, then marked `dispatched_at`. A crash between
//! push and mark pushes again after restart; handlers are idempotent, so nothing is lost and
//! nothing happens twice. A rolled-back write never reaches the outbox, so it triggers nothing.

use std::time::Duration;

use std::collections::HashSet;

use entity::runtime::emails::TOPIC_EMAIL_QUEUED;
use entity::runtime::sql::SqlBuf;
use entity::runtime::store::{ChangeEvent, TOPIC_RECORD_CHANGED};
use entity::{Db, Dialect};
use sea_orm::{ConnectionTrait, QueryResult, TransactionTrait};
use serde_json::Value;

use crate::queue::{Job, Queue};

const BATCH: usize = 100;

/// Pushes jobs for outbox events.
pub struct Relay {
    system: Db,
    queue: Queue,
    poll: Duration,
}

/// (tenant, entity) pairs with at least one active workflow.
type Watched = HashSet<(String, String)>;

fn job_of(row: &QueryResult, d: Dialect, watched: &Watched) -> entity::Result<Option<Job>> {
    let topic: String = row.try_get("", "topic")?;
    let tenant_id: String = row.try_get("", "tenant_id")?;
    let payload: Value = match d {
        Dialect::Postgres => row.try_get("", "payload")?,
        Dialect::Sqlite => serde_json::from_str(&row.try_get::<String>("", "payload")?)?,
    };
    Ok(match topic.as_str() {
        TOPIC_EMAIL_QUEUED => payload
            .get("emailId")
            .and_then(Value::as_str)
            .map(|id| Job::SendEmail { tenant_id, email_id: id.to_owned() }),
        TOPIC_RECORD_CHANGED => {
            let event: ChangeEvent = serde_json::from_value(payload)?;
            // Only changes some active workflow watches become jobs.
            watched.contains(&(tenant_id, event.entity_id.clone())).then(|| {
                let id: i64 = row.try_get("", "id").unwrap_or_default();
                Job::RecordChanged { trigger_key: format!("event:{id}"), event: Box::new(event) }
            })
        }
        _ => None,
    })
}

impl Relay {
    pub fn new(system: Db, queue: Queue, poll: Duration) -> Self {
        Relay { system, queue, poll }
    }

    pub async fn run(self) {
        loop {
            match self.pass().await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "job relay failed"),
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn watched(&self) -> entity::Result<Watched> {
        let mut buf = SqlBuf::new(self.system.dialect);
        buf.push("SELECT DISTINCT tenant_id, entity_id FROM workflows WHERE active = ").bind(true);
        let rows = self.system.conn.query_all_raw(buf.into_statement()).await?;
        rows.iter().map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "entity_id")?))).collect()
    }

    /// Relays one batch; returns how many events it handled.
    pub async fn pass(&self) -> Result<usize, String> {
        let d = self.system.dialect;
        let mut select = SqlBuf::new(d);
        select.push(
            "SELECT id, tenant_id, topic, payload FROM outbox WHERE dispatched_at IS NULL AND topic IN (",
        );
        select.bind(TOPIC_EMAIL_QUEUED.to_owned()).push(", ").bind(TOPIC_RECORD_CHANGED.to_owned());
        select.push(") ORDER BY id LIMIT ").push(&BATCH.to_string());
        if d == Dialect::Postgres {
            select.push(" FOR UPDATE SKIP LOCKED");
        }
        let err = |e: &dyn std::fmt::Display| e.to_string();
        // PostgreSQL holds the claim (row locks) until the marks commit; SQLite's single
        // writer must not be held while the queue (same file) writes, so it claims by reading.
        let txn = match d {
            Dialect::Postgres => Some(self.system.conn.begin().await.map_err(|e| err(&e))?),
            Dialect::Sqlite => None,
        };
        let rows = match &txn {
            Some(t) => t.query_all_raw(select.into_statement()).await,
            None => self.system.conn.query_all_raw(select.into_statement()).await,
        }
        .map_err(|e| err(&e))?;
        let watched =
            if rows.is_empty() { Watched::new() } else { self.watched().await.map_err(|e| err(&e))? };
        let mut done = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("", "id").map_err(|e| err(&e))?;
            if let Some(job) = job_of(row, d, &watched).map_err(|e| err(&e))? {
                self.queue.push(job, None).await.map_err(|e| err(&e))?;
            }
            done.push(id);
        }
        if !done.is_empty() {
            let mut mark = SqlBuf::new(d);
            mark.push("UPDATE outbox SET dispatched_at = ")
                .bind_ts(entity::runtime::time::now())
                .push(" WHERE id IN (");
            for (i, id) in done.iter().enumerate() {
                if i > 0 {
                    mark.push(", ");
                }
                mark.bind(*id);
            }
            mark.push(")");
            match &txn {
                Some(t) => t.execute_raw(mark.into_statement()).await,
                None => self.system.conn.execute_raw(mark.into_statement()).await,
            }
            .map_err(|e| err(&e))?;
        }
        if let Some(t) = txn {
            t.commit().await.map_err(|e| err(&e))?;
        }
        Ok(rows.len())
    }
}
