//! Creating records: ONE path for a single create (`createDeal`), a bulk create
//! (`createDeals`) and an import batch, `Store::create_all`, which takes one record or many and
//! runs each step once for all of them: a look-up is one statement for the whole call, not one
//! per record, and the writes of many records are multi-row statements (`changes`).
//!
//! **Where a per-record create step goes.** `create_all` is the only place a record is created.
//! Its steps run in this order: `prepare` (per record, in memory: input, defaults, files,
//! lifecycle), `check_all` (the look-ups: relation targets, unique values, owners), the
//! definitions check and the record numbers (one statement each for the call), `finish` (per
//! record, in memory: formulas, the row rule) and `Store::write_created` (the INSERTs, audit
//! entries, change events, rollups). A step every new record needs (a UID, a hierarchy closure
//! row, a stock ledger posting) is added once in `create_all` — per record in memory, or as one
//! statement over the slice `made` — and applies to single creates, bulk creates and imports
//! alike; none of the three has a create path of its own.

use std::collections::{BTreeSet, HashSet};

use serde_json::{Map, Value};

use super::references::{Checked, relation_targets};
use super::{Caller, Store, check_visible, files, guards};
use crate::pipeline::Exec;
use crate::runtime::audit::Actor;
use crate::runtime::meta::{EntityDef, FieldDef, RelationKind, TenantMeta};
use crate::runtime::record::Record;
use crate::runtime::rollup_fields;
use crate::runtime::time;
use crate::runtime::value::{self, Mode};
use crate::runtime::{hierarchy, lifecycle};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, FieldError, Result};

/// One record to create: its GraphQL input (keyed by GraphQL field names) and the owner to set.
#[derive(Debug, Clone, Copy)]
pub struct NewRecord<'r> {
    pub input: &'r Map<String, Value>,
    pub owner: Option<&'r str>,
}

/// A record made by `create_all`, with its values as given (before formulas).
type Made = (Record, Map<String, Value>);

/// A record on its way through `create_all`.
struct Draft<'e> {
    data: Map<String, Value>,
    errors: Vec<FieldError>,
    /// The fields whose values passed the in-memory checks: the look-ups check these.
    checked: Vec<&'e FieldDef>,
    owner_id: Option<String>,
    /// The owner is another user than the acting one: looked up.
    other_owner: bool,
}

impl<'a> Store<'a> {
    /// Creates a record from each of `items` inside `txn`, as far as each is good: the result
    /// per item, in order, is the record or why it was refused (`Validation`, or `Forbidden`
    /// outside the caller's row rule); a refused item writes nothing. An `Err` of the whole call
    /// is one of the database or the definitions (`DefinitionsChanged`), and the caller rolls
    /// back. With `guarded` (a single create on PostgreSQL whose values need no uniqueness
    /// check) the relation targets are not looked up first: the INSERT checks them
    /// (`guards::push_reference_guard`) and fails when one is missing; the caller then retries
    /// unguarded. An import batch calls it in its own transaction, unguarded, and reports
    /// each refused row.
    pub async fn create_all(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        items: &[NewRecord<'_>],
        caller: Caller<'_>,
        guarded: bool,
    ) -> Result<Vec<Result<Record>>> {
        let Caller { actor, row } = caller;
        let d = self.d();
        let mut drafts = Vec::with_capacity(items.len());
        for item in items {
            drafts.push(self.prepare(txn, entity, item, actor).await?);
        }
        // Only a single create that will be written as it is leaves its relations to the
        // INSERT: when any check fails here, the relation checks run too, so every bad field
        // is named.
        let single = items.len() == 1 && d == Dialect::Postgres;
        let guarded = guarded
            && single
            && drafts.iter().all(|x| {
                x.errors.is_empty()
                    && !x.other_owner
                    && x.checked.iter().all(|f| !f.unique && f.relation_kind != Some(RelationKind::OneToOne))
            });
        let targets = match drafts.first() {
            Some(x) if guarded => relation_targets(&x.checked, &x.data),
            _ => Vec::new(),
        };
        self.check_all(txn, meta, entity, &mut drafts, !guarded).await?;
        // UIDs: a given one raises its sequence, an empty one gets the next (one UPSERT per
        // counter for the whole call; nothing for an entity without UID fields).
        let mut good: Vec<&mut Draft<'_>> = drafts.iter_mut().filter(|x| x.errors.is_empty()).collect();
        let mut values: Vec<&mut Map<String, Value>> = good.iter_mut().map(|x| &mut x.data).collect();
        let errors = self.assign_uids(txn, meta, entity, &mut values).await?;
        for (draft, errors) in good.into_iter().zip(errors) {
            draft.errors.extend(errors);
        }
        let good = drafts.iter().filter(|x| x.errors.is_empty()).count();
        // A single create on PostgreSQL checks its definitions in its INSERT.
        if good > 0 && !single {
            self.check_definitions(txn, meta).await?;
        }
        let mut number = match &entity.record_number_prefix {
            Some(_) if good > 0 => Some(self.next_numbers(txn, &entity.id, good).await?),
            _ => None,
        };
        let now = time::now();
        let mut built: Vec<std::result::Result<Made, Error>> = Vec::with_capacity(drafts.len());
        for draft in drafts {
            if !draft.errors.is_empty() {
                built.push(Err(Error::Validation(draft.errors)));
                continue;
            }
            let (n, record_number) = match (&entity.record_number_prefix, number) {
                (Some(prefix), Some(n)) => {
                    number = Some(n + 1);
                    (Some(n), Some(format!("{prefix}-{n:06}")))
                }
                _ => (None, None),
            };
            let record = Record {
                id: uuid::Uuid::new_v4().to_string(),
                entity_id: entity.id.clone(),
                data: self.computed(txn, entity, &draft.data).await?.into(),
                owner_id: draft.owner_id,
                created_by: actor.user_id.clone(),
                number: n,
                record_number,
                created_at: now,
                updated_at: now,
                deleted_at: None,
                version: 1,
            };
            built.push(Ok((record, draft.data)));
        }
        // Each record takes its place in the tenant's hierarchy first (no statement for an
        // entity without a hierarchy link), so a rule `within` it sees the record where it
        // will be; the rule's closure rows are then loaded once for all of them.
        for (record, _) in built.iter().flatten() {
            hierarchy::relink(txn, d, self.tenant_id, entity, &record.id, None, &record.data).await?;
        }
        hierarchy::load(txn, d, self.tenant_id, row).await?;
        let mut refused: Vec<Option<Error>> = Vec::with_capacity(built.len());
        let mut made: Vec<Made> = Vec::with_capacity(good);
        for item in built {
            let (record, data) = match item {
                Ok(made) => made,
                Err(e) => {
                    refused.push(Some(e));
                    continue;
                }
            };
            match check_visible(row, &record) {
                Ok(()) => {
                    refused.push(None);
                    made.push((record, data));
                }
                Err(e) => {
                    // Refused alone (an import's row): its place in the hierarchy goes too.
                    hierarchy::relink(
                        txn,
                        d,
                        self.tenant_id,
                        entity,
                        &record.id,
                        Some(&record.data),
                        &Map::new(),
                    )
                    .await?;
                    refused.push(Some(e));
                }
            }
        }
        let uids: Vec<(&str, &Map<String, Value>)> =
            made.iter().map(|(r, data)| (r.id.as_str(), data)).collect();
        self.register_uids(txn, entity, &uids).await?;
        for (record, data) in &made {
            files::link(txn, d, self.tenant_id, entity, &record.id, &Map::new(), data).await?;
        }
        let guard = single.then_some(targets.as_slice());
        self.write_created(txn, meta, actor, entity, &made, guard).await?;
        let mut records = made.into_iter().map(|(r, _)| r);
        Ok(refused
            .into_iter()
            .map(|e| match e {
                Some(e) => Err(e),
                None => records.next().ok_or_else(|| Error::Internal("a created record went missing".into())),
            })
            .collect())
    }

    /// The in-memory steps of a create (and the files it names): the values as stored, what is
    /// wrong with them, and the owner.
    async fn prepare<'e>(
        &self,
        txn: &impl Exec,
        entity: &'e EntityDef,
        item: &NewRecord<'_>,
        actor: &Actor,
    ) -> Result<Draft<'e>> {
        let (mut data, mut errors) =
            value::apply_input(&entity.fields, &Map::new(), item.input, Mode::Create);
        rollup_fields::seed(entity, &mut data);
        errors.extend(files::resolve(txn, self.d(), self.tenant_id, entity, &mut data, None, actor).await?);
        errors.extend(lifecycle::check_write(&entity.fields, None, &data, actor.role.as_deref()));
        let bad: HashSet<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let checked = entity.fields.iter().filter(|f| !bad.contains(f.graphql_name.as_str())).collect();
        let owner_id = item.owner.map(str::to_owned).or_else(|| actor.user_id.clone());
        // The acting user exists (it was just authenticated): only another owner is looked up.
        let other_owner = owner_id.is_some() && owner_id != actor.user_id;
        Ok(Draft { data, errors, checked, owner_id, other_owner })
    }

    /// The look-ups of the drafts, each kind one statement for all of them: relation targets
    /// (unless `relations` is false) and unique values (against the table and within the
    /// drafts); and each owner other than the acting user.
    async fn check_all(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        drafts: &mut [Draft<'_>],
        relations: bool,
    ) -> Result<()> {
        let items: Vec<Checked<'_>> = drafts
            .iter()
            .map(|x| Checked { fields: &x.checked, data: &x.data, self_id: None, clean: x.errors.is_empty() })
            .collect();
        let found = self.check_many(txn, meta, entity, &items, relations).await?;
        drop(items);
        for (draft, errors) in drafts.iter_mut().zip(found) {
            draft.errors.extend(errors);
        }
        let owners: BTreeSet<String> =
            drafts.iter().filter(|x| x.other_owner).filter_map(|x| x.owner_id.clone()).collect();
        for owner in owners {
            let errors = self.check_owner(txn, &owner).await?;
            for draft in drafts.iter_mut().filter(|x| x.other_owner && x.owner_id.as_ref() == Some(&owner)) {
                draft.errors.extend(errors.iter().cloned());
            }
        }
        Ok(())
    }

    /// The tenant's definitions are still those of `meta`, and stay so until the write
    /// commits. SQLite: the write lock, held since the transaction began, keeps them.
    /// PostgreSQL: the guard of a single create's INSERT (`guards::push_definitions_guard`),
    /// here as a statement of its own, locks the tenant row `FOR SHARE`.
    async fn check_definitions(&self, txn: &impl Exec, meta: &TenantMeta) -> Result<()> {
        let mut buf = SqlBuf::new(self.d());
        if self.d() == Dialect::Postgres {
            buf.push("SELECT ");
            guards::push_definitions_guard(&mut buf, self.tenant_id, meta.version);
            return txn.execute(buf.into_statement()).await;
        }
        buf.push("SELECT metadata_version AS v FROM tenants WHERE id = ").bind(self.tenant_id.to_owned());
        let row = txn.query_one(buf.into_statement()).await?;
        let version: Option<i64> = row.map(|r| r.try_get("", "v")).transpose()?;
        if version != Some(meta.version) {
            return Err(Error::DefinitionsChanged);
        }
        Ok(())
    }

    /// Allocates `n` consecutive record numbers of an entity inside the write's transaction
    /// (one statement): the first of them.
    async fn next_numbers(&self, txn: &impl Exec, entity_id: &str, n: usize) -> Result<i64> {
        let n = i64::try_from(n).map_err(|_| Error::Internal("too many records to number".into()))?;
        let mut buf = SqlBuf::new(self.d());
        buf.push("INSERT INTO record_counters (tenant_id, entity_id, value) VALUES (");
        buf.bind(self.tenant_id.to_owned()).push(", ").bind(entity_id.to_owned()).push(", ").bind(n);
        buf.push(") ON CONFLICT (tenant_id, entity_id) DO UPDATE SET value = record_counters.value + ");
        buf.bind(n).push(" RETURNING value");
        let last = counted(txn, buf).await?;
        Ok(last - n + 1)
    }
}

/// The value a counter's UPSERT … RETURNING `value` (`buf`) left (record numbers, UIDs).
pub(super) async fn counted(txn: &impl Exec, buf: SqlBuf) -> Result<i64> {
    let row = txn
        .query_one(buf.into_statement())
        .await?
        .ok_or_else(|| Error::Internal("counter upsert returned nothing".into()))?;
    Ok(row.try_get("", "value")?)
}
