//! The sweeper: what time alone sets off. `TimeScanner` runs every sweep once a poll, each in
//! a module of its own:
//! - `schedule`: cron `schedule` triggers of workflows;
//! - `relative_date`: `relative_date` triggers (a record's date plus an offset) of workflows;
//! - `approvals`: approval requests pending past their stage's SLA are escalated (once);
//! - `confidence`: open pipeline records whose confidence score is a day old are scored again
//!   (the nightly pass; on the chosen clock, so tests move days forward);
//! - `leases`: emails and webhook deliveries whose worker died mid-send are queued again, and
//!   runs whose worker died mid-run continue;
//! - tenants whose deletion's grace period is over are deleted
//!   (`entity::features::gdpr::tenant::execute_due`, on the chosen clock like the triggers).
//!
//! The two triggers read the records they owe runs through `records`. Each sweep is a function
//! of the databases it is given, so none depends on the scanner that runs it.
//!
//! A trigger's runs are queued through the outbox in the same transaction that advances the
//! workflow's `scanned_through`; a restart resumes from there, so a moment that passed while
//! the process was down still fires, once (missed cron ticks collapse into the latest). Several
//! scanners may race: a run's unique key keeps it to one. Editing or re-activating a workflow
//! starts its scan afresh from that moment.

mod approvals;
mod confidence;
mod leases;
mod records;
mod relative_date;
mod schedule;

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::features::workflows::{self as wf, Trigger};
use entity::runtime::time;
use entity::{Db, Result};

/// Runs the sweeps.
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

    /// Runs every sweep each `poll` until the process stops; a failed pass is logged and the
    /// next one tries again.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::error!(error = %e, "time-trigger scan failed");
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Runs every sweep up to now.
    pub async fn pass(&self) -> Result<()> {
        self.pass_at(time::now(), None).await
    }

    /// One scan as if it were `now`, of every tenant or only `tenant`: the controllable clock
    /// (tests move time forward by days without waiting; an operator can replay a window).
    pub async fn pass_at(&self, now: DateTime<Utc>, tenant: Option<&str>) -> Result<()> {
        let all = wf::time_triggered(&self.system.conn).await?;
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
        approvals::escalate(&self.system, &self.db, now, tenant).await?;
        if let Err(e) = confidence::nightly(&self.system, &self.db, now, tenant).await {
            tracing::warn!(error = %e, "the nightly confidence pass failed");
        }
        // Tenants whose deletion's grace period is over (GDPR): every row of theirs goes.
        if let Err(e) = entity::features::gdpr::tenant::execute_due(&self.system, now, tenant).await {
            tracing::warn!(error = %e, "deleting the tenants whose deletion is due failed");
        }
        // A lease measures how long a live worker has been silent: on the real clock, never a
        // chosen `now` (a scan as if it were tomorrow would take over every run, email and
        // delivery in flight, of every tenant, from the workers busy with them).
        leases::recover(&self.system, &self.db, self.email_lease, time::now()).await
    }

    /// Queues the runs a workflow owes for `(from, to]` and records the scan.
    async fn scan(&self, t: &wf::TimeTriggered, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<()> {
        let w = &t.workflow;
        let due = match &w.definition.trigger {
            Trigger::Schedule { cron, time_zone, .. } => {
                let zone = time_zone.as_deref().unwrap_or(&t.tenant_time_zone);
                schedule::due(&self.db, w, cron, zone, from, to).await?
            }
            Trigger::RelativeDate { field, offset_minutes, .. } => {
                relative_date::due(&self.db, w, field, *offset_minutes, from, to).await?
            }
            _ => None,
        };
        // Nothing is recorded without a due list: a schedule's next pass then looks at a longer
        // interval from the same start, and a workflow whose entity or field is gone stays put.
        let Some(due) = due else { return Ok(()) };
        let d = self.db.dialect;
        let txn = self.db.begin_tenant_write(&w.tenant_id).await?;
        for (record, key) in &due {
            if wf::queue_run(&txn, d, w, key, record, None).await?.is_some() {
                tracing::info!(workflow = %w.id, record = %record, key = %key, "time trigger fired");
            }
        }
        wf::set_scanned_through(&txn, &w.tenant_id, &w.id, to).await?;
        txn.commit().await?;
        Ok(())
    }
}
