//! Running an import, one batch per transaction. A batch claims the import at its cursor (a
//! second worker, or a cancel, makes the claim fail and the batch is not written), writes each
//! good row through the record store's own create or update (`Store::create_in`/`update_in`:
//! the same validation, row rule, lifecycle, numbering, audit entry, outbox change event and
//! rollups as `createDeal`), records the refused rows, and advances the cursor — all in one
//! transaction. A dry run writes its rows inside a savepoint it rolls back, so it checks every
//! row exactly as the real run would (uniqueness within the batch included) and keeps only the
//! report.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseTransaction, TransactionTrait};
use serde_json::{Map, Value};

use super::cells::{self, Cell, Target};
use super::file::{self, Row};
use super::mapping::{self, Column};
use super::{Import, Progress, RowError, Status};
use crate::features::users::attributes;
use crate::runtime::audit::Actor;
use crate::runtime::filter::{Filter, Op, Target as On};
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use crate::runtime::policy::{Action, Attributes, FieldAccess, Permissions, Subject};
use crate::runtime::record::Record;
use crate::runtime::store::{Caller, Store, WriteRequest};
use crate::runtime::value;
use crate::{Db, Error, ErrorCode, Result};

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
        for r in &read.rows {
            if Instant::now() >= deadline {
                break;
            }
            progress.rows += 1;
            progress.next_offset = r.end;
            match ctx.write(work, r, &mut targets).await? {
                Outcome::Created => progress.created += 1,
                Outcome::Updated => progress.updated += 1,
                Outcome::Refused(errors) => {
                    progress.refused += 1;
                    refused.extend(errors.into_iter().enumerate().map(|(seq, (field, code, message))| {
                        RowError {
                            tenant_id: row.tenant_id.clone(),
                            import_id: row.id.clone(),
                            row_no: r.number,
                            seq: i32::try_from(seq).unwrap_or(i32::MAX),
                            field,
                            code: code.as_str().to_owned(),
                            message,
                        }
                    }));
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
    Refused(Vec<(Option<String>, ErrorCode, String)>),
}

/// A relation cell's target as looked up: the record's id, or why there is none.
type Looked = std::result::Result<String, String>;

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

    /// Writes one row (creating, or updating the record its upsert field names), or says why not.
    async fn write(
        &self,
        txn: &DatabaseTransaction,
        r: &Row,
        targets: &mut HashMap<(String, Target), Looked>,
    ) -> Result<Outcome> {
        let cells = match &r.cells {
            Ok(c) => c,
            Err(message) => {
                return Ok(Outcome::Refused(vec![(None, ErrorCode::ValidationFailed, message.clone())]));
            }
        };
        let mut input = Map::new();
        let mut problems = Vec::new();
        for (column, f) in &self.columns {
            let cell = cells.get(*column).map_or("", String::as_str);
            let given = match cells::parse(f, cell) {
                Ok(Cell::Empty) => continue,
                Ok(Cell::Value(v)) => Ok(v),
                Ok(Cell::Target(t)) => {
                    let key = (f.key.to_string(), t);
                    if !targets.contains_key(&key) {
                        let found = self.look_up(txn, f, &key.1).await?;
                        targets.insert(key.clone(), found);
                    }
                    targets
                        .get(&key)
                        .cloned()
                        .unwrap_or_else(|| Err("not looked up".into()))
                        .map(Value::String)
                }
                Err(message) => Err(message),
            };
            match given {
                Ok(v) => {
                    input.insert(f.graphql_name.clone(), v);
                }
                Err(message) => {
                    problems.push((Some(f.graphql_name.clone()), ErrorCode::ValidationFailed, message))
                }
            }
        }
        if !problems.is_empty() {
            return Ok(Outcome::Refused(problems));
        }
        let existing = match self.upsert_by {
            Some(f) => self.existing(txn, f, &input).await?,
            None => None,
        };
        let w = WriteRequest {
            meta: self.meta,
            entity: self.entity,
            input: &input,
            owner: None,
            caller: Caller { actor: &self.actor, row: self.row_rule.as_ref() },
        };
        let written = match &existing {
            Some(id) if self.permissions.can(self.entity, Action::Update) => {
                self.store.update_in(txn, id, w).await.map(|_| Outcome::Updated)
            }
            Some(_) => Err(Error::Forbidden(format!(
                "a {} with this value exists and your role may not update it",
                self.entity.label_singular
            ))),
            None => self.store.create_in(txn, w).await.map(|_| Outcome::Created),
        };
        match written {
            Ok(outcome) => Ok(outcome),
            Err(Error::Validation(fields)) => Ok(Outcome::Refused(
                fields.into_iter().map(|e| (Some(e.field), ErrorCode::ValidationFailed, e.message)).collect(),
            )),
            // Bad for this row alone (outside the row rule, a target gone): the rest go on.
            Err(
                e @ (Error::Forbidden(_) | Error::NotFound(_) | Error::Conflict(_) | Error::BadRequest(_)),
            ) => Ok(Outcome::Refused(vec![(None, e.code(), e.to_string())])),
            // The database or the definitions under the batch: the whole batch again.
            Err(e) => Err(e),
        }
    }

    /// The id of the live record whose upsert field `f` holds the row's value (within the
    /// importer's row rule), if any.
    async fn existing(
        &self,
        txn: &DatabaseTransaction,
        f: &FieldDef,
        input: &Map<String, Value>,
    ) -> Result<Option<String>> {
        let Some(Ok(Some(v))) = input.get(&f.graphql_name).map(|v| value::normalize(f, v)) else {
            return Ok(None);
        };
        let by = Filter::Cond(On::Field(Box::new(f.clone())), Op::Eq(v));
        let found =
            self.store.find_in(txn, self.entity, self.within_rule(by, self.row_rule.as_ref()), 1).await?;
        Ok(found.into_iter().next().map(|r| r.id))
    }

    fn within_rule(&self, f: Filter, rule: Option<&Filter>) -> Filter {
        match rule {
            Some(r) => f.and(r.clone()),
            None => f,
        }
    }

    /// The target a RELATION cell names (`cells::Target`), among the live records of the
    /// field's target entity the importer may read.
    async fn look_up(&self, txn: &DatabaseTransaction, f: &FieldDef, t: &Target) -> Result<Looked> {
        let Some(target) = f.related_entity_id.as_deref().and_then(|id| self.meta.entity_by_id(id)) else {
            return Ok(Err("its target entity no longer exists".into()));
        };
        let label = &target.label_singular;
        if !self.permissions.can(target, Action::Read) {
            return Ok(Err(format!("your role may not read {}", target.label_plural)));
        }
        let (by, missing) = match t {
            Target::Id(id) => return Ok(Ok(id.clone())),
            Target::Number(n) => (
                Filter::Cond(On::RecordNumber, Op::Eq(Value::String(n.clone()))),
                format!("no {label} numbered {n}"),
            ),
            Target::Unique { field, value } => {
                let Some(key) = mapping::field_named(&target.fields, field)
                    .filter(|k| k.unique && k.ty != FieldType::Relation)
                else {
                    return Ok(Err(format!("`{field}` is no unique field of {label}")));
                };
                let v = match value::normalize(key, &cell_input(key, value)) {
                    Ok(Some(v)) => v,
                    Ok(None) | Err(_) => return Ok(Err(format!("`{value}` is no valid {}", key.label))),
                };
                (
                    Filter::Cond(On::Field(Box::new(key.clone())), Op::Eq(v)),
                    format!("no {label} with {field} = {value}"),
                )
            }
        };
        let who = Subject { user_id: self.actor.user_id.as_deref(), attributes: &self.attributes };
        let rule = self.permissions.row_filter(target, who);
        let found: Vec<Record> =
            self.store.find_in(txn, target, self.within_rule(by, rule.as_ref()), 2).await?;
        Ok(match found.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(missing),
            _ => Err(format!("more than one {label} matches: name it by id")),
        })
    }
}

/// The input value a cell gives a (non-relation) field, as `cells::parse` reads it (the text
/// itself when it reads none: `value::normalize` then says what is wrong with it).
fn cell_input(f: &FieldDef, cell: &str) -> Value {
    match cells::parse(f, cell) {
        Ok(Cell::Value(v)) => v,
        Ok(Cell::Empty | Cell::Target(_)) | Err(_) => Value::String(cell.to_owned()),
    }
}
