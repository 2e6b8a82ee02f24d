//! Keeping ROLLUP fields current. A child write recomputes, in its own transaction, the
//! parents whose value it may move (`Plan`): the parent it points at before and after (both,
//! when it moves from one to another), when the child enters or leaves the live records, the
//! rollup's filter, or changes its measured value. The parents are read first — on
//! PostgreSQL locked `FOR UPDATE` in id order, before the write's statement takes the tenant's
//! audit head — so every writer that can move a parent's value waits for the one before it to
//! commit, and then recomputes from the children as they are (READ COMMITTED: each later
//! statement sees every commit before it). Recomputing rather than adding deltas keeps MIN,
//! MAX and AVG right and cannot drift. SQLite has one writer at a time. Cost per child write:
//! the lock read and one aggregation per rollup field over the entity (none when no rollup
//! field reads it), and the parents' writes, sent with the commit on PostgreSQL.
//!
//! `backfill` recomputes every rollup field of a tenant inside a definition change's
//! transaction: a new rollup field gets its values for existing data at once.

use std::collections::BTreeMap;

use sea_orm::ConnectionTrait;
use serde_json::{Map, Value};

use super::{Source, compute, sources};
use crate::pipeline::Exec;
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::runtime::record::Record;
use crate::runtime::store::computed::{self, Among, Recomputed};
use crate::{Dialect, Result};

/// Reads (and on PostgreSQL locks, in id order) every parent a write of many `entity` records
/// may move, before the first of them is written. A bulk write takes the tenant's audit head
/// with its first record; locking a later record's parents only then would take parent and
/// head in the opposite order of a single write (parents, then head) and could deadlock with
/// one. `stored` are the records' values before the write, `inputs` the GraphQL inputs, whose
/// relation values (by GraphQL name) are the parents they move to. Locking a parent the write
/// turns out not to move costs nothing but the wait.
pub async fn lock_for_many(
    txn: &impl Exec,
    d: Dialect,
    meta: &TenantMeta,
    entity: &EntityDef,
    stored: &[&Map<String, Value>],
    inputs: &[&Map<String, Value>],
) -> Result<()> {
    if d != Dialect::Postgres {
        // SQLite has one writer at a time: nothing to order.
        return Ok(());
    }
    let mut ids: Vec<&str> = Vec::new();
    for s in sources(meta, Some(&entity.id))? {
        let before = stored.iter().filter_map(|m| m.get(s.relation.key.as_str()));
        let after = inputs.iter().filter_map(|m| m.get(&s.relation.graphql_name));
        // Inputs are not validated yet: only what could be a record id is read.
        ids.extend(
            before.chain(after).filter_map(Value::as_str).filter(|id| uuid::Uuid::parse_str(id).is_ok()),
        );
    }
    lock_parents(txn, d, &meta.tenant_id, ids).await?;
    Ok(())
}

/// Parents `ids`, read and (on PostgreSQL) locked in id order: the one order every writer
/// takes them in.
async fn lock_parents(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    mut ids: Vec<&str>,
) -> Result<Vec<Record>> {
    ids.sort_unstable();
    ids.dedup();
    computed::records(txn, d, tenant_id, Among::Ids(&ids), true).await
}

/// The rollup work of one record write: each rollup field over the written entity whose
/// value may change, with the parents (ids) to recompute.
pub struct Plan<'m> {
    meta: &'m TenantMeta,
    work: Vec<(Source<'m>, Vec<String>)>,
}

impl<'m> Plan<'m> {
    /// What a write of `record` (an `entity` record) moves: `before`/`after` are its data
    /// while live before and after the write (a create has no `before`, a delete no `after`).
    pub fn of(
        meta: &'m TenantMeta,
        entity: &EntityDef,
        record: &Record,
        before: Option<&Map<String, Value>>,
        after: Option<&Map<String, Value>>,
    ) -> Result<Plan<'m>> {
        let mut work = Vec::new();
        for s in sources(meta, Some(&entity.id))? {
            // What the record gives the rollup: the parent it counts towards and its measure.
            let side = |data: Option<&Map<String, Value>>| -> Option<(String, Option<Value>)> {
                let data = data?;
                let parent = data.get(s.relation.key.as_str())?.as_str()?.to_owned();
                if let Some(f) = &s.filter {
                    let probe = Record { data: data.clone().into(), ..record.clone() };
                    if !f.matches(&probe) {
                        return None;
                    }
                }
                Some((parent, s.measure.and_then(|m| data.get(m.key.as_str()).cloned())))
            };
            let (old, new) = (side(before), side(after));
            if old == new {
                continue;
            }
            let mut parents: Vec<String> = old.into_iter().chain(new).map(|(p, _)| p).collect();
            parents.sort();
            parents.dedup();
            work.push((s, parents));
        }
        Ok(Plan { meta, work })
    }

    /// One plan for the writes of `self` and `other` together (a batch of creates): each
    /// parent is then locked, recomputed and stored once for the whole batch.
    pub fn merge(mut self, other: Plan<'m>) -> Plan<'m> {
        for (s, parents) in other.work {
            let same = |(t, _): &&mut (Source<'m>, Vec<String>)| {
                t.field.key == s.field.key && t.parent.id == s.parent.id && t.relation.key == s.relation.key
            };
            match self.work.iter_mut().find(same) {
                Some((_, ids)) => {
                    ids.extend(parents);
                    ids.sort();
                    ids.dedup();
                }
                None => self.work.push((s, parents)),
            }
        }
        self
    }

    /// Reads (and on PostgreSQL locks, in id order) the parents to recompute.
    pub async fn lock(&self, txn: &impl Exec, d: Dialect, tenant_id: &str) -> Result<Vec<Record>> {
        let ids = self.work.iter().flat_map(|(_, ps)| ps.iter().map(String::as_str)).collect();
        lock_parents(txn, d, tenant_id, ids).await
    }

    /// After the write: recomputes the rollups of `parents` (as `lock` read them) and stores
    /// those that changed. `written` is the record just written (a parent of itself through a
    /// self-relation is taken as written, not as read before).
    pub async fn apply(
        self,
        txn: &impl Exec,
        d: Dialect,
        tenant_id: &str,
        parents: Vec<Record>,
        written: &Record,
        depth: u32,
    ) -> Result<()> {
        let mut by_id: BTreeMap<String, Recomputed> = BTreeMap::new();
        for p in parents {
            let old = if p.id == written.id { written.clone() } else { p };
            let data = (*old.data).clone();
            by_id.insert(old.id.clone(), Recomputed { old, data, changed: Vec::new() });
        }
        for (s, ids) in &self.work {
            let values = compute::values(txn, d, tenant_id, s, Some(ids)).await?;
            for id in ids {
                // A parent that is gone (its entity deleted meanwhile) has nothing to keep.
                let Some(r) = by_id.get_mut(id).filter(|r| r.old.entity_id == s.parent.id) else {
                    continue;
                };
                let value = values.get(id).cloned().or_else(|| compute::empty(s.function, s.field));
                if set(&mut r.data, s.field.key.as_str(), value) {
                    r.changed.push(s.field.graphql_name.clone());
                }
            }
        }
        for r in by_id.into_values().filter(|r| !r.changed.is_empty()) {
            let Some(entity) = self.meta.entity_by_id(&r.old.entity_id) else { continue };
            computed::write_computed(txn, d, tenant_id, entity, r, depth).await?;
        }
        Ok(())
    }
}

/// Sets (or, for `None`, removes) `key` in `data`; whether that changed it.
fn set(data: &mut Map<String, Value>, key: &str, value: Option<Value>) -> bool {
    if data.get(key) == value.as_ref() {
        return false;
    }
    match value {
        Some(v) => data.insert(key.to_owned(), v),
        None => data.remove(key),
    };
    true
}

/// The starting values of a new record's rollup fields (it has no children yet).
pub fn seed(entity: &EntityDef, data: &mut Map<String, Value>) {
    for f in &entity.fields {
        if let Some(r) = &f.rollup {
            set(data, f.key.as_str(), compute::empty(r.function, f));
        }
    }
}

/// Recomputes every rollup field of the tenant over its stored records, inside a definition
/// change's transaction (before the aggregate cells are rebuilt from the records).
pub async fn backfill(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str) -> Result<()> {
    let meta = TenantMeta::load(conn, tenant_id).await?;
    for s in sources(&meta, None)? {
        let values = compute::values(conn, d, tenant_id, &s, None).await?;
        for rec in computed::records(conn, d, tenant_id, Among::Entity(&s.parent.id), false).await? {
            let mut data = (*rec.data).clone();
            let value = values.get(&rec.id).cloned().or_else(|| compute::empty(s.function, s.field));
            if set(&mut data, s.field.key.as_str(), value) {
                computed::backfill_data(conn, d, tenant_id, &rec.id, &data).await?;
            }
        }
    }
    Ok(())
}
