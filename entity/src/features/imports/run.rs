//! Running an import, one batch per transaction. A batch claims the import at its cursor (a
//! second worker, or a cancel, makes the claim fail and the batch is not written), writes its
//! good rows through the record store's one create path (`Store::create_all`, the path of
//! `createDeal` and `createDeals`: the same validation, row rule, lifecycle, numbering, audit
//! entry, outbox change event and rollups per record, with one statement per kind of look-up
//! or write for up to `AT_ONCE` rows) and updates the records an upsert finds
//! (`Store::update_in`), records the refused rows, and advances the cursor — all in one
//! transaction. The look-ups a batch needs of its own are batched too: the records an upsert
//! updates (one statement per `AT_ONCE` rows) and the relation targets named by record number
//! or a unique field (`targets`: one statement per relation column). A dry run writes its rows
//! inside a savepoint it rolls back, so it checks every row exactly as the real run would
//! (uniqueness within the batch included) and keeps only the report.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::{Map, Value};

use super::cells::{self, Cell, Target};
use super::file::{self, Row};
use super::mapping::Column;
use super::targets::{self, Looked, within_rule};
use super::{Import, Progress, RowError, Status};
use crate::features::users::attributes;
use crate::runtime::audit::Actor;
use crate::runtime::filter::{Filter, Op, Target as On};
use crate::runtime::meta::{EntityDef, FieldDef, TenantMeta};
use crate::runtime::policy::{Action, Attributes, FieldAccess, Permissions, Subject};
use crate::runtime::store::{Caller, NewRecord, Store, WriteRequest};
use crate::runtime::value;
use crate::{Db, Error, ErrorCode, Result};

/// The most rows written at once (one statement per kind of look-up or write for them).
const AT_ONCE: usize = 250;

/// The longest a batch writes before it commits: on SQLite its transaction holds the one write
/// lock, which other writers (the job queue's poller among them) wait for only so long.
const BATCH_TIME: Duration = Duration::from_secs(2);

/// Takes import `id` up (pending → running). `None`: it has ended or does not exist.
pub async fn start(db: &Db, tenant_id: &str, id: &str) -> Result<Option<Import>> {
    let txn = db.begin_tenant_write(tenant_id).await?;
    let row = super::begin(&txn, tenant_id, id).await?;
    txn.commit().await?;
    Ok(row)
}

/// Import `id` as it is now.
pub async fn reload(db: &Db, tenant_id: &str, id: &str) -> Result<Option<Import>> {
    let txn = db.begin_tenant_read(tenant_id).await?;
    let row = super::get(&txn, tenant_id, id, None).await?;
    txn.commit().await?;
    Ok(row)
}

/// Ends import `id` as failed with `message`.
pub async fn fail(db: &Db, tenant_id: &str, id: &str, message: &str) -> Result<()> {
    let txn = db.begin_tenant_write(tenant_id).await?;
    super::fail(&txn, tenant_id, id, message).await?;
    txn.commit().await?;
    Ok(())
}

/// Runs the next batch (up to `size` rows, and as many as `BATCH_TIME` allows) of the import as
/// `row` has it, reading its file at
/// `path`: the import as the batch left it when more rows follow, `None` when it has ended
/// (done, failed, cancelled) or another worker went on with it. An error leaves nothing of the
/// batch written: trying again is safe.
pub async fn batch(db: &Db, path: &Path, row: &Import, size: usize) -> Result<Option<Import>> {
    if row.status != Status::Running.as_str() {
        return Ok(None);
    }
    let meta = TenantMeta::load_for(db, &row.tenant_id).await?.switched_on();
    let Some(entity) = meta.entity_by_id(&row.entity_id).cloned() else {
        fail(db, &row.tenant_id, &row.id, "the entity no longer exists (or its module is switched off)")
            .await?;
        return Ok(None);
    };
    let read = {
        let (path, offset, done) = (path.to_owned(), row.cursor_offset, row.processed_rows);
        let offset = u64::try_from(offset).map_err(|_| Error::Internal("negative import offset".into()))?;
        tokio::task::spawn_blocking(move || file::read_batch(&path, offset, done, size))
            .await
            .map_err(|e| Error::Internal(format!("import read task: {e}")))?
    };
    let read = match read {
        Ok(r) => r,
        Err(message) => {
            fail(db, &row.tenant_id, &row.id, &message).await?;
            return Ok(None);
        }
    };
    let ctx = Rows::new(db, &meta, &entity, row).await?;
    let txn = db.begin_tenant_write(&row.tenant_id).await?;
    if !super::claim(&txn, row).await? {
        txn.rollback().await?;
        return Ok(None);
    }
    let mut progress = Progress { next_offset: read.next_offset, ..Progress::default() };
    let mut refused: Vec<RowError> = Vec::new();
    {
        // A dry run writes into a savepoint it then rolls back.
        let savepoint = if row.dry_run { Some(txn.begin().await?) } else { None };
        let work: &DatabaseTransaction = savepoint.as_ref().unwrap_or(&txn);
        let mut targets = HashMap::new();
        let deadline = Instant::now() + BATCH_TIME;
        let mut rest = read.rows.as_slice();
        while !rest.is_empty() && Instant::now() < deadline {
            let take = rest.len().min(AT_ONCE);
            let outcomes = ctx.write_some(work, &rest[..take], &mut targets).await?;
            if outcomes.is_empty() || outcomes.len() > take {
                return Err(Error::Internal("an import step wrote no row".into()));
            }
            let (done, left) = rest.split_at(outcomes.len());
            rest = left;
            for (r, outcome) in done.iter().zip(outcomes) {
                progress.rows += 1;
                progress.next_offset = r.end;
                match outcome {
                    Outcome::Created => progress.created += 1,
                    Outcome::Updated => progress.updated += 1,
                    Outcome::Refused(errors) => {
                        progress.refused += 1;
                        refused.extend(errors.into_iter().enumerate().map(
                            |(seq, (field, code, message))| RowError {
                                tenant_id: row.tenant_id.clone(),
                                import_id: row.id.clone(),
                                row_no: r.number,
                                seq: i32::try_from(seq).unwrap_or(i32::MAX),
                                field,
                                code: code.as_str().to_owned(),
                                message,
                            },
                        ));
                    }
                }
            }
        }
        if let Some(s) = savepoint {
            s.rollback().await?;
        }
    }
    super::insert_errors(&txn, refused).await?;
    let last = read.rows.is_empty() || row.processed_rows + progress.rows >= row.total_rows;
    let next = super::advance(&txn, row, progress, last).await?;
    txn.commit().await?;
    Ok((!last).then_some(next))
}

/// What became of one row.
enum Outcome {
    Created,
    Updated,
    /// Not written: (field's GraphQL name or none for the row, code, message) per problem.
    Refused(Problems),
}

/// What every row of a batch is written with.
struct Rows<'a> {
    store: Store<'a>,
    meta: &'a TenantMeta,
    entity: &'a EntityDef,
    /// The mapped columns whose fields the importer may still write.
    columns: Vec<(usize, &'a FieldDef)>,
    upsert_by: Option<&'a FieldDef>,
    actor: Actor,
    permissions: Permissions,
    /// The importer's attributes (`$user.<key>` in their row rules).
    attributes: Attributes,
    row_rule: Option<Filter>,
}

impl<'a> Rows<'a> {
    async fn new(
        db: &'a Db,
        meta: &'a TenantMeta,
        entity: &'a EntityDef,
        row: &'a Import,
    ) -> Result<Rows<'a>> {
        let mut actor: Actor = serde_json::from_value(row.actor.clone())?;
        let attributes = attributes::load(db, &row.tenant_id, actor.user_id.as_deref()).await?;
        actor.workflows_off = !row.run_workflows;
        let permissions = Permissions::from_stored(&row.permissions);
        let mapped: Vec<Column> = serde_json::from_value(row.mapping.clone())?;
        let writable = |f: &&FieldDef| !f.is_computed() && permissions.field(entity, f) == FieldAccess::Write;
        let columns = mapped
            .iter()
            .filter_map(|c| entity.field_by_key(&c.field).filter(|f| writable(f)).map(|f| (c.column, f)))
            .collect();
        let upsert_by = row.upsert_by.as_deref().and_then(|k| entity.field_by_key(k));
        // Rows create or update (upserts): within the read rule and the update scope.
        let who = Subject { user_id: actor.user_id.as_deref(), attributes: &attributes };
        let row_rule = permissions.write_rule(entity, who, Action::Update);
        Ok(Rows {
            store: Store::new(db, &row.tenant_id),
            meta,
            entity,
            columns,
            upsert_by,
            actor,
            permissions,
            attributes,
            row_rule,
        })
    }

    /// Writes the first of `rows` (creating, or updating the record its upsert field names),
    /// as many as can go at once: what became of each, in order. It stops before a row whose
    /// upsert value an earlier row it creates holds, which then finds that record.
    async fn write_some(
        &self,
        txn: &DatabaseTransaction,
        rows: &[Row],
        targets: &mut HashMap<(String, Target), Looked>,
    ) -> Result<Vec<Outcome>> {
        let parsed = self.parse_all(txn, rows, targets).await?;
        let existing = match self.upsert_by {
            Some(f) => self.existing(txn, f, &parsed).await?,
            None => Vec::new(),
        };
        // Per row: its input, and the record an upsert updates.
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(parsed.len());
        let mut creates: Vec<(usize, Map<String, Value>)> = Vec::new();
        let mut creating: Vec<Value> = Vec::new();
        for (i, p) in parsed.into_iter().enumerate() {
            let input = match p {
                Ok(input) => input,
                Err(problems) => {
                    outcomes.push(Some(Outcome::Refused(problems)));
                    continue;
                }
            };
            let by = self.upsert_by.and_then(|f| upsert_value(f, &input));
            match existing.get(i).cloned().flatten() {
                Some(id) => {
                    let written = if self.permissions.can(self.entity, Action::Update) {
                        self.store.update_in(txn, &id, self.request(&input)).await.map(|_| Outcome::Updated)
                    } else {
                        Err(Error::Forbidden(format!(
                            "a {} with this value exists and your role may not update it",
                            self.entity.label_singular
                        )))
                    };
                    outcomes.push(Some(refusal(written)?));
                }
                None => {
                    if let Some(v) = by {
                        if creating.contains(&v) {
                            // Created by an earlier row of this call: the next call updates it.
                            break;
                        }
                        creating.push(v);
                    }
                    outcomes.push(None);
                    creates.push((i, input));
                }
            }
        }
        let items: Vec<NewRecord<'_>> =
            creates.iter().map(|(_, input)| NewRecord { input, owner: None }).collect();
        let caller = Caller { actor: &self.actor, row: self.row_rule.as_ref() };
        let made = self.store.create_all(txn, self.meta, self.entity, &items, caller, false).await?;
        for ((i, _), written) in creates.iter().zip(made) {
            outcomes[*i] = Some(refusal(written.map(|_| Outcome::Created))?);
        }
        outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| Error::Internal("an import row was not written".into())))
            .collect()
    }

    /// A write of `input` as the importer.
    fn request<'r>(&'r self, input: &'r Map<String, Value>) -> WriteRequest<'r> {
        WriteRequest {
            meta: self.meta,
            entity: self.entity,
            input,
            owner: None,
            caller: Caller { actor: &self.actor, row: self.row_rule.as_ref() },
        }
    }

    /// Each row's input (relation cells resolved to their targets' ids, looked up for all
    /// `rows` at once), or its problems.
    async fn parse_all(
        &self,
        txn: &DatabaseTransaction,
        rows: &[Row],
        targets: &mut HashMap<(String, Target), Looked>,
    ) -> Result<Vec<std::result::Result<Map<String, Value>, Problems>>> {
        let mut parsed: Vec<std::result::Result<Vec<(&FieldDef, Cell)>, Problems>> =
            Vec::with_capacity(rows.len());
        let mut wanted: Vec<(&FieldDef, Target)> = Vec::new();
        for r in rows {
            let cells = match &r.cells {
                Ok(c) => c,
                Err(message) => {
                    parsed.push(Err(vec![(None, ErrorCode::ValidationFailed, message.clone())]));
                    continue;
                }
            };
            let mut given = Vec::new();
            let mut problems = Vec::new();
            for (column, f) in &self.columns {
                let cell = cells.get(*column).map_or("", String::as_str);
                match cells::parse(f, cell) {
                    Ok(Cell::Empty) => {}
                    Ok(Cell::Target(t)) => {
                        if !targets.contains_key(&(f.key.to_string(), t.clone())) {
                            wanted.push((*f, t.clone()));
                        }
                        given.push((*f, Cell::Target(t)));
                    }
                    Ok(v) => given.push((*f, v)),
                    Err(message) => {
                        problems.push((Some(f.graphql_name.clone()), ErrorCode::ValidationFailed, message))
                    }
                }
            }
            parsed.push(if problems.is_empty() { Ok(given) } else { Err(problems) });
        }
        let finder = targets::Finder {
            store: &self.store,
            meta: self.meta,
            permissions: &self.permissions,
            attributes: &self.attributes,
            actor: &self.actor,
        };
        finder.look_up_all(txn, wanted, targets).await?;
        Ok(parsed
            .into_iter()
            .map(|p| {
                let mut input = Map::new();
                let mut problems = Vec::new();
                for (f, cell) in p? {
                    let v = match cell {
                        Cell::Target(t) => targets
                            .get(&(f.key.to_string(), t))
                            .cloned()
                            .unwrap_or_else(|| Err("not looked up".into()))
                            .map(Value::String),
                        Cell::Value(v) => Ok(v),
                        Cell::Empty => continue,
                    };
                    match v {
                        Ok(v) => {
                            input.insert(f.graphql_name.clone(), v);
                        }
                        Err(message) => problems.push((
                            Some(f.graphql_name.clone()),
                            ErrorCode::ValidationFailed,
                            message,
                        )),
                    }
                }
                if problems.is_empty() { Ok(input) } else { Err(problems) }
            })
            .collect())
    }

    /// Per parsed row, the id of the live record whose upsert field `f` holds the row's value
    /// (within the importer's row rule), if any: one statement for all of them.
    async fn existing(
        &self,
        txn: &DatabaseTransaction,
        f: &FieldDef,
        parsed: &[std::result::Result<Map<String, Value>, Problems>],
    ) -> Result<Vec<Option<String>>> {
        let values: Vec<Option<Value>> =
            parsed.iter().map(|p| p.as_ref().ok().and_then(|input| upsert_value(f, input))).collect();
        let mut distinct: Vec<Value> = Vec::new();
        for v in values.iter().flatten() {
            if !distinct.contains(v) {
                distinct.push(v.clone());
            }
        }
        if distinct.is_empty() {
            return Ok(vec![None; values.len()]);
        }
        let limit = u64::try_from(distinct.len() * 2 + 1).unwrap_or(u64::MAX);
        let by = Filter::Cond(On::Field(Box::new(f.clone())), Op::In(distinct));
        let found =
            self.store.find_in(txn, self.entity, within_rule(by, self.row_rule.as_ref()), limit).await?;
        Ok(values
            .into_iter()
            .map(|v| {
                let same = Filter::Cond(On::Field(Box::new(f.clone())), Op::Eq(v?));
                found.iter().find(|r| same.matches(r)).map(|r| r.id.clone())
            })
            .collect())
    }
}

/// What is wrong with a row: (field's GraphQL name or none for the row, code, message) each.
type Problems = Vec<(Option<String>, ErrorCode, String)>;

/// The value a row gives its upsert field, as stored (`None`: none, or not a valid one).
fn upsert_value(f: &FieldDef, input: &Map<String, Value>) -> Option<Value> {
    match input.get(&f.graphql_name).map(|v| value::normalize(f, v)) {
        Some(Ok(Some(v))) => Some(v),
        _ => None,
    }
}

/// What a row's write came to: refused (by its values, the row rule, a target gone) for this
/// row alone, so the rest go on; or an error of the database or the definitions under the
/// batch, which writes the whole batch again.
fn refusal(written: Result<Outcome>) -> Result<Outcome> {
    match written {
        Ok(outcome) => Ok(outcome),
        Err(Error::Validation(fields)) => Ok(Outcome::Refused(
            fields.into_iter().map(|e| (Some(e.field), ErrorCode::ValidationFailed, e.message)).collect(),
        )),
        Err(e @ (Error::Forbidden(_) | Error::NotFound(_) | Error::Conflict(_) | Error::BadRequest(_))) => {
            Ok(Outcome::Refused(vec![(None, e.code(), e.to_string())]))
        }
        Err(e) => Err(e),
    }
}
