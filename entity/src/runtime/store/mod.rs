//! The record store: every read and write of tenant records. Each call is scoped to one tenant
//! (`tenant_id` is part of every statement), a connection page is one SQL statement (plus one
//! COUNT only when `totalCount` is asked), and each write is one transaction that also writes
//! its change event to the outbox (writes live in `write`).
//!
//! Its statements on `records` and `record_counters` are hand-built SQL, not the `record` /
//! `record_counter` models: the columns of a record live in its JSON `data` and are compiled
//! into dialect-specific expressions (filters, orders, cursors, index slots); a write is
//! pipelined with its audit entry, rollup deltas and outbox event into one round trip on
//! PostgreSQL (a data-modifying CTE whose guards fail the statement, `guards`), measured by a
//! benchmark and held by a statement-count test; the record number is a dialect-specific
//! `INSERT … ON CONFLICT DO UPDATE … RETURNING` upsert of the counter; and rows are decoded
//! from the driver's buffers by position (`rows`). The models name the tables' fixed columns.

use std::collections::HashMap;

use serde_json::Value;

use super::audit::Actor;
use super::cursor;
use super::field_key::FieldKey;
use super::filter::{Filter, Op, Target};
use super::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use super::outbox::Event;
use super::record::{ChangeEvent, Record};
use super::search;
use super::sql::{self, Direction, SortKey};
use crate::db::ReadScope;
use crate::pipeline::Exec;
use crate::sql_buf::SqlBuf;
use crate::{Db, Dialect, Error, Result};

mod bulk;
mod changes;
mod columns;
pub mod computed;
mod create;
mod files;
mod global;
mod guards;
mod references;
mod retry;
mod rows;
mod rules;
mod stock;
pub mod subjects;
mod uids;
mod write;

pub use bulk::{CreateInput, Selection};
pub use columns::Columns;
use columns::{COLUMNS, columns, page_columns};
pub use create::NewRecord;
pub use files::download_path;
pub use stock::Balance;
pub use uids::{Trace, TraceNode};
pub use write::WriteRequest;

impl Event for ChangeEvent {
    const TOPIC: &'static str = "record.changed";
}

/// Arguments of a connection query.
#[derive(Debug, Clone, Default)]
pub struct ListArgs {
    pub filter: Option<Filter>,
    pub search: Option<String>,
    /// Requested order; `id` is appended as the final tie-breaker (see `effective_keys`).
    pub order: Vec<SortKey>,
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub with_total: bool,
    /// The columns the page's reader needs (`Columns::All` unless it says otherwise).
    pub columns: Columns,
}

impl ListArgs {
    /// Reads only the lean columns when `lean` holds and the order needs none of the others
    /// (its keys' values make the page's cursors).
    pub fn lean_if(mut self, lean: bool) -> ListArgs {
        let plain = |t: &Target| matches!(t, Target::Id | Target::CreatedAt | Target::Field(_));
        if lean && self.order.iter().all(|k| plain(&k.target)) {
            self.columns = Columns::Lean;
        }
        self
    }

    /// ANDs the caller's row rule into the filter (reads never see past it).
    pub fn restrict(mut self, row: Option<&Filter>) -> ListArgs {
        if let Some(row) = row {
            self.filter = Some(match self.filter.take() {
                Some(f) => f.and(row.clone()),
                None => row.clone(),
            });
        }
        self
    }
}

/// Who writes, and the row rule their writes must stay within.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub actor: &'a Actor,
    pub row: Option<&'a Filter>,
}

impl<'a> Caller<'a> {
    /// A caller without a row rule (owners, the system).
    pub fn unrestricted(actor: &'a Actor) -> Self {
        Caller { actor, row: None }
    }
}

/// Refuses a write whose result the caller could not see (like SQL's `WITH CHECK`).
fn check_visible(row: Option<&Filter>, r: &Record) -> Result<()> {
    match row {
        Some(f) if !f.matches(r) => {
            Err(Error::Forbidden("the record would fall outside the records your role may access".into()))
        }
        _ => Ok(()),
    }
}

/// Whether the caller's row rule lets it see `r` at all.
fn visible(row: Option<&Filter>, r: &Record) -> bool {
    row.is_none_or(|f| f.matches(r))
}

/// One page of a connection. Cursors are made when asked for (`cursor`): a page whose
/// response shows none costs no encoding.
#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<Record>,
    pub has_next: bool,
    pub has_previous: bool,
    pub total: Option<i64>,
    /// The forward sort keys and their signature, which every cursor of the page encodes.
    keys: Vec<SortKey>,
    signature: String,
}

impl Page {
    /// The cursor of the `i`th record.
    pub fn cursor(&self, i: usize) -> Option<String> {
        let r = self.records.get(i)?;
        let vals: Vec<Value> = self.keys.iter().map(|k| k.value_of(r)).collect();
        Some(cursor::encode(&self.signature, &vals))
    }

    /// The cursor of the last record (where the next page starts).
    pub fn end_cursor(&self) -> Option<String> {
        self.cursor(self.records.len().checked_sub(1)?)
    }

    /// Every record's cursor, in order.
    pub fn cursors(&self) -> Vec<String> {
        (0..self.records.len()).filter_map(|i| self.cursor(i)).collect()
    }
}

/// Store access for one tenant. Reads go through the request's shared read connection when
/// the store has one (`scoped`), else each runs in a transaction of its own.
#[derive(Debug, Clone, Copy)]
pub struct Store<'a> {
    pub db: &'a Db,
    pub tenant_id: &'a str,
    pub scope: Option<&'a ReadScope>,
}

/// The full key list of an ordering (requested keys + `id`), flipped for backward pages. The
/// `id` tie-breaker runs in the direction of the last requested key, so that an order and its
/// tie-breaker are one index read forwards or backwards (`records_live_order_idx` serves both
/// `createdAt ASC` and `createdAt DESC` without a sort step).
fn effective_keys(order: &[SortKey], flip: bool) -> Vec<SortKey> {
    let mut keys: Vec<SortKey> = order.to_vec();
    if !keys.iter().any(|k| matches!(k.target, Target::Id)) {
        let direction = keys.last().map_or(Direction::Asc, |k| k.direction);
        keys.push(SortKey { target: Target::Id, direction });
    }
    if flip {
        for k in &mut keys {
            k.direction = k.direction.flip();
        }
    }
    keys
}

fn signature(keys: &[SortKey]) -> String {
    keys.iter().map(SortKey::signature).collect::<Vec<_>>().join("|")
}

/// The search predicate of an entity without searchable fields: any text-like field (or the
/// record number) contains `q`.
fn search_filter(entity: &EntityDef, q: &str) -> Filter {
    let mut any: Vec<Filter> = entity
        .fields
        .iter()
        .filter(|f| f.ty.is_text_like() || f.ty == FieldType::Select)
        .map(|f| Filter::Cond(Target::Field(Box::new(f.clone())), Op::Contains(q.to_owned())))
        .collect();
    any.push(Filter::Cond(Target::RecordNumber, Op::Contains(q.to_owned())));
    Filter::Or(any)
}

impl<'a> Store<'a> {
    pub fn new(db: &'a Db, tenant_id: &'a str) -> Self {
        Store { db, tenant_id, scope: None }
    }

    /// A store whose reads share `scope`'s transaction (when there is one).
    pub fn scoped(db: &'a Db, tenant_id: &'a str, scope: Option<&'a ReadScope>) -> Self {
        Store { db, tenant_id, scope }
    }

    async fn reader(&self) -> Result<crate::db::Reader<'a>> {
        ReadScope::reader(self.scope, self.db, self.tenant_id).await
    }

    fn d(&self) -> Dialect {
        self.db.dialect
    }

    /// `tenant_id = ? AND entity_id = … AND deleted_at IS NULL` with what the filter and order
    /// of `args` need to use index slots (`sql::push_scope_for`).
    fn push_scope(&self, buf: &mut SqlBuf, entity_id: &str, args: &ListArgs) -> Result<()> {
        let filtered = args.filter.iter().flat_map(Filter::targets);
        sql::push_scope_for(
            buf,
            self.tenant_id,
            entity_id,
            filtered.chain(args.order.iter().map(|k| &k.target)),
        )
    }

    fn push_filters(&self, buf: &mut SqlBuf, entity: &EntityDef, args: &ListArgs) -> Result<()> {
        if let Some(f) = &args.filter {
            buf.push(" AND ");
            sql::compile(buf, f)?;
        }
        if let Some(q) = args.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            buf.push(" AND ");
            if entity.fields.iter().any(FieldDef::search_used) {
                // The full-text entries of the fields in `entity` (the caller's view), or the
                // record number as before.
                buf.push("(");
                search::query::push_match(buf, self.tenant_id, entity, q);
                buf.push(" OR ");
                sql::compile(buf, &Filter::Cond(Target::RecordNumber, Op::Contains(q.to_owned())))?;
                buf.push(")");
            } else {
                sql::compile(buf, &search_filter(entity, q))?;
            }
        }
        Ok(())
    }

    /// The statement of one page of `entity`'s records (what `list` runs; public so that the
    /// EXPLAIN tests pin the plans of exactly the SQL the engine issues).
    pub fn list_statement(
        &self,
        entity: &EntityDef,
        args: &ListArgs,
        page_size: u64,
    ) -> Result<sea_orm::Statement> {
        if args.first.is_some() && args.last.is_some() {
            return Err(Error::BadRequest("pass `first` or `last`, not both".into()));
        }
        let backward = args.last.is_some();
        let limit = args.last.or(args.first).unwrap_or(page_size);
        let forward_keys = effective_keys(&args.order, false);
        let sig = signature(&forward_keys);
        let keys = effective_keys(&args.order, backward);
        let mut buf = SqlBuf::new(self.d());
        buf.push("SELECT ").push(&page_columns(self.d(), entity, args.columns)).push(" FROM records WHERE ");
        self.push_scope(&mut buf, &entity.id, args)?;
        self.push_filters(&mut buf, entity, args)?;
        if let Some(after) = &args.after {
            let vals = cursor::decode(&sig, forward_keys.len(), after)?;
            buf.push(" AND ");
            sql::push_after(&mut buf, &forward_keys, &vals)?;
        }
        if let Some(before) = &args.before {
            let vals = cursor::decode(&sig, forward_keys.len(), before)?;
            buf.push(" AND ");
            sql::push_after(&mut buf, &effective_keys(&args.order, true), &vals)?;
        }
        sql::push_order_by(&mut buf, &keys);
        buf.push(" LIMIT ").push(&(limit + 1).to_string());
        Ok(buf.into_statement())
    }

    /// The rows of a statement of the caller's (`search::query`), read as the store's reads are.
    pub async fn query_all(&self, statement: sea_orm::Statement) -> Result<Vec<sea_orm::QueryResult>> {
        let mut txn = self.reader().await?;
        let rows = txn.query_all(statement).await?;
        txn.done().await?;
        Ok(rows)
    }

    /// One page of `entity`'s records.
    pub async fn list(&self, entity: &EntityDef, args: &ListArgs, page_size: u64) -> Result<Page> {
        let backward = args.last.is_some();
        let limit = args.last.or(args.first).unwrap_or(page_size);
        let forward_keys = effective_keys(&args.order, false);
        let sig = signature(&forward_keys);
        let statement = self.list_statement(entity, args, page_size)?;
        let mut txn = self.reader().await?;
        let rows = txn.query_all(statement).await?;
        let mut records = rows.iter().map(Record::from_row).collect::<Result<Vec<_>>>()?;
        let more = records.len() as u64 > limit;
        records.truncate(limit as usize);
        if backward {
            records.reverse();
        }
        let total = if args.with_total { Some(self.count_in(&mut txn, entity, args).await?) } else { None };
        txn.done().await?;
        let (has_next, has_previous) =
            if backward { (args.before.is_some(), more) } else { (more, args.after.is_some()) };
        Ok(Page { records, has_next, has_previous, total, keys: forward_keys, signature: sig })
    }

    /// How many live records match the filter and search of `args` (cursors ignored).
    pub async fn count(&self, entity: &EntityDef, args: &ListArgs) -> Result<i64> {
        let mut txn = self.reader().await?;
        let n = self.count_in(&mut txn, entity, args).await?;
        txn.done().await?;
        Ok(n)
    }

    async fn count_in(
        &self,
        conn: &mut crate::db::Reader<'_>,
        entity: &EntityDef,
        args: &ListArgs,
    ) -> Result<i64> {
        let mut buf = SqlBuf::new(self.d());
        buf.push("SELECT COUNT(*) AS n FROM records WHERE ");
        self.push_scope(&mut buf, &entity.id, args)?;
        self.push_filters(&mut buf, entity, args)?;
        let row = conn.query_one(buf.into_statement()).await?;
        Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
    }

    /// Up to `limit` live records of `entity` matching `filter`, read in `txn`: a write's own
    /// lookups (an import's upsert and relation targets) see what its transaction wrote.
    pub async fn find_in(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        filter: Filter,
        limit: u64,
    ) -> Result<Vec<Record>> {
        let args = ListArgs { filter: Some(filter), first: Some(limit), ..ListArgs::default() };
        let rows = txn.query_all(self.list_statement(entity, &args, limit)?).await?;
        rows.iter().map(Record::from_row).collect()
    }

    /// A live record of `entity` by id, if `row` (the caller's row rule) allows it.
    pub async fn get(&self, entity: &EntityDef, id: &str, row: Option<&Filter>) -> Result<Option<Record>> {
        if !could_be_stored(id) {
            return Ok(None);
        }
        let mut txn = self.reader().await?;
        let statement = one_statement(self.d(), self.tenant_id, entity, id, Liveness::Live, false);
        let r = txn.query_one(statement).await?.map(|r| Record::from_row(&r)).transpose()?;
        self.load_rule(&mut txn, row).await?;
        txn.done().await?;
        Ok(r.filter(|r| visible(row, r)))
    }

    /// A live record of `entity` by id, if `row` allows it, with the live records its fields
    /// `keys` (to-one relations) point at, of any entity of this tenant (the caller checks
    /// entity and row rule): one statement where a get and its relation batch would be two.
    pub async fn get_with_targets(
        &self,
        entity: &EntityDef,
        id: &str,
        row: Option<&Filter>,
        keys: &[&FieldKey],
    ) -> Result<(Option<Record>, Vec<Record>)> {
        if keys.is_empty() || !could_be_stored(id) {
            return Ok((self.get(entity, id, row).await?, Vec::new()));
        }
        let statement = get_with_targets_statement(self.d(), self.tenant_id, entity, id, keys)?;
        let mut txn = self.reader().await?;
        let rows = txn.query_all(statement).await?;
        self.load_rule(&mut txn, row).await?;
        txn.done().await?;
        let (mut found, mut targets) = (None, Vec::new());
        for r in &rows {
            let record = Record::from_row(r)?;
            if r.try_get::<i64>("", "hop")? == 0 {
                found = Some(record).filter(|r| visible(row, r));
            } else {
                targets.push(record);
            }
        }
        Ok((found, targets))
    }

    /// Live records by id, of any entity of this tenant (for relation loaders).
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<Record>> {
        let ids: Vec<&String> = ids.iter().filter(|id| could_be_stored(id)).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let d = self.d();
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT ").push(COLUMNS);
        push_live_among(&mut buf, self.tenant_id, &ids);
        let mut txn = self.reader().await?;
        let rows = txn.query_all(buf.into_statement()).await?;
        txn.done().await?;
        rows.iter().map(Record::from_row).collect()
    }

    /// The reverse side of relation `field` (on `source`) for many parents at once: for each
    /// parent id, its page of source records (at most `limit`) and, when asked, their count.
    /// One statement for all parents, using window functions.
    pub async fn reverse_batch(
        &self,
        source: &EntityDef,
        field: &FieldDef,
        parent_ids: &[String],
        args: &ListArgs,
        limit: u64,
    ) -> Result<HashMap<String, (Vec<Record>, bool, i64)>> {
        let d = self.d();
        let fk = sql::text_expr(d, &field.key);
        let keys = effective_keys(&args.order, false);
        let sig = signature(&keys);
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT * FROM (SELECT a.*, ROW_NUMBER() OVER (PARTITION BY a.fk");
        sql::push_order_by(&mut buf, &keys);
        buf.push(") AS rn FROM (SELECT ").push(&columns(d, source)).push(", ").push(&fk).push(" AS fk, ");
        buf.push("COUNT(*) OVER (PARTITION BY ").push(&fk).push(") AS total FROM records WHERE ");
        self.push_scope(&mut buf, &source.id, args)?;
        buf.push(" AND ").push(&fk).push(" IN (");
        for (i, id) in parent_ids.iter().enumerate() {
            if i > 0 {
                buf.push(", ");
            }
            buf.bind(id.clone());
        }
        buf.push(")");
        self.push_filters(&mut buf, source, args)?;
        buf.push(") a");
        if let Some(after) = &args.after {
            let vals = cursor::decode(&sig, keys.len(), after)?;
            buf.push(" WHERE ");
            sql::push_after(&mut buf, &keys, &vals)?;
        }
        buf.push(") b WHERE rn <= ").push(&(limit + 1).to_string()).push(" ORDER BY fk, rn");
        let mut txn = self.reader().await?;
        let rows = txn.query_all(buf.into_statement()).await?;
        txn.done().await?;
        let mut out: HashMap<String, (Vec<Record>, bool, i64)> = HashMap::new();
        for row in &rows {
            let parent: String = row.try_get("", "fk")?;
            let total: i64 = row.try_get("", "total")?;
            let rn: i64 = row.try_get("", "rn")?;
            let entry = out.entry(parent).or_insert_with(|| (Vec::new(), false, total));
            if rn as u64 > limit {
                entry.1 = true;
            } else {
                entry.0.push(Record::from_row(row)?);
            }
        }
        Ok(out)
    }

    /// The cursor of `r` under `order` (for nested connections).
    pub fn cursor_of(order: &[SortKey], r: &Record) -> String {
        let keys = effective_keys(order, false);
        let vals: Vec<Value> = keys.iter().map(|k| k.value_of(r)).collect();
        cursor::encode(&signature(&keys), &vals)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Liveness {
    Live,
    Deleted,
}

/// The statement of a live record by id (what `Store::get` runs), for the EXPLAIN tests.
pub fn get_statement(d: Dialect, tenant_id: &str, entity: &EntityDef, id: &str) -> sea_orm::Statement {
    one_statement(d, tenant_id, entity, id, Liveness::Live, false)
}

/// The statement of `Store::get_with_targets`: record `id` of entity `entity_id` (`hop` 0) and
/// the live records its to-one fields `keys` point at (`hop` 1), in one statement.
pub fn get_with_targets_statement(
    d: Dialect,
    tenant_id: &str,
    entity: &EntityDef,
    id: &str,
    keys: &[&FieldKey],
) -> Result<sea_orm::Statement> {
    let mut buf = SqlBuf::new(d);
    buf.push("WITH r AS (SELECT ").push(&columns(d, entity)).push(" FROM records WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND entity_id = ").bind(entity.id.clone());
    buf.push(" AND id = ").bind_record_id(id).push(" AND deleted_at IS NULL) SELECT ");
    buf.push(COLUMNS).push(", CAST(0 AS BIGINT) AS hop FROM r UNION ALL SELECT ").push(COLUMNS);
    buf.push(", CAST(1 AS BIGINT) AS hop FROM records WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND deleted_at IS NULL AND id");
    sql::push_any_id(&mut buf, |buf| {
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                buf.push(" UNION ALL ");
            }
            buf.push("SELECT ").push(&sql::record_id_of(d, &sql::text_expr(d, key))).push(" AS v FROM r");
        }
        Ok(())
    })?;
    Ok(buf.into_statement())
}

/// Runs a statement of `one_statement` and decodes its record.
async fn fetch_one(conn: &impl Exec, statement: sea_orm::Statement) -> Result<Option<Record>> {
    let row = conn.query_one(statement).await?;
    row.map(|r| Record::from_row(&r)).transpose()
}

fn one_statement(
    d: Dialect,
    tenant_id: &str,
    entity: &EntityDef,
    id: &str,
    liveness: Liveness,
    for_update: bool,
) -> sea_orm::Statement {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(&columns(d, entity)).push(" FROM records WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND entity_id = ").bind(entity.id.clone());
    buf.push(" AND id = ").bind_record_id(id);
    buf.push(match liveness {
        Liveness::Live => " AND deleted_at IS NULL",
        Liveness::Deleted => " AND deleted_at IS NOT NULL",
    });
    if for_update && d == Dialect::Postgres {
        buf.push(" FOR UPDATE");
    }
    buf.into_statement()
}

/// ` FROM records WHERE` the tenant's live records among `ids` (bound in their stored form).
fn push_live_among(buf: &mut SqlBuf, tenant_id: &str, ids: &[impl AsRef<str>]) {
    buf.push(" FROM records WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND deleted_at IS NULL AND id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.bind_record_id(id.as_ref());
    }
    buf.push(")");
}

/// Whether `id` could name a stored record: PostgreSQL stores no NUL character, so an id
/// holding one names none (and would fail as a statement value).
fn could_be_stored(id: &str) -> bool {
    !id.contains('\0')
}

/// `entity` as `fresh` definitions have it (NOT_FOUND when it is gone).
fn current_entity<'m>(fresh: &'m TenantMeta, entity: &EntityDef) -> Result<&'m EntityDef> {
    fresh
        .entity_by_id(&entity.id)
        .map(|e| &**e)
        .ok_or_else(|| Error::NotFound(format!("entity `{}`", entity.name_singular)))
}

/// Stamps record `id` as created (and last updated) at `at`, with no audit entry or event: the
/// demo's history (`api::seed`), for records just made through the store. Hand-built, as every
/// statement on `records` is here (its record ids are bound per dialect).
pub async fn backdate(
    conn: &impl sea_orm::ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE records SET created_at = ").bind_ts(at).push(", updated_at = ").bind_ts(at);
    buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned()).push(" AND id = ").bind_record_id(id);
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}
