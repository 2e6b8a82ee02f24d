//! Writes of the record store: create, update, soft-delete and restore. Each is one
//! transaction that validates the input (values, references, uniqueness, owner), keeps within
//! the caller's row rule, appends the audit entry and writes the change event to the outbox
//! (`changes`). A create's steps are `create`'s, shared with bulk creates and imports.

use serde_json::{Map, Value};

use super::create::NewRecord;
use super::{
    COLUMNS, Caller, Liveness, Store, check_visible, current_entity, fetch_one, one_statement,
    push_live_among, visible,
};
use super::{files, guards, retry};
use crate::pipeline::Exec;
use crate::runtime::audit::{self, Actor};
use crate::runtime::lifecycle;
use crate::runtime::meta::{EntityDef, FieldDef, TenantMeta};
use crate::runtime::record::{ChangeKind, Record};
use crate::runtime::time;
use crate::runtime::value::{self, Mode};
use crate::runtime::{formula, hierarchy, uid};
use crate::sql_buf::SqlBuf;
use crate::{Error, Result};

/// One create or update as asked: the definitions it is checked against, the entity, the
/// GraphQL input (keyed by GraphQL field names), the owner to set (if any) and who writes.
#[derive(Debug, Clone, Copy)]
pub struct WriteRequest<'r> {
    pub meta: &'r TenantMeta,
    pub entity: &'r EntityDef,
    pub input: &'r Map<String, Value>,
    pub owner: Option<&'r str>,
    pub caller: Caller<'r>,
}

impl<'a> Store<'a> {
    /// Creates a record from GraphQL input.
    pub async fn create(&self, w: WriteRequest<'_>) -> Result<Record> {
        retry::transient(move || async move {
            match self.create_once(w).await {
                // Checked against definitions that a concurrent change replaced before the write
                // could commit: nothing was written; once more against the current ones.
                Err(Error::DefinitionsChanged) => {
                    let fresh = self.current_meta().await?;
                    let entity = current_entity(&fresh, w.entity)?;
                    self.create_once(WriteRequest { meta: &fresh, entity, ..w }).await
                }
                other => other,
            }
        })
        .await
    }

    /// The tenant's definitions as they are now, as the API sees them (an entity switched off
    /// meanwhile is gone): what a write refused with `DefinitionsChanged` retries against.
    pub(super) async fn current_meta(&self) -> Result<TenantMeta> {
        Ok(TenantMeta::load_for(self.db, self.tenant_id).await?.switched_on())
    }

    /// One attempt of [`Store::create`].
    async fn create_once(&self, w: WriteRequest<'_>) -> Result<Record> {
        let txn = self.db.write_txn(self.tenant_id).await?;
        let record = self.create_with(&txn, w, true).await;
        match txn.finish(record).await {
            // A relation target is missing or of another entity: the write was refused whole.
            // Checking step by step names the field (or succeeds, if it has appeared since).
            Err(e) if e.sqlstate().as_deref() == Some(guards::REFERENCE_GUARD_STATE) => {
                let txn = self.db.write_txn(self.tenant_id).await?;
                let record = self.create_with(&txn, w, false).await;
                txn.finish(record).await
            }
            other => other,
        }
    }

    /// [`Store::create`] inside a transaction the caller commits (lead conversion creates
    /// three records in one).
    pub async fn create_in(&self, txn: &impl Exec, w: WriteRequest<'_>) -> Result<Record> {
        self.create_with(txn, w, false).await
    }

    /// A single create: [`Store::create_all`] of one record (see there for `guarded`).
    pub(super) async fn create_with(
        &self,
        txn: &impl Exec,
        w: WriteRequest<'_>,
        guarded: bool,
    ) -> Result<Record> {
        let one = [NewRecord { input: w.input, owner: w.owner }];
        let mut made = self.create_all(txn, w.meta, w.entity, &one, w.caller, guarded).await?;
        made.pop().unwrap_or_else(|| Err(Error::Internal("a create returned nothing".into())))
    }

    /// Updates a live record; only fields present in `input` change (`null` clears).
    pub async fn update(&self, id: &str, w: WriteRequest<'_>) -> Result<Record> {
        retry::transient(move || async move {
            let txn = self.db.write_txn(self.tenant_id).await?;
            let record = self.update_in(&txn, id, w).await;
            txn.finish(record).await
        })
        .await
    }

    /// [`Store::update`] inside a transaction the caller commits (so a change of another
    /// kind, such as an approval decision, and the record write are one transaction).
    pub async fn update_in(&self, txn: &impl Exec, id: &str, w: WriteRequest<'_>) -> Result<Record> {
        let d = self.d();
        hierarchy::load(txn, d, self.tenant_id, w.caller.row).await?;
        let old = fetch_one(txn, one_statement(d, self.tenant_id, w.entity, id, Liveness::Live, true))
            .await?
            .filter(|r| visible(w.caller.row, r))
            .ok_or_else(|| Error::NotFound(w.entity.label_singular.clone()))?;
        self.update_fetched(txn, old, w).await
    }

    /// The update of `old`, a live record read (and on PostgreSQL locked) in `txn` within the
    /// caller's row rule: the one path of single and bulk updates.
    pub(super) async fn update_fetched(
        &self,
        txn: &impl Exec,
        old: Record,
        w: WriteRequest<'_>,
    ) -> Result<Record> {
        let WriteRequest { meta, entity, input, owner, caller: Caller { actor, row } } = w;
        let id = old.id.as_str();
        // `old` as read holds its formulas' values; the stored values are the rest.
        let stored = stored_only(entity, &old.data);
        let (mut data, mut errors) = value::apply_input(&entity.fields, &stored, input, Mode::Update);
        errors.extend(
            files::resolve(txn, self.d(), self.tenant_id, entity, &mut data, Some(old.id.as_str()), actor)
                .await?,
        );
        errors.extend(lifecycle::check_write(&entity.fields, Some(&old.data), &data, actor.role.as_deref()));
        errors.extend(uid::check_kept(entity, &stored, &data));
        let changed: Vec<&FieldDef> = entity
            .fields
            .iter()
            .filter(|f| data.get(f.key.as_str()) != old.data.get(f.key.as_str()))
            .filter(|f| !errors.iter().any(|e| e.field == f.graphql_name))
            .collect();
        errors.extend(self.check_references(txn, meta, entity, &changed, &data, Some(id), true).await?);
        if let Some(o) = owner {
            errors.extend(self.check_owner(txn, o).await?);
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let mut new = old.clone();
        new.data = self.computed(txn, entity, &data).await?.into();
        if let Some(o) = owner {
            new.owner_id = Some(o.to_owned());
        }
        let changed_fields = new.changed_fields(&old, entity);
        if changed_fields.is_empty() {
            return Ok(old);
        }
        new.updated_at = time::now();
        new.version += 1;
        hierarchy::relink(txn, self.d(), self.tenant_id, entity, id, Some(&stored), &data).await?;
        hierarchy::load(txn, self.d(), self.tenant_id, row).await?;
        check_visible(row, &new)?;
        let tenant_id = self.tenant_id;
        let write: audit::Write<'_> = Box::new(|buf: &mut SqlBuf| {
            buf.push("UPDATE records SET data = ");
            buf.bind_json(&data)?;
            buf.push(", owner_id = ").bind(new.owner_id.clone());
            buf.push(", updated_at = ").bind_ts(new.updated_at);
            buf.push(", version = version + 1 WHERE tenant_id = ").bind(tenant_id.to_owned());
            buf.push(" AND id = ").bind_record_id(id);
            Ok(())
        });
        files::link(txn, self.d(), tenant_id, entity, &old.id, &stored, &data).await?;
        let mut changes = audit::diff(&stored, &data);
        if old.owner_id != new.owner_id
            && let Value::Object(m) = &mut changes
        {
            m.insert("$owner".into(), serde_json::json!({ "old": old.owner_id, "new": new.owner_id }));
        }
        self.record_change(
            txn,
            meta,
            actor,
            entity,
            (ChangeKind::Updated, &new, Some(&old)),
            changed_fields,
            changes,
            write,
        )
        .await?;
        Ok(new)
    }

    /// Soft-deletes (`deleted = true`) or restores a record.
    pub async fn set_deleted(
        &self,
        meta: &TenantMeta,
        entity: &EntityDef,
        id: &str,
        deleted: bool,
        caller: Caller<'_>,
    ) -> Result<Record> {
        retry::transient(move || async move {
            let txn = self.db.write_txn(self.tenant_id).await?;
            // The change in `txn`, which `finish` then commits (or rolls back on an error).
            let record: Result<Record> = async {
                let txn = &txn;
                let (actor, row) = (caller.actor, caller.row);
                let d = self.d();
                let want = if deleted { Liveness::Live } else { Liveness::Deleted };
                hierarchy::load(txn, d, self.tenant_id, row).await?;
                let rec = fetch_one(txn, one_statement(d, self.tenant_id, entity, id, want, true))
                    .await?
                    .filter(|r| visible(row, r))
                    .ok_or_else(|| Error::NotFound(entity.label_singular.clone()))?;
                self.set_deleted_fetched(txn, meta, entity, rec, deleted, actor).await
            }
            .await;
            txn.finish(record).await
        })
        .await
    }

    /// Soft-deletes or restores `rec`, read (and on PostgreSQL locked) in `txn` within the
    /// caller's row rule: the one path of single and bulk deletes.
    pub(super) async fn set_deleted_fetched(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        mut rec: Record,
        deleted: bool,
        actor: &Actor,
    ) -> Result<Record> {
        let id = rec.id.clone();
        let id = id.as_str();
        if !deleted {
            // A restored record must not duplicate a unique value taken meanwhile.
            let unique: Vec<&FieldDef> = entity.fields.iter().filter(|f| f.unique).collect();
            let errors = self.check_references(txn, meta, entity, &unique, &rec.data, Some(id), true).await?;
            if !errors.is_empty() {
                return Err(Error::Validation(errors));
            }
        }
        let now = time::now();
        files::follow_record(txn, self.d(), self.tenant_id, &rec.id, deleted.then_some(now), rec.deleted_at)
            .await?;
        rec.deleted_at = deleted.then_some(now);
        rec.updated_at = now;
        rec.version += 1;
        let tenant_id = self.tenant_id;
        let write: audit::Write<'_> = Box::new(|buf: &mut SqlBuf| {
            buf.push("UPDATE records SET deleted_at = ");
            if deleted {
                buf.bind_ts(now);
            } else {
                buf.push("NULL");
            }
            buf.push(", updated_at = ").bind_ts(now).push(", version = version + 1");
            buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned());
            buf.push(" AND id = ").bind_record_id(id);
            Ok(())
        });
        let kind = if deleted { ChangeKind::Deleted } else { ChangeKind::Restored };
        let no_changes = Value::Object(Map::new());
        self.record_change(txn, meta, actor, entity, (kind, &rec, None), Vec::new(), no_changes, write)
            .await?;
        Ok(rec)
    }

    /// `data` (stored values) with every formula field of `entity` computed in memory
    /// (`formula::fill`), reading the live records its formulas' relation paths point at in
    /// `txn`: one statement per hop (at most `formula::MAX_HOPS`), each for every path of
    /// that length at once.
    pub(super) async fn computed(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        data: &Map<String, Value>,
    ) -> Result<Map<String, Value>> {
        let mut out = data.clone();
        if !entity.fields.iter().any(|f| f.formula.is_some()) {
            return Ok(out);
        }
        let paths: Vec<&[formula::Hop]> = entity
            .fields
            .iter()
            .filter_map(|f| f.formula.as_ref())
            .flat_map(|x| x.relations.iter().map(Vec::as_slice))
            .collect();
        let mut related = formula::Related::new();
        for hops in 1..=formula::MAX_HOPS {
            // (path, target entity, id) of each path this long whose prefix was found.
            let wanted: Vec<(String, &str, String)> = paths
                .iter()
                .filter(|p| p.len() == hops)
                .filter_map(|p| {
                    let (last, prefix) = p.split_last()?;
                    let source =
                        if prefix.is_empty() { data } else { related.get(&formula::path_name(prefix))? };
                    let id = source.get(last.key.as_str())?.as_str()?.to_owned();
                    Some((formula::path_name(p), last.entity_id.as_str(), id))
                })
                .collect();
            if wanted.is_empty() {
                break;
            }
            let ids: Vec<&str> = wanted.iter().map(|(_, _, id)| id.as_str()).collect();
            let mut buf = SqlBuf::new(self.d());
            buf.push("SELECT ").push(COLUMNS);
            push_live_among(&mut buf, self.tenant_id, &ids);
            let found: Vec<Record> = txn
                .query_all(buf.into_statement())
                .await?
                .iter()
                .map(Record::from_row)
                .collect::<Result<_>>()?;
            for (path, entity_id, id) in wanted {
                if let Some(r) = found.iter().find(|r| r.id == id && r.entity_id == entity_id) {
                    related.insert(path, (*r.data).clone());
                }
            }
        }
        formula::fill(entity, &mut out, &related);
        Ok(out)
    }
}

/// `data` without the values of `entity`'s formula fields (which are never stored).
pub(super) fn stored_only(entity: &EntityDef, data: &Map<String, Value>) -> Map<String, Value> {
    let mut out = data.clone();
    for f in entity.fields.iter().filter(|f| !f.is_stored()) {
        out.remove(f.key.as_str());
    }
    out
}
