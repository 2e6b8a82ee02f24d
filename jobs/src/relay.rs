//! The job relay: turns committed outbox events that need work into queued jobs, exactly once
//! per event in intent. Rows are claimed (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several
//! relays share the work), pushed to the queue, then marked `dispatched_at`. A crash between
//! push and mark pushes again after restart; handlers are idempotent, so nothing is lost and
//! nothing happens twice. A rolled-back write never reaches the outbox, so it triggers nothing.

use std::time::Duration;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};

use entity::features::webhooks::{self, Webhook};
use entity::features::workflows;
use entity::features::{confidence, memory};

use entity::runtime::meta::TenantMeta;
use entity::runtime::outbox::events::{self, OutboxEvent};
use entity::runtime::record::ChangeEvent;
use entity::sql_buf::SqlBuf;
use entity::{Db, Dialect};
use sea_orm::{ConnectionTrait, QueryResult, TransactionTrait};

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

/// The event of an outbox row (`None`: a topic this version does not know).
fn event_of(row: &QueryResult, d: Dialect) -> entity::Result<Option<OutboxEvent>> {
    let topic: String = row.try_get("", "topic")?;
    match d {
        Dialect::Postgres => OutboxEvent::decode(&topic, row.try_get("", "payload")?),
        Dialect::Sqlite => OutboxEvent::decode_text(&topic, &row.try_get::<String>("", "payload")?),
    }
}

/// The job outbox event `id` of `tenant_id` asks for, and how long it waits before it may run.
fn job_of(
    event: &OutboxEvent,
    id: i64,
    tenant_id: &str,
    watched: &Watched,
) -> Option<(Job, Option<Duration>)> {
    let tenant_id = tenant_id.to_owned();
    let job = match event {
        OutboxEvent::WorkflowResume(r) => {
            // A relay that runs late (or after a restart) owes no more waiting than is left.
            let left = (r.resume_at - entity::runtime::time::now()).to_std().ok();
            let (run_id, position, attempts) = (r.run_id.clone(), r.position, r.attempts);
            return Some((Job::ResumeWorkflow { tenant_id, run_id, position, attempts }, left));
        }
        OutboxEvent::WorkflowManual(m) => Job::RunWorkflow {
            tenant_id,
            workflow_id: m.workflow_id.clone(),
            record_id: m.record_id.clone(),
            run_id: m.run_id.clone(),
            payload: m.payload.clone(),
        },
        OutboxEvent::WebhookRetry(r) => Job::DeliverWebhook { tenant_id, delivery_id: r.delivery_id.clone() },
        OutboxEvent::IndexSlot(s) => {
            Job::ConvergeIndexSlot { tenant_id, entity_id: s.entity_id.clone(), slot: s.slot.clone() }
        }
        OutboxEvent::SearchBuild(s) => Job::BuildSearch { tenant_id, entity_id: s.entity_id.clone() },
        OutboxEvent::EmailQueued(e) => Job::SendEmail { tenant_id, email_id: e.email_id.clone() },
        OutboxEvent::ExportQueued(e) => Job::RunExport { tenant_id, export_id: e.export_id.clone() },
        OutboxEvent::ImportQueued(e) => Job::RunImport { tenant_id, import_id: e.import_id.clone() },
        OutboxEvent::StockBelowReorder(alert) => {
            Job::StockBelowReorder { tenant_id, trigger_key: format!("event:{id}"), alert: alert.clone() }
        }
        // Only changes some active workflow watches become jobs.
        OutboxEvent::RecordChanged(e)
            if !e.workflows_off && watched.contains(&(tenant_id.clone(), e.entity_id.clone())) =>
        {
            Job::RecordChanged { trigger_key: format!("event:{id}"), event: e.clone() }
        }
        OutboxEvent::RecordChanged(_)
        | OutboxEvent::MetadataChanged(_)
        | OutboxEvent::NotificationCreated(_)
        | OutboxEvent::WorkflowRunChanged(_)
        | OutboxEvent::ApprovalRequestChanged(_)
        | OutboxEvent::AuditAppended(_)
        | OutboxEvent::EmailChanged(_)
        | OutboxEvent::WebhookDeliveryChanged(_)
        | OutboxEvent::ExportChanged(_)
        | OutboxEvent::ImportChanged(_)
        | OutboxEvent::SessionRevoked(_)
        | OutboxEvent::AccessChanged(_) => return None,
    };
    Some((job, None))
}

impl Relay {
    pub fn new(system: Db, queue: Queue, poll: Duration, peers: Peers) -> Self {
        Relay { system, queue, poll, peers }
    }

    /// Runs forever (`Peers::drive`).
    pub async fn run(self) {
        let cadence = (BATCH, self.poll, MIN_GAP);
        self.peers.drive("job relay", cadence, || self.pass(), || async {}).await;
    }

    async fn subscriptions(&self) -> entity::Result<Subscriptions> {
        let d = self.system.dialect;
        let watched = workflows::watched(&self.system.conn).await?.into_iter().collect();
        let webhooks = webhooks::list(&self.system.conn, None, true).await?;
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

    /// Records deliveries (once per webhook and event) for the webhooks record change `event`
    /// (outbox row `id`) concerns, and returns their jobs.
    async fn webhook_jobs(
        &self,
        id: i64,
        event: &ChangeEvent,
        subs: &Subscriptions,
    ) -> entity::Result<Vec<Job>> {
        let tenant_id = &event.tenant_id;
        if !subs.webhooks.iter().any(|w| &w.tenant_id == tenant_id) {
            return Ok(Vec::new());
        }
        let Some(entity) = subs.entity_names.get(&event.entity_id) else { return Ok(Vec::new()) };
        let key = format!("event:{id}");
        let event_type = webhooks::event_type(entity, event.kind);
        let body = webhooks::payload(&key, &event_type, event);
        let mut jobs = Vec::new();
        for w in subs.webhooks.iter().filter(|w| &w.tenant_id == tenant_id && w.wants(&event_type)) {
            if let Some(delivery_id) =
                webhooks::enqueue(&self.system.conn, w, &key, &event_type, &body).await?
            {
                jobs.push(Job::DeliverWebhook { tenant_id: tenant_id.clone(), delivery_id });
            }
        }
        Ok(jobs)
    }

    /// Adds to `targets` the records whose Customer Memory record change `event` asks to
    /// refresh: those its entity's RELATION fields point at, before and after the change, when
    /// the entity has long-text fields (a note or an activity). `links` keeps each entity's
    /// links for the pass; `targets` is a set, so a pass that relays many notes about one record
    /// (an import) queues one refresh for it, not one per note.
    async fn memory_targets(
        &self,
        event: &ChangeEvent,
        links: &mut HashMap<String, Vec<(String, String)>>,
        targets: &mut BTreeSet<(String, String, String)>,
    ) -> entity::Result<()> {
        let links = match links.entry(event.entity_id.clone()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(memory::links(&self.system.conn, &event.entity_id).await?),
        };
        for (key, target) in links.iter() {
            for data in [Some(&*event.record.data), event.previous.as_ref()].into_iter().flatten() {
                if let Some(id) = data.get(key).and_then(serde_json::Value::as_str) {
                    targets.insert((event.tenant_id.clone(), target.clone(), id.to_owned()));
                }
            }
        }
        Ok(())
    }

    /// Adds to `targets` the pipeline records (tenant, record) whose confidence score record
    /// change `event` may move (`confidence::targets`): the record itself when its entity is
    /// the tenant's pipeline, the records an activity links to when it is an activity. `metas`
    /// keeps each tenant's definitions (with its CRM roles) for the pass; a tenant whose
    /// definitions cannot be read (deleted meanwhile) asks for nothing.
    async fn confidence_targets(
        &self,
        event: &ChangeEvent,
        metas: &mut HashMap<String, Option<TenantMeta>>,
        targets: &mut BTreeSet<(String, String)>,
    ) {
        let meta = match metas.entry(event.tenant_id.clone()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let loaded = TenantMeta::load(&self.system.conn, &event.tenant_id).await;
                if let Err(e) = &loaded {
                    tracing::warn!(tenant = %event.tenant_id, error = %e, "no confidence refresh: definitions unreadable");
                }
                new.insert(loaded.ok())
            }
        };
        for record_id in meta.as_ref().map(|m| confidence::targets(m, event)).unwrap_or_default() {
            targets.insert((event.tenant_id.clone(), record_id));
        }
    }

    /// Relays one batch; returns how many events it handled.
    pub async fn pass(&self) -> Result<usize, String> {
        let d = self.system.dialect;
        let mut select = SqlBuf::new(d);
        select.push(
            "SELECT id, tenant_id, topic, payload FROM outbox WHERE dispatched_at IS NULL AND topic IN (",
        );
        for (i, topic) in events::WORK_TOPICS.iter().enumerate() {
            if i > 0 {
                select.push(", ");
            }
            select.bind((*topic).to_owned());
        }
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
        let (mut links, mut memories) = (HashMap::new(), BTreeSet::new());
        let (mut metas, mut confidences) = (HashMap::new(), BTreeSet::new());
        let mut done = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("", "id").map_err(|e| err(&e))?;
            done.push(id);
            let tenant_id: String = row.try_get("", "tenant_id").map_err(|e| err(&e))?;
            // A row this version cannot read asks for nothing it knows how to do: it is
            // marked and skipped, not retried forever.
            let event = match event_of(row, d) {
                Ok(Some(event)) => event,
                Ok(None) => {
                    tracing::warn!(id, "outbox row of an unknown topic; skipped");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(id, error = %e, "unreadable outbox row; skipped");
                    continue;
                }
            };
            if let Some((job, delay)) = job_of(&event, id, &tenant_id, watched) {
                self.queue.push(job, delay).await.map_err(|e| err(&e))?;
            }
            if let OutboxEvent::RecordChanged(change) = &event {
                for job in self.webhook_jobs(id, change, &subs).await.map_err(|e| err(&e))? {
                    self.queue.push(job, None).await.map_err(|e| err(&e))?;
                }
                self.memory_targets(change, &mut links, &mut memories).await.map_err(|e| err(&e))?;
                self.confidence_targets(change, &mut metas, &mut confidences).await;
            }
        }
        for (tenant_id, entity_id, record_id) in memories {
            self.queue
                .push(Job::RefreshMemory { tenant_id, entity_id, record_id }, None)
                .await
                .map_err(|e| err(&e))?;
        }
        for (tenant_id, record_id) in confidences {
            self.queue
                .push(Job::RefreshConfidence { tenant_id, record_id }, None)
                .await
                .map_err(|e| err(&e))?;
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
