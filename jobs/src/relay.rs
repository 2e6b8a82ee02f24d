//! The job relay: turns committed outbox events that need work into queued jobs, exactly once
//! per event in intent. Rows are claimed (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so several
//! relays share the work; SQLite: by reading them while holding the database file's relay
//! lock, so the relays of several processes on one file take turns — `take_turn`), pushed to
//! the queue, then marked `dispatched_at`. A crash between push and mark pushes again after
//! restart; handlers are idempotent, so nothing is lost and nothing happens twice. A
//! rolled-back write never reaches the outbox, so it triggers nothing.

use std::path::PathBuf;
use std::time::Duration;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use entity::features::webhooks::{self, Webhook};
use entity::features::workflows;
use entity::features::{confidence, memory};

use entity::runtime::meta::TenantMeta;
use entity::runtime::outbox::events::{self, OutboxEvent};
use entity::runtime::record::ChangeEvent;
use entity::sql_buf::SqlBuf;
use entity::{Db, Dialect};
use sea_orm::{ConnectionTrait, QueryResult, TransactionTrait};
use tokio::sync::OnceCell;

use crate::peers::Peers;
use crate::queue::{Job, Queue};

const BATCH: usize = 100;
/// The least time between the starts of two passes: what a job may wait for batching's sake.
const MIN_GAP: Duration = Duration::from_millis(50);
/// Most tenants whose definitions the relay keeps.
const MAX_METAS: usize = 1_000;

/// Pushes jobs for outbox events.
pub struct Relay {
    system: Db,
    queue: Queue,
    poll: Duration,
    /// Commits heard of (here and, through Redis, elsewhere) wake the relay before its poll.
    peers: Peers,
    /// Tenants' definitions, by tenant, for Customer Memory's links and the confidence meter's targets (`kept_meta`).
    metas: Mutex<HashMap<String, Arc<TenantMeta>>>,
    /// SQLite: the relay lock's file beside the database file (`None`: an in-memory database,
    /// which no other process opens).
    turns: OnceCell<Option<PathBuf>>,
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
        OutboxEvent::ConfidenceBackfill(b) => Job::BackfillConfidence { tenant_id, after: b.after.clone() },
        OutboxEvent::StockBelowReorder(alert) => {
            Job::StockBelowReorder { tenant_id, trigger_key: format!("event:{id}"), alert: alert.clone() }
        }
        // Only changes some active workflow watches become jobs.
        OutboxEvent::RecordChanged(e)
            if !e.workflows_off && watched.contains(&(tenant_id.clone(), e.entity_id.clone())) =>
        {
            Job::RecordChanged { trigger_key: format!("event:{id}"), event: e.clone() }
        }
        // A sent email's rescoring is queued per pass, with the record changes' (`pass`).
        OutboxEvent::RecordChanged(_)
        | OutboxEvent::EmailSent(_)
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
        Relay { system, queue, poll, peers, metas: Mutex::default(), turns: OnceCell::new() }
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
    /// the entity has long-text fields (a note or an activity). The links come from the
    /// tenant's definitions, `meta` (`tenant_meta`). `targets` is a set, so a pass that relays many
    /// notes about one record (an import) queues one refresh for it, not one per note.
    fn memory_targets(
        meta: &TenantMeta,
        event: &ChangeEvent,
        targets: &mut BTreeSet<(String, String, String)>,
    ) {
        let Some(entity) = meta.entity_by_id(&event.entity_id) else { return };
        for (key, target) in memory::links(entity) {
            for data in [Some(&*event.record.data), event.previous.as_ref()].into_iter().flatten() {
                if let Some(id) = data.get(&key).and_then(serde_json::Value::as_str) {
                    targets.insert((event.tenant_id.clone(), target.clone(), id.to_owned()));
                }
            }
        }
    }

    /// The definitions of tenant `tenant_id` as they stand (`None`: the tenant is gone), for
    /// `memory_targets` and `confidence_targets`: those the relay keeps while the tenant's
    /// metadata version is theirs (one read of the tenant's row), else loaded anew and kept.
    async fn kept_meta(&self, tenant_id: &str) -> entity::Result<Option<Arc<TenantMeta>>> {
        let mut buf = SqlBuf::new(self.system.dialect);
        buf.push("SELECT metadata_version FROM tenants WHERE id = ").bind(tenant_id.to_owned());
        let Some(row) = self.system.conn.query_one_raw(buf.into_statement()).await? else { return Ok(None) };
        let version: i64 = row.try_get("", "metadata_version")?;
        let kept = self.metas.lock().ok().and_then(|m| m.get(tenant_id).cloned());
        if let Some(meta) = kept.filter(|m| m.version == version) {
            return Ok(Some(meta));
        }
        let meta = Arc::new(TenantMeta::load_for(&self.system, tenant_id).await?);
        if let Ok(mut kept) = self.metas.lock() {
            // Bounded: past the limit the relay forgets them all (each then costs one load).
            if kept.len() >= MAX_METAS {
                kept.clear();
            }
            kept.insert(tenant_id.to_owned(), meta.clone());
        }
        Ok(Some(meta))
    }

    /// SQLite: waits for this relay's turn among the relays of the database file — the
    /// `serve` and `worker` processes on one file each run one — and holds it while the
    /// returned file is open: an exclusive lock on `<database file>.relay-lock`. SQLite cannot
    /// claim rows by locking them as PostgreSQL does, and its single writer must not be held
    /// while the queue (the same file) writes, so without turns two relays could read the same
    /// unmarked rows and push every job twice. A process that dies drops its lock with it.
    async fn take_turn(&self) -> Result<Option<std::fs::File>, String> {
        let path = self.turns.get_or_try_init(|| lock_path(&self.system)).await.map_err(|e| e.to_string())?;
        let Some(path) = path.clone() else { return Ok(None) };
        let locked = tokio::task::spawn_blocking(move || {
            let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
            file.lock()?;
            Ok::<_, std::io::Error>(file)
        });
        let file = locked.await.map_err(|e| e.to_string())?.map_err(|e| format!("the relay lock: {e}"))?;
        Ok(Some(file))
    }

    /// Adds to `targets` the pipeline records (tenant, record) whose confidence score event
    /// `event` of tenant `tenant_id` may move: for a record change (`confidence::targets`) the
    /// record itself when its entity is the tenant's pipeline, the records an activity links to
    /// when it is an activity; for a sent email, the record it is about when the meter scores
    /// it (`confidence::touches::target`).
    fn confidence_targets(
        meta: &TenantMeta,
        tenant_id: &str,
        event: &OutboxEvent,
        targets: &mut BTreeSet<(String, String)>,
    ) {
        let records = match event {
            OutboxEvent::RecordChanged(change) => confidence::targets(meta, change),
            OutboxEvent::EmailSent(sent) => confidence::touches::target(meta, sent).into_iter().collect(),
            _ => Vec::new(),
        };
        for record_id in records {
            targets.insert((tenant_id.to_owned(), record_id));
        }
    }

    /// Relays one batch; returns how many events it handled.
    pub async fn pass(&self) -> Result<usize, String> {
        let d = self.system.dialect;
        // Held to the end of the pass: its marks are committed before another relay reads.
        let _turn = match d {
            Dialect::Sqlite => self.take_turn().await?,
            Dialect::Postgres => None,
        };
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
        // writer must not be held while the queue (same file) writes, so it claims by reading,
        // in its turn (`take_turn`): no other relay reads before this pass's marks commit.
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
        // Each tenant's definitions, read once per pass (`kept_meta`).
        let mut metas: HashMap<String, Option<Arc<TenantMeta>>> = HashMap::new();
        let (mut memories, mut confidences) = (BTreeSet::new(), BTreeSet::new());
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
            }
            if matches!(event, OutboxEvent::RecordChanged(_) | OutboxEvent::EmailSent(_)) {
                let meta = match metas.entry(tenant_id.clone()) {
                    Entry::Occupied(known) => known.into_mut(),
                    Entry::Vacant(new) => new.insert(self.kept_meta(&tenant_id).await.map_err(|e| err(&e))?),
                };
                if let Some(meta) = meta.as_deref() {
                    if let OutboxEvent::RecordChanged(change) = &event {
                        Self::memory_targets(meta, change, &mut memories);
                    }
                    Self::confidence_targets(meta, &tenant_id, &event, &mut confidences);
                }
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

/// The relay lock's file of SQLite database `db`: `<its file>.relay-lock` (`None` for an
/// in-memory database).
async fn lock_path(db: &Db) -> entity::Result<Option<PathBuf>> {
    let list = sea_orm::Statement::from_string(sea_orm::DbBackend::Sqlite, "PRAGMA database_list");
    for row in db.conn.query_all_raw(list).await? {
        if row.try_get::<String>("", "name")? == "main" {
            let file: String = row.try_get("", "file")?;
            return Ok((!file.is_empty()).then(|| PathBuf::from(format!("{file}.relay-lock"))));
        }
    }
    Ok(None)
}
