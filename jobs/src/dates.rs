//! Relative-date triggers: every poll, for each active workflow with one, find the records whose
//! DATE_TIME field plus the offset passed since the last scan (and that match the workflow's
//! condition), and queue one run per (record, date value) through the outbox — in the same
//! transaction that advances the workflow's `scanned_through`. A restart resumes from there, so
//! a date that passed while the process was down still fires, once; several scanners may race,
//! and the run's unique key keeps it to one run. Editing or re-activating a workflow starts its
//! scan afresh from that moment (dates that passed while it was off do not fire).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use entity::runtime::filter::{Filter, Target};
use entity::runtime::meta::TenantMeta;
use entity::runtime::sql::{Direction, SortKey};
use entity::runtime::store::{ListArgs, Store};
use entity::runtime::time;
use entity::runtime::workflows::{self as wf, Trigger, Workflow};
use entity::{Db, Result};
use serde_json::{Value, json};

/// Records read per page while scanning one window.
const PAGE: u64 = 200;

/// Scans relative-date triggers.
pub struct DateScanner {
    /// Reads every tenant's workflows (no row-level security).
    system: Db,
    /// Tenant traffic: records and runs, under row-level security.
    db: Db,
    poll: Duration,
}

impl DateScanner {
    pub fn new(system: Db, db: Db, poll: Duration) -> Self {
        DateScanner { system, db, poll }
    }

    pub async fn run(self) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::error!(error = %e, "relative-date scan failed");
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Scans every relative-date workflow up to now.
    pub async fn pass(&self) -> Result<()> {
        let now = time::now();
        for (w, scanned) in wf::date_triggered(&self.system.conn, self.system.dialect).await? {
            // Never before the last edit or activation: turning a workflow on does not replay
            // every date that passed while it was off.
            let from = scanned.map_or(w.updated_at, |s| s.max(w.updated_at));
            if from < now
                && let Err(e) = self.scan(&w, from, now).await
            {
                tracing::warn!(workflow = %w.id, error = %e, "relative-date scan of a workflow failed");
            }
        }
        Ok(())
    }

    /// Queues runs for the dates of `w` that passed in `(from, to]`.
    async fn scan(&self, w: &Workflow, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<()> {
        let Trigger::RelativeDate { field, offset_minutes, .. } = &w.definition.trigger else {
            return Ok(());
        };
        let meta = TenantMeta::load_for(&self.db, &w.tenant_id).await?;
        let Some(entity) = meta.entity_by_id(&w.entity_id) else { return Ok(()) };
        let Some(def) = entity.field_by_graphql(field).or_else(|| entity.field_by_key(field)) else {
            return Ok(());
        };
        // field + offset ∈ (from, to]  ⇔  field ∈ (from − offset, to − offset]
        let offset = chrono::Duration::minutes(*offset_minutes);
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        let window =
            json!({ def.graphql_name.clone(): {"gt": stamp(from - offset), "lte": stamp(to - offset)} });
        let filter = match &w.definition.condition {
            Some(c) => json!({"and": [window, c]}),
            None => window,
        };
        let filter = Filter::parse(entity, &filter)?;
        // Read first, then write: SQLite must not hold its single writer while paging.
        let store = Store::new(&self.db, &w.tenant_id);
        let mut due = Vec::new();
        let mut after = None;
        loop {
            let args = ListArgs {
                filter: Some(filter.clone()),
                order: vec![SortKey {
                    target: Target::Field(Box::new(def.clone())),
                    direction: Direction::Asc,
                }],
                first: Some(PAGE),
                after: after.take(),
                ..ListArgs::default()
            };
            let page = store.list(entity, &args, PAGE).await?;
            for r in &page.records {
                let value = r.data.get(&def.key).and_then(Value::as_str).unwrap_or_default();
                due.push((r.id.clone(), format!("date:{}:{value}", r.id)));
            }
            match (page.has_next, page.cursors.last()) {
                (true, Some(c)) => after = Some(c.clone()),
                _ => break,
            }
        }
        let d = self.db.dialect;
        let txn = self.db.begin_tenant(&w.tenant_id, true).await?;
        for (record, key) in &due {
            if wf::queue_run(&txn, d, w, key, record).await?.is_some() {
                tracing::info!(workflow = %w.id, record = %record, "relative-date trigger fired");
            }
        }
        wf::set_scanned_through(&txn, d, &w.tenant_id, &w.id, to).await?;
        txn.commit().await?;
        Ok(())
    }
}
