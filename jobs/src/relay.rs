//! The job relay: turns committed outbox events that need work into queued jobs, exactly once
//! per event in intent. Rows are claimed (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several
//! relays share the work), pushed to the queue, then marked `dispatched_at`. A crash between
//! push and mark pushes again after restart; handlers are idempotent, so nothing is lost and
//! nothing happens twice. A rolled-back write never reaches the outbox, so it triggers nothing.

use std::time::Duration;

use std::collections::{HashMap, HashSet};

use entity::runtime::webhooks::{self, Webhook};

use entity::runtime::emails::TOPIC_EMAIL_QUEUED;
use entity::runtime::indexes;
use entity::runtime::sql::SqlBuf;
use entity::runtime::store::{ChangeEvent, TOPIC_RECORD_CHANGED};
use entity::runtime::workflows as wf;
use entity::{Db, Dialect};
use sea_orm::{ConnectionTrait, QueryResult, TransactionTrait};
use serde_json::Value;

use crate::peers::Peers;
use crate::queue::{Job, Queue};

const BATCH: usize = 100;
/// The least time between the starts of two passes: what a job may wait for batching's sake.
const MIN_GAP: Duration = Duration::from_millis(50);

/// Pushes jobs for outbox events.
pub struct Relay {
    system: Db,
    queue: Queue,
    poll: Duration,
    /// Commits heard of (here and, through Redis, elsewhere) wake the relay before its poll.
    peers: Peers,
}

/// (tenant, entity) pairs with at least one active workflow.
type Watched = HashSet<(String, String)>;

/// What a pass needs to know about subscriptions: watched entities and active webhooks.
struct Subscriptions {
    watched: Watched,
    webhooks: Vec<Webhook>,
    /// Entity id → name, for event types.
    entity_names: HashMap<String, String>,
}

/// The job an outbox row asks for, and how long it waits before it may run.
fn job_of(
    row: &QueryResult,
    d: Dialect,
    watched: &Watched,
) -> entity::Result<Option<(Job, Option<Duration>)>> {
    let topic: String = row.try_get("", "topic")?;
    let tenant_id: String = row.try_get("", "tenant_id")?;
    let payload: Value = match d {
        Dialect::Postgres => row.try_get("", "payload")?,
        Dialect::Sqlite => serde_json::from_str(&row.try_get::<String>("", "payload")?)?,
    };
    let text = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_owned);
    if topic == wf::TOPIC_WORKFLOW_RESUME {
        let position = payload.get("position").and_then(Value::as_u64).and_then(|p| usize::try_from(p).ok());
        let resume_at = text("resumeAt").and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok());
        return Ok(match (text("runId"), position, resume_at) {
            (Some(run_id), Some(position), Some(at)) => {
                // A relay that runs late (or after a restart) owes no more waiting than is left.
                let left = (at.with_timezone(&chrono::Utc) - entity::runtime::time::now()).to_std().ok();
                let attempts =
                    payload.get("attempts").and_then(Value::as_i64).and_then(|a| i32::try_from(a).ok());
                Some((Job::ResumeWorkflow { tenant_id, run_id, position, attempts }, left))
            }
            _ => None,
        });
    }
    let job = match topic.as_str() {
        wf::TOPIC_WORKFLOW_MANUAL => match (text("workflowId"), text("recordId"), text("runId")) {
            (Some(workflow_id), Some(record_id), Some(run_id)) => {
                let payload = payload.get("payload").cloned();
                Some(Job::RunWorkflow { tenant_id, workflow_id, record_id, run_id, payload })
            }
            _ => None,
        },
        entity::runtime::dead_jobs::TOPIC_WEBHOOK_RETRY => payload
            .get("deliveryId")
            .and_then(Value::as_str)
            .map(|id| Job::DeliverWebhook { tenant_id, delivery_id: id.to_owned() }),
        indexes::TOPIC_INDEX_SLOT => match (text("entityId"), text("slot")) {
            (Some(entity_id), Some(slot)) => Some(Job::ConvergeIndexSlot { tenant_id, entity_id, slot }),
            _ => None,
        },
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
    };
    Ok(job.map(|j| (j, None)))
}

impl Relay {
    pub fn new(system: Db, queue: Queue, poll: Duration, peers: Peers) -> Self {
        Relay { system, queue, poll, peers }
    }

    pub async fn run(self) {
        let mut commits = self.peers.commits();
        loop {
            let started = tokio::time::Instant::now();
            match self.pass().await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "job relay failed"),
            }
            tokio::select! {
                _ = commits.changed() => {}
                () = tokio::time::sleep(self.peers.poll(self.poll)) => {}
            }
            // Under a steady write load, one pass per MIN_GAP claims the commits of that
            // interval together instead of one pass (a claiming transaction) per commit.
            tokio::time::sleep_until(started + MIN_GAP).await;
        }
    }

    async fn subscriptions(&self) -> entity::Result<Subscriptions> {
        let d = self.system.dialect;
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT DISTINCT tenant_id, entity_id FROM workflows WHERE active = ").bind(true);
        let rows = self.system.conn.query_all_raw(buf.into_statement()).await?;
        let watched = rows
            .iter()
            .map(|r| Ok((r.try_get("", "tenant_id")?, r.try_get("", "entity_id")?)))
            .collect::<entity::Result<_>>()?;
        let webhooks = webhooks::list(&self.system.conn, d, None, true).await?;
        let mut entity_names = HashMap::new();
        if !webhooks.is_empty() {
            let mut buf = SqlBuf::new(d);
            buf.push("SELECT id, name_singular FROM entity_defs");
            for r in &self.system.conn.query_all_raw(buf.into_statement()).await? {
                entity_names.insert(r.try_get("", "id")?, r.try_get("", "name_singular")?);
            }
        }
        Ok(Subscriptions { watched, webhooks, entity_names })
    }

    /// Records deliveries (once per webhook and event) for the webhooks a record change
    /// concerns, and returns their jobs.
    async fn webhook_jobs(&self, row: &QueryResult, subs: &Subscriptions) -> entity::Result<Vec<Job>> {
        let d = self.system.dialect;
        let topic: String = row.try_get("", "topic")?;
        let tenant_id: String = row.try_get("", "tenant_id")?;
        if topic != TOPIC_RECORD_CHANGED || !subs.webhooks.iter().any(|w| w.tenant_id == tenant_id) {
            return Ok(Vec::new());
        }
        let payload: Value = match d {
            Dialect::Postgres => row.try_get("", "payload")?,
            Dialect::Sqlite => serde_json::from_str(&row.try_get::<String>("", "payload")?)?,
        };
        let event: ChangeEvent = serde_json::from_value(payload)?;
        let Some(entity) = subs.entity_names.get(&event.entity_id) else { return Ok(Vec::new()) };
        let id: i64 = row.try_get("", "id")?;
        let key = format!("event:{id}");
        let event_type = webhooks::event_type(entity, event.kind);
        let body = webhooks::payload(&key, &event_type, &event);
        let mut jobs = Vec::new();
        for w in subs.webhooks.iter().filter(|w| w.tenant_id == tenant_id && w.wants(&event_type)) {
            if let Some(delivery_id) =
                webhooks::enqueue(&self.system.conn, d, w, &key, &event_type, &body).await?
            {
                jobs.push(Job::DeliverWebhook { tenant_id: tenant_id.clone(), delivery_id });
            }
        }
        Ok(jobs)
    }

    /// Relays one batch; returns how many events it handled.
    pub async fn pass(&self) -> Result<usize, String> {
        let d = self.system.dialect;
        let mut select = SqlBuf::new(d);
        select.push(
            "SELECT id, tenant_id, topic, payload FROM outbox WHERE dispatched_at IS NULL AND topic IN (",
        );
        select.bind(TOPIC_EMAIL_QUEUED.to_owned()).push(", ").bind(TOPIC_RECORD_CHANGED.to_owned());
        select.push(", ").bind(wf::TOPIC_WORKFLOW_MANUAL.to_owned());
        select.push(", ").bind(wf::TOPIC_WORKFLOW_RESUME.to_owned());
        select.push(", ").bind(entity::runtime::dead_jobs::TOPIC_WEBHOOK_RETRY.to_owned());
        select.push(", ").bind(indexes::TOPIC_INDEX_SLOT.to_owned());
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
        let subs = if rows.is_empty() {
            Subscriptions { watched: Watched::new(), webhooks: Vec::new(), entity_names: HashMap::new() }
        } else {
            self.subscriptions().await.map_err(|e| err(&e))?
        };
        let watched = &subs.watched;
        let mut done = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("", "id").map_err(|e| err(&e))?;
            if let Some((job, delay)) = job_of(row, d, watched).map_err(|e| err(&e))? {
                self.queue.push(job, delay).await.map_err(|e| err(&e))?;
            }
            for job in self.webhook_jobs(row, &subs).await.map_err(|e| err(&e))? {
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
