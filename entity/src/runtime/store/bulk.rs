//! Bulk writes: many creates, updates or soft-deletes in ONE transaction, all or nothing.
//! Each record takes exactly the path of its single write (`create_all`, `update_fetched`,
//! `set_deleted_fetched`: validation, field and lifecycle rules, the row rule, rollups, one
//! audit entry and one change event per record); what is bulk is the transaction, the one
//! statement that reads (and on PostgreSQL locks) the records an update or delete touches,
//! and a create's look-ups and writes, one statement per kind for all its records
//! (`create`).
//! A filter selects exactly what a list with that filter shows the caller (its row rule ANDed
//! in), so a record outside the rule is never matched; named by id, such a record is NOT_FOUND,
//! as with a single write.

use serde_json::{Map, Value};

use super::create::NewRecord;
use super::{Caller, ListArgs, Store, columns, current_entity, visible};
use crate::pipeline::Exec;
use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::runtime::record::Record;
use crate::runtime::rollup_fields;
use crate::runtime::sql::{self, Direction, SortKey};
use crate::runtime::store::WriteRequest;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, FieldError, Result};

/// Which records an update or delete of many touches.
#[derive(Debug, Clone, Copy)]
pub enum Selection<'s> {
    /// These records (ids in their stored form); each must be live and within the caller's
    /// row rule.
    Ids(&'s [String]),
    /// Every live record matching the filter (`None`: all) and the caller's row rule.
    Filter(Option<&'s Filter>),
}

/// One input of a create of many: the GraphQL input and the owner to set.
pub type CreateInput = (Map<String, Value>, Option<String>);

impl<'a> Store<'a> {
    /// Creates a record per input, in input order, or none: a bad input fails the whole write,
    /// with every bad field of every input named `inputs[<index>].<field>`.
    pub async fn create_many(
        &self,
        meta: &TenantMeta,
        entity: &EntityDef,
        inputs: &[CreateInput],
        caller: Caller<'_>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        check_size(inputs.len(), limit)?;
        match self.create_many_once(meta, entity, inputs, caller).await {
            // As a single create: checked against definitions replaced meanwhile, nothing was
            // written; once more against the current ones.
            Err(Error::DefinitionsChanged) => {
                let fresh = self.current_meta().await?;
                let entity = current_entity(&fresh, entity)?;
                self.create_many_once(&fresh, entity, inputs, caller).await
            }
            other => other,
        }
    }

    async fn create_many_once(
        &self,
        meta: &TenantMeta,
        entity: &EntityDef,
        inputs: &[CreateInput],
        caller: Caller<'_>,
    ) -> Result<Vec<Record>> {
        let txn = self.db.write_txn(self.tenant_id).await?;
        let t = &txn;
        let records = async {
            let given: Vec<&Map<String, Value>> = inputs.iter().map(|(input, _)| input).collect();
            rollup_fields::lock_for_many(t, self.d(), meta, entity, &[], &given).await?;
            let items: Vec<NewRecord<'_>> =
                inputs.iter().map(|(input, owner)| NewRecord { input, owner: owner.as_deref() }).collect();
            let made = self.create_all(t, meta, entity, &items, caller, false).await?;
            each(made.into_iter().enumerate(), |(i, made)| (format!("inputs[{i}]"), async move { made }))
                .await
        }
        .await;
        txn.finish(records).await
    }

    /// Updates every selected record with the same input (see [`Store::update`]); records
    /// the input leaves unchanged are returned as they are.
    pub async fn update_many(
        &self,
        sel: Selection<'_>,
        limit: usize,
        w: WriteRequest<'_>,
    ) -> Result<Vec<Record>> {
        let txn = self.db.write_txn(self.tenant_id).await?;
        let t = &txn;
        let records = async {
            let found = self.select_for_write(t, w.entity, sel, w.caller.row, limit).await?;
            let stored: Vec<&Map<String, Value>> = found.iter().map(|r| &*r.data).collect();
            rollup_fields::lock_for_many(t, self.d(), w.meta, w.entity, &stored, &[w.input]).await?;
            each(found.into_iter(), move |old| {
                (format!("records[{}]", old.id), async move { self.update_fetched(t, old, w).await })
            })
            .await
        }
        .await;
        txn.finish(records).await
    }

    /// Soft-deletes every selected record (see [`Store::set_deleted`]).
    pub async fn delete_many(
        &self,
        meta: &TenantMeta,
        entity: &EntityDef,
        sel: Selection<'_>,
        caller: Caller<'_>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let txn = self.db.write_txn(self.tenant_id).await?;
        let t = &txn;
        let records = async {
            let found = self.select_for_write(t, entity, sel, caller.row, limit).await?;
            let stored: Vec<&Map<String, Value>> = found.iter().map(|r| &*r.data).collect();
            rollup_fields::lock_for_many(t, self.d(), meta, entity, &stored, &[]).await?;
            each(found.into_iter(), move |rec| {
                let at = format!("records[{}]", rec.id);
                (at, async move { self.set_deleted_fetched(t, meta, entity, rec, true, caller.actor).await })
            })
            .await
        }
        .await;
        txn.finish(records).await
    }

    /// The live records `sel` names, in one statement (locked on PostgreSQL, as the single
    /// write locks its record), in list order (`createdAt`, then id).
    async fn select_for_write(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        sel: Selection<'_>,
        row: Option<&Filter>,
        limit: usize,
    ) -> Result<Vec<Record>> {
        let d = self.d();
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT ").push(&columns(d, entity)).push(" FROM records WHERE ");
        let mut ids: Vec<&String> = Vec::new();
        match sel {
            Selection::Ids(given) => {
                for id in given {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                check_size(ids.len(), limit)?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                buf.push("tenant_id = ").bind(self.tenant_id.to_owned());
                buf.push(" AND entity_id = ").bind(entity.id.clone());
                buf.push(" AND deleted_at IS NULL AND id IN (");
                for (i, id) in ids.iter().enumerate() {
                    if i > 0 {
                        buf.push(", ");
                    }
                    buf.bind_record_id(id);
                }
                buf.push(")");
            }
            Selection::Filter(filter) => {
                // Exactly a list's predicate: the filter with the caller's row rule ANDed in.
                let args = ListArgs { filter: filter.cloned(), ..ListArgs::default() }.restrict(row);
                self.push_scope(&mut buf, &entity.id, &args)?;
                self.push_filters(&mut buf, entity, &args)?;
            }
        }
        let order = [SortKey { target: Target::CreatedAt, direction: Direction::Asc }];
        sql::push_order_by(&mut buf, &super::effective_keys(&order, false));
        if matches!(sel, Selection::Filter(_)) {
            // One more than allowed tells "too many" from "exactly the limit".
            buf.push(" LIMIT ").push(&(limit + 1).to_string());
        }
        if d == Dialect::Postgres {
            buf.push(" FOR UPDATE");
        }
        let rows = txn.query_all(buf.into_statement()).await?;
        let found: Vec<Record> = rows.iter().map(Record::from_row).collect::<Result<_>>()?;
        if matches!(sel, Selection::Filter(_)) {
            if found.len() > limit {
                return Err(Error::BadRequest(format!(
                    "the filter matches more than {limit} records, the most one bulk write may change"
                )));
            }
            return Ok(found);
        }
        // By id: each must be there and visible, as for a single write (NOT_FOUND, so ids
        // outside the row rule cannot be told from missing ones).
        super::super::hierarchy::load(txn, self.d(), self.tenant_id, row).await?;
        for id in &ids {
            if !found.iter().any(|r| &&r.id == id && visible(row, r)) {
                return Err(Error::NotFound(format!("{} {id}", entity.label_singular)));
            }
        }
        Ok(found)
    }
}

/// Refuses a bulk write of more than `limit` records before anything is read or written.
fn check_size(n: usize, limit: usize) -> Result<()> {
    if n > limit {
        return Err(Error::BadRequest(format!(
            "a bulk write takes at most {limit} records; this one has {n}"
        )));
    }
    Ok(())
}

/// Runs each record's write in turn (they share one transaction, so never concurrently).
/// Validation errors are gathered over every record, each field named under the record's
/// place (`inputs[3].email`), so one answer lists everything to fix; any other error stops at
/// once, its message naming the place.
async fn each<T, F, Fut>(items: impl Iterator<Item = T>, mut write: F) -> Result<Vec<Record>>
where
    F: FnMut(T) -> (String, Fut),
    Fut: std::future::Future<Output = Result<Record>>,
{
    let mut out = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    for item in items {
        let (at, fut) = write(item);
        match fut.await {
            Ok(r) => out.push(r),
            Err(Error::Validation(es)) => {
                errors.extend(es.into_iter().map(|e| FieldError { field: format!("{at}.{}", e.field), ..e }))
            }
            Err(Error::Forbidden(m)) => return Err(Error::Forbidden(format!("{at}: {m}"))),
            Err(Error::NotFound(m)) => return Err(Error::NotFound(format!("{at}: {m}"))),
            Err(e) => return Err(e),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(Error::Validation(errors)) }
}
