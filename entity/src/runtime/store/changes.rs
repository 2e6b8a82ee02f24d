//! What a record write writes besides the record's own row: its audit entry, its change event
//! (outbox), its search entries, the rollup cells it moves and the ROLLUP fields of the parents
//! it moves. `Store::parts` works them out for one record, the same for every kind of write;
//! `record_change` writes them for one record (on PostgreSQL in one statement with the record's
//! own), `write_created` for the records of a batch of creates, each kind one multi-row
//! statement (per `CHUNK` records) rather than one per record.

use serde_json::{Map, Value};

use super::{COLUMNS, Store, computed};
use crate::Result;
use crate::pipeline::Exec;
use crate::runtime::audit::{self, Actor};
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::runtime::record::{ChangeEvent, ChangeKind, PreviousColumns, Record};
use crate::runtime::rollup_fields::Plan;
use crate::runtime::slot::Slot;
use crate::runtime::{mentions, personal, rollups, search};
use crate::sql_buf::SqlBuf;

/// The most records one multi-row statement of a batch writes (well within both backends'
/// limits on bound values).
const CHUNK: usize = 400;

/// A record created, with the values it stores (its formulas' values are never stored).
pub(super) type Made = (Record, Map<String, Value>);

/// What one record's change writes besides the record itself.
struct Parts<'m> {
    event: ChangeEvent,
    action: &'static str,
    changes: Value,
    deltas: rollups::Deltas,
    search: Vec<audit::Write<'static>>,
    plan: Plan<'m>,
}

impl Store<'_> {
    /// Writes the records `made` creates (checked, numbered) and all that goes with them.
    /// One record as `record_change` writes it (`guard`: PostgreSQL's single create, whose
    /// INSERT checks its definitions and these relation targets itself). More as a batch, each
    /// kind in multi-row statements: the records, their change events, their audit entries
    /// (`audit::append_many`), the rollup cells they move (once, summed) and the ROLLUP fields
    /// of their parents (each parent recomputed once).
    pub(super) async fn write_created(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        actor: &Actor,
        entity: &EntityDef,
        made: &[Made],
        guard: Option<&[(String, String)]>,
    ) -> Result<()> {
        if let [(record, data)] = made {
            let (tenant_id, version) = (self.tenant_id, meta.version);
            let insert: audit::Write<'_> = Box::new(move |buf: &mut SqlBuf| {
                push_insert(buf, tenant_id, entity, made, guard.map(|t| (version, t)))
            });
            let changes = audit::diff(&Map::new(), data);
            let kind = (ChangeKind::Created, record, None);
            return self
                .record_change(
                    txn,
                    meta,
                    actor,
                    entity,
                    kind,
                    created_fields(entity, record),
                    changes,
                    insert,
                )
                .await;
        }
        let (d, tenant_id) = (self.d(), self.tenant_id);
        let Some((first, _)) = made.first() else { return Ok(()) };
        let mut parts = Vec::with_capacity(made.len());
        for (record, data) in made {
            let changes = audit::diff(&Map::new(), data);
            let kind = (ChangeKind::Created, record, None);
            parts.push(
                self.parts(txn, meta, actor, entity, kind, created_fields(entity, record), changes).await?,
            );
        }
        for chunk in made.chunks(CHUNK) {
            let mut buf = SqlBuf::new(d);
            push_insert(&mut buf, tenant_id, entity, chunk, None)?;
            txn.execute(buf.into_statement()).await?;
        }
        for chunk in parts.chunks(CHUNK) {
            let events: Vec<&ChangeEvent> = chunk.iter().map(|p| &p.event).collect();
            let mut buf = SqlBuf::new(d);
            computed::push_change_events(&mut buf, tenant_id, entity, &events)?;
            txn.execute(buf.into_statement()).await?;
        }
        let mut deltas = rollups::Deltas::new();
        let mut plan: Option<Plan<'_>> = None;
        let mut entries = Vec::with_capacity(parts.len());
        for (p, (record, _)) in parts.into_iter().zip(made) {
            for write in &p.search {
                let mut buf = SqlBuf::new(d);
                write(&mut buf)?;
                txn.execute(buf.into_statement()).await?;
            }
            rollups::merge(&mut deltas, p.deltas);
            plan = Some(match plan {
                Some(all) => all.merge(p.plan),
                None => p.plan,
            });
            let object = Some(record.id.as_str());
            entries.push(audit::Entry {
                action: p.action,
                object_type: &entity.name_singular,
                object_id: object,
                changes: p.changes,
            });
        }
        // The parents are locked before the audit head, as a single write locks them, and
        // after the records' INSERT, so that a parent created in this batch is read too.
        let parents = match &plan {
            Some(p) => p.lock(txn, d, tenant_id).await?,
            None => Vec::new(),
        };
        audit::append_many(txn, d, tenant_id, actor, &entries).await?;
        // Stock balances under the head, as a single write moves them (`record_change`).
        for (record, _) in made {
            self.move_stock(txn, meta, entity, (None, Some(&*record.data)), true).await?;
        }
        if !deltas.is_empty() {
            let mut buf = SqlBuf::new(d);
            rollups::push_upsert(&mut buf, tenant_id, entity, &deltas)?;
            txn.execute(buf.into_statement()).await?;
        }
        if let Some(plan) = plan {
            plan.apply(txn, d, tenant_id, parents, first, actor.depth).await?;
        }
        for (record, _) in made {
            mentions::notify(txn, d, tenant_id, meta, entity, record, (None, Some(&*record.data)), actor)
                .await?;
        }
        Ok(())
    }

    /// Writes a change in its transaction: the record itself (`write`), the change event
    /// (outbox), the rollup cells it moves and the audit entry (`changes`: old/new values of
    /// changed fields) — on PostgreSQL one statement after the audit head's lock — and then
    /// the ROLLUP fields of the parents it moves (`rollup_fields::Plan`: nothing to do, and no
    /// statement, when no rollup field reads the entity).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn record_change(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        actor: &Actor,
        entity: &EntityDef,
        change: (ChangeKind, &Record, Option<&Record>),
        changed_fields: Vec<String>,
        changes: Value,
        write: audit::Write<'_>,
    ) -> Result<()> {
        let (kind, record, old) = change;
        let Parts { event, action, changes, deltas, search, plan } =
            self.parts(txn, meta, actor, entity, change, changed_fields, changes).await?;
        let tenant_id = self.tenant_id;
        let outbox: audit::Write<'_> =
            Box::new(|buf: &mut SqlBuf| computed::push_change_events(buf, tenant_id, entity, &[&event]));
        let entry =
            audit::Entry { action, object_type: &entity.name_singular, object_id: Some(&record.id), changes };
        let mut writes = vec![write, outbox];
        for w in search {
            writes.push(w);
        }
        if !deltas.is_empty() {
            writes.push(Box::new(|buf: &mut SqlBuf| rollups::push_upsert(buf, tenant_id, entity, &deltas)));
        }
        // The parents are locked before the audit head (which the next statement takes): a
        // writer holding the head then waits for no row, so no two writers deadlock.
        let parents = plan.lock(txn, self.d(), tenant_id).await?;
        audit::append_with(txn, self.d(), self.tenant_id, actor, &entry, &writes).await?;
        // Stock balances only under the head: only stock writes lock them, always there, so
        // they wait for no one and no bulk write's later records deadlock (`store::stock`).
        let (before, after) = match kind {
            ChangeKind::Created | ChangeKind::Restored => (None, Some(&*record.data)),
            ChangeKind::Updated => (old.map(|o| &*o.data), Some(&*record.data)),
            ChangeKind::Deleted => (Some(&*record.data), None),
        };
        let production = matches!(kind, ChangeKind::Created | ChangeKind::Updated);
        self.move_stock(txn, meta, entity, (before, after), production).await?;
        plan.apply(txn, self.d(), tenant_id, parents, record, actor.depth).await?;
        // A restore brings back no mention: only what a create or an update adds is new.
        let sides = match kind {
            ChangeKind::Created => (None, Some(&*record.data)),
            ChangeKind::Updated => (old.map(|o| &*o.data), Some(&*record.data)),
            ChangeKind::Deleted | ChangeKind::Restored => return Ok(()),
        };
        mentions::notify(txn, self.d(), tenant_id, meta, entity, record, sides, actor).await
    }

    /// What a change of `record` writes besides the record (its personal values sealed under
    /// the record's key for the trail: crypto-shredding).
    #[allow(clippy::too_many_arguments)]
    async fn parts<'m>(
        &self,
        txn: &impl Exec,
        meta: &'m TenantMeta,
        actor: &Actor,
        entity: &EntityDef,
        (kind, record, old): (ChangeKind, &Record, Option<&Record>),
        changed_fields: Vec<String>,
        mut changes: Value,
    ) -> Result<Parts<'m>> {
        personal::seal_changes(txn, self.db, self.tenant_id, entity, &record.id, &mut changes).await?;
        let event = ChangeEvent {
            tenant_id: self.tenant_id.to_owned(),
            entity_id: entity.id.clone(),
            kind,
            record: record.clone(),
            changed_fields,
            previous: old.map(|o| (*o.data).clone()),
            previous_columns: old
                .map(|o| PreviousColumns { owner_id: o.owner_id.clone(), updated_at: o.updated_at }),
            depth: actor.depth,
            workflows_off: actor.workflows_off,
        };
        let action = match kind {
            ChangeKind::Created => "record.create",
            ChangeKind::Updated => "record.update",
            ChangeKind::Deleted => "record.delete",
            ChangeKind::Restored => "record.restore",
        };
        let previous = event.previous.as_ref();
        let (before, after) = match kind {
            ChangeKind::Created | ChangeKind::Restored => (None, Some(&*record.data)),
            ChangeKind::Updated => (previous, Some(&*record.data)),
            ChangeKind::Deleted => (Some(&*record.data), None),
        };
        let deltas = rollups::deltas(entity, before, after);
        // The record's search entries move with it (none for an entity nothing is searchable of).
        let search = search::writes(self.tenant_id, entity, &record.id, before, after);
        let plan = Plan::of(meta, entity, record, before, after)?;
        Ok(Parts { event, action, changes, deltas, search, plan })
    }
}

/// The GraphQL names of the fields a new record has values of (its change event's).
fn created_fields(entity: &EntityDef, record: &Record) -> Vec<String> {
    entity
        .fields
        .iter()
        .filter(|f| record.data.contains_key(f.key.as_str()))
        .map(|f| f.graphql_name.clone())
        .collect()
}

/// The INSERT of the records `made`: one row each. With `guard` (PostgreSQL, one record) the
/// row comes from a SELECT whose WHERE holds the guards: the tenant's definitions are still
/// those of the version given, and the relation targets exist
/// (`guards::push_definitions_guard`, `guards::push_reference_guard`).
fn push_insert(
    buf: &mut SqlBuf,
    tenant_id: &str,
    entity: &EntityDef,
    made: &[Made],
    guard: Option<(i64, &[(String, String)])>,
) -> Result<()> {
    // The entity's index slots get their fields' keys (the database derives the values).
    let slots: Vec<(Slot, &str)> =
        entity.fields.iter().filter_map(|f| f.slot.map(|s| (s, f.key.as_str()))).collect();
    buf.push("INSERT INTO records (tenant_id, ").push(COLUMNS);
    for (slot, _) in &slots {
        buf.push(", ").push(&slot.key_column());
    }
    buf.push(") ").push(if guard.is_some() { "SELECT " } else { "VALUES " });
    for (i, (record, data)) in made.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        if guard.is_none() {
            buf.push("(");
        }
        buf.bind(tenant_id.to_owned()).push(", ").bind_record_id(&record.id).push(", ");
        buf.bind(record.entity_id.clone()).push(", ");
        buf.bind_json(data)?;
        buf.push(", ").bind(record.owner_id.clone()).push(", ").bind(record.created_by.clone());
        buf.push(", ").bind(record.number).push(", ").bind(record.record_number.clone());
        buf.push(", ").bind_ts(record.created_at).push(", ").bind_ts(record.updated_at).push(", NULL, 1");
        for (_, key) in &slots {
            buf.push(", ").bind((*key).to_owned());
        }
        if guard.is_none() {
            buf.push(")");
        }
    }
    if let Some((version, targets)) = guard {
        buf.push(" WHERE ");
        super::guards::push_definitions_guard(buf, tenant_id, version);
        if !targets.is_empty() {
            buf.push(" AND ");
            super::guards::push_reference_guard(buf, tenant_id, targets);
        }
    }
    Ok(())
}
