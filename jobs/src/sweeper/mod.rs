//! Time-based workflow triggers. Every poll, for each active workflow with one:
//! - `schedule`: if a cron fire time (in the trigger's or the tenant's time zone) passed since
//!   the last scan, one run per record matching the condition, keyed by that fire time;
//! - `relative_date`: one run per record whose DATE_TIME field plus the offset passed since the
//!   last scan (and that matches the condition), keyed by the record and its date value.
//!
//! - approvals: a request pending past its stage's SLA is escalated (once);
//! - emails: one claimed for delivery longer ago than the lease lost its worker (killed
//!   mid-send) and is queued again — the lease exceeds the SMTP timeout, so a live worker is
//!   never overtaken; likewise a run `running` with no progress for longer than the lease
//!   continues from its first unfinished action.
//!
//! Runs are queued through the outbox in the same transaction that advances the workflow's
//! `scanned_through`; a restart resumes from there, so a moment that passed while the process was
//! down still fires, once (missed cron ticks collapse into the latest). Several scanners may
//! race: a run's unique key keeps it to one. Editing or re-activating a workflow starts its scan
//! afresh from that moment.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use entity::runtime::approvals::{self, flow, flow::Scope};
use entity::runtime::audit::Actor;
use entity::runtime::filter::{Filter, Target};
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::schedule::CronSchedule;
use entity::runtime::sql::{Direction, SortKey};
use entity::runtime::store::{ListArgs, Store};
use entity::runtime::time;
use entity::runtime::workflows::{self as wf, Trigger};
use entity::runtime::{emails, webhooks};
use entity::{Db, Error, Result};
use serde_json::{Value, json};

/// Records read per page.
const PAGE: u64 = 200;

/// Scans time-based triggers.
pub struct TimeScanner {
    /// Reads every tenant's workflows (no row-level security).
    system: Db,
    /// Tenant traffic: records and runs, under row-level security.
    db: Db,
    poll: Duration,
    email_lease: Duration,
}

/// The default email lease: four SMTP timeouts.
pub const DEFAULT_EMAIL_LEASE: Duration = Duration::from_secs(120);

impl TimeScanner {
    pub fn new(system: Db, db: Db, poll: Duration) -> Self {
        TimeScanner { system, db, poll, email_lease: DEFAULT_EMAIL_LEASE }
    }

    /// How long an email may stay claimed (`sending`) before it counts as abandoned.
    pub fn with_email_lease(mut self, lease: Duration) -> Self {
        self.email_lease = lease;
        self
    }

    pub async fn run(self) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::error!(error = %e, "time-trigger scan failed");
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Scans every time-triggered workflow and overdue approval up to now.
    pub async fn pass(&self) -> Result<()> {
        self.pass_at(time::now(), None).await
    }

    /// One scan as if it were `now`, of every tenant or only `tenant`: the controllable clock
    /// (tests move time forward by days without waiting; an operator can replay a window).
    pub async fn pass_at(&self, now: DateTime<Utc>, tenant: Option<&str>) -> Result<()> {
        let all = wf::time_triggered(&self.system.conn, self.system.dialect).await?;
        for t in all.iter().filter(|t| tenant.is_none_or(|x| x == t.workflow.tenant_id)) {
            let w = &t.workflow;
            // Never before the last edit or activation: turning a workflow on does not replay
            // what passed while it was off.
            let from = t.scanned_through.map_or(w.updated_at, |s| s.max(w.updated_at));
            if from < now
                && let Err(e) = self.scan(t, from, now).await
            {
                tracing::warn!(workflow = %w.id, error = %e, "time-trigger scan of a workflow failed");
            }
        }
        self.escalate(now, tenant).await?;
        // A lease measures how long a live worker has been silent: on the real clock, never a
        // chosen `now` (a scan as if it were tomorrow would take over every run, email and
        // delivery in flight, of every tenant, from the workers busy with them).
        self.recover_emails(time::now()).await
    }

    /// Requeues emails and webhook deliveries whose worker died mid-send (claimed longer ago
    /// than the lease) and
    /// continues runs whose worker died mid-run (no progress for longer than the lease).
    async fn recover_emails(&self, now: DateTime<Utc>) -> Result<()> {
        let lease =
            chrono::Duration::from_std(self.email_lease).map_err(|e| Error::Internal(e.to_string()))?;
        let cutoff = now - lease;
        for (tenant_id, id) in emails::stale_claims(&self.system.conn, self.system.dialect, cutoff).await? {
            let txn = self.db.begin_tenant_write(&tenant_id).await?;
            if emails::release_stale(&txn, self.db.dialect, &tenant_id, &id, cutoff).await? {
                tracing::warn!(email = %id, "an email's worker stopped during delivery; queued again (a second copy, with the same Message-ID, if the relay had already taken it)");
            }
            txn.commit().await?;
        }
        for (tenant_id, id) in
            webhooks::stale_deliveries(&self.system.conn, self.system.dialect, cutoff).await?
        {
            let txn = self.db.begin_tenant_write(&tenant_id).await?;
            if webhooks::requeue_delivery(&txn, self.db.dialect, &tenant_id, &id, Some(cutoff)).await? {
                tracing::warn!(delivery = %id, "a webhook delivery's worker stopped mid-send; queued again");
            }
            txn.commit().await?;
        }
        for (tenant_id, id) in wf::stale_runs(&self.system.conn, self.system.dialect, cutoff).await? {
            let txn = self.db.begin_tenant_write(&tenant_id).await?;
            if wf::requeue_run(&txn, self.db.dialect, &tenant_id, &id, Some(cutoff)).await? {
                tracing::warn!(run = %id, "a workflow run's worker stopped mid-run; continuing it");
            }
            txn.commit().await?;
        }
        Ok(())
    }

    /// Escalates approval requests whose stage passed its SLA by `now`.
    async fn escalate(&self, now: DateTime<Utc>, tenant: Option<&str>) -> Result<()> {
        let d = self.db.dialect;
        let actor = Actor::system();
        for req in approvals::overdue(&self.system.conn, self.system.dialect, now, tenant).await? {
            let meta = TenantMeta::load_for(&self.db, &req.tenant_id).await?;
            let txn = self.db.begin_tenant_read(&req.tenant_id).await?;
            let policy = approvals::policy(&txn, d, &req.tenant_id, &req.policy_id).await?;
            txn.commit().await?;
            let (Some(policy), Some(entity)) = (policy, meta.entity_by_id(&req.entity_id)) else { continue };
            let Some(record) = Store::new(&self.db, &req.tenant_id).get(entity, &req.record_id, None).await?
            else {
                continue;
            };
            let scope = Scope {
                db: &self.db,
                tenant_id: &req.tenant_id,
                meta: &meta,
                entity,
                policy: &policy,
                actor: &actor,
            };
            match flow::escalate(&scope, &req, &record).await {
                Ok(true) => tracing::info!(request = %req.id, "approval escalated after its SLA"),
                Ok(false) => {}
                Err(e) => tracing::warn!(request = %req.id, error = %e, "approval escalation failed"),
            }
        }
        Ok(())
    }

    /// Queues the runs a workflow owes for `(from, to]` and records the scan.
    async fn scan(&self, t: &wf::TimeTriggered, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<()> {
        let w = &t.workflow;
        // A schedule without a tick in the interval needs no metadata, records or write: the
        // next pass looks at a longer interval from the same start.
        let fired = match &w.definition.trigger {
            Trigger::Schedule { cron, time_zone, .. } => {
                let zone = time_zone.as_deref().unwrap_or(&t.tenant_time_zone);
                let schedule = CronSchedule::parse(cron, zone).map_err(Error::BadRequest)?;
                match schedule.latest_in(from, to) {
                    Some(fired) => Some(fired),
                    None => return Ok(()),
                }
            }
            _ => None,
        };
        let meta = TenantMeta::load_for(&self.db, &w.tenant_id).await?;
        let Some(entity) = meta.entity_by_id(&w.entity_id) else { return Ok(()) };
        let due = match (&w.definition.trigger, fired) {
            (Trigger::Schedule { .. }, Some(fired)) => {
                let key = |id: &str, _: &Value| format!("schedule:{}:{id}", fired.timestamp());
                self.matching(&w.tenant_id, entity, w.definition.condition.clone(), None, key).await?
            }
            (Trigger::RelativeDate { field, offset_minutes, .. }, _) => {
                let Some(def) = entity.field_by_graphql(field).or_else(|| entity.field_by_key(field)) else {
                    return Ok(());
                };
                // field + offset ∈ (from, to]  ⇔  field ∈ (from − offset, to − offset]
                let offset = chrono::Duration::minutes(*offset_minutes);
                let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
                let window = json!({ def.graphql_name.clone(): {"gt": stamp(from - offset), "lte": stamp(to - offset)} });
                let filter = match &w.definition.condition {
                    Some(c) => json!({"and": [window, c]}),
                    None => window,
                };
                let order =
                    SortKey { target: Target::Field(Box::new(def.clone())), direction: Direction::Asc };
                let key = |id: &str, data: &Value| {
                    format!("date:{id}:{}", data.get(&def.key).and_then(Value::as_str).unwrap_or_default())
                };
                self.matching(&w.tenant_id, entity, Some(filter), Some(order), key).await?
            }
            _ => return Ok(()),
        };
        let d = self.db.dialect;
        let txn = self.db.begin_tenant_write(&w.tenant_id).await?;
        for (record, key) in &due {
            if wf::queue_run(&txn, d, w, key, record, None).await?.is_some() {
                tracing::info!(workflow = %w.id, record = %record, key = %key, "time trigger fired");
            }
        }
        wf::set_scanned_through(&txn, d, &w.tenant_id, &w.id, to).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Every live record matching `filter`, as (id, run key). Read before the writes: SQLite
    /// must not hold its single writer while paging.
    async fn matching(
        &self,
        tenant_id: &str,
        entity: &EntityDef,
        filter: Option<Value>,
        order: Option<SortKey>,
        key: impl Fn(&str, &Value) -> String,
    ) -> Result<Vec<(String, String)>> {
        let filter = filter.map(|f| Filter::parse(entity, &f)).transpose()?;
        let store = Store::new(&self.db, tenant_id);
        let mut due = Vec::new();
        let mut after = None;
        loop {
            let args = ListArgs {
                filter: filter.clone(),
                order: order.clone().into_iter().collect(),
                first: Some(PAGE),
                after: after.take(),
                ..ListArgs::default()
            };
            let page = store.list(entity, &args, PAGE).await?;
            for r in &page.records {
                let data = Value::Object((*r.data).clone());
                due.push((r.id.clone(), key(&r.id, &data)));
            }
            match (page.has_next, page.end_cursor()) {
                (true, Some(c)) => after = Some(c),
                _ => break,
            }
        }
        Ok(due)
    }
}
