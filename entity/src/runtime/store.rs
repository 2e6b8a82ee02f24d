//! The record store: every read and write of tenant records. Each call is scoped to one tenant
//! (`tenant_id` is part of every statement), a connection page is one SQL statement (plus one
//! COUNT only when `totalCount` is asked), and each write is one transaction that also writes
//! its change event to the outbox.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::audit::{self, Actor};
use super::cursor;
use super::filter::{Filter, Op, Target};
use super::meta::{EntityDef, FieldDef, FieldType, RelationKind, TenantMeta};
use super::sql::{self, Direction, SortKey, SqlBuf};
use super::value::{self, Mode};
use crate::{Db, Dialect, Error, FieldError, Result};

const COLUMNS: &str = "id, entity_id, data, owner_id, created_by, number, record_number, \
                       created_at, updated_at, deleted_at, version";

/// Outbox topic of record change events.
pub const TOPIC_RECORD_CHANGED: &str = "record.changed";

/// One stored record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub entity_id: String,
    /// Values keyed by field key, in their stored form (see `value`).
    pub data: Map<String, Value>,
    pub owner_id: Option<String>,
    pub created_by: Option<String>,
    pub number: Option<i64>,
    pub record_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    Restored,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "CREATED",
            ChangeKind::Updated => "UPDATED",
            ChangeKind::Deleted => "DELETED",
            ChangeKind::Restored => "RESTORED",
        }
    }
}

/// A committed change, as written to the outbox and delivered to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEvent {
    pub tenant_id: String,
    pub entity_id: String,
    pub kind: ChangeKind,
    pub record: Record,
    /// GraphQL names of the fields whose values changed.
    pub changed_fields: Vec<String>,
    /// The stored values before an update (keyed by field key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Map<String, Value>>,
    /// Workflow hops that led to this change (0 for a person's or an integration's write).
    #[serde(default)]
    pub depth: u32,
}

/// Arguments of a connection query.
#[derive(Debug, Clone, Default)]
pub struct ListArgs {
    pub filter: Option<Filter>,
    pub search: Option<String>,
    /// Requested order; `id ASC` is appended as the final tie-breaker.
    pub order: Vec<SortKey>,
    pub first: Option<u64>,
    pub last: Option<u64>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub with_total: bool,
}

impl ListArgs {
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

/// One page of a connection.
#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<Record>,
    pub cursors: Vec<String>,
    pub has_next: bool,
    pub has_previous: bool,
    pub total: Option<i64>,
}

/// Store access for one tenant.
#[derive(Debug, Clone, Copy)]
pub struct Store<'a> {
    pub db: &'a Db,
    pub tenant_id: &'a str,
}

impl Record {
    fn from_row(row: &QueryResult, d: Dialect) -> Result<Record> {
        let data = match d {
            Dialect::Postgres => row.try_get::<Value>("", "data")?,
            Dialect::Sqlite => serde_json::from_str(&row.try_get::<String>("", "data")?)?,
        };
        let Value::Object(data) = data else {
            return Err(Error::Internal("record data is not an object".into()));
        };
        let missing = || Error::Internal("timestamp column is null".into());
        Ok(Record {
            id: row.try_get("", "id")?,
            entity_id: row.try_get("", "entity_id")?,
            data,
            owner_id: row.try_get("", "owner_id")?,
            created_by: row.try_get("", "created_by")?,
            number: row.try_get("", "number")?,
            record_number: row.try_get("", "record_number")?,
            created_at: super::time::column(row, d, "created_at")?.ok_or_else(missing)?,
            updated_at: super::time::column(row, d, "updated_at")?.ok_or_else(missing)?,
            deleted_at: super::time::column(row, d, "deleted_at")?,
            version: row.try_get("", "version")?,
        })
    }

    /// The GraphQL names of fields whose stored values differ between `self` and `other`.
    pub fn changed_fields(&self, other: &Record, entity: &EntityDef) -> Vec<String> {
        let mut out: Vec<String> = entity
            .fields
            .iter()
            .filter(|f| self.data.get(&f.key) != other.data.get(&f.key))
            .map(|f| f.graphql_name.clone())
            .collect();
        if self.owner_id != other.owner_id {
            out.push("owner".into());
        }
        out
    }
}

/// The full key list of an ordering (requested keys + `id`), flipped for backward pages.
fn effective_keys(order: &[SortKey], flip: bool) -> Vec<SortKey> {
    let mut keys: Vec<SortKey> = order.to_vec();
    if !keys.iter().any(|k| matches!(k.target, Target::Id)) {
        keys.push(SortKey { target: Target::Id, direction: Direction::Asc });
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

/// The search predicate: any text-like field (or the record number) contains `q`.
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
        Store { db, tenant_id }
    }

    fn d(&self) -> Dialect {
        self.db.dialect
    }

    /// `tenant_id = ? AND entity_id = ? AND deleted_at IS NULL`
    fn push_scope(&self, buf: &mut SqlBuf, entity_id: &str) -> Result<()> {
        sql::push_live_scope(buf, self.tenant_id, entity_id)
    }

    fn push_filters(&self, buf: &mut SqlBuf, entity: &EntityDef, args: &ListArgs) -> Result<()> {
        if let Some(f) = &args.filter {
            buf.push(" AND ");
            sql::compile(buf, f)?;
        }
        if let Some(q) = args.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            buf.push(" AND ");
            sql::compile(buf, &search_filter(entity, q))?;
        }
        Ok(())
    }

    /// One page of `entity`'s records.
    pub async fn list(&self, entity: &EntityDef, args: &ListArgs, page_size: u64) -> Result<Page> {
        if args.first.is_some() && args.last.is_some() {
            return Err(Error::BadRequest("pass `first` or `last`, not both".into()));
        }
        let backward = args.last.is_some();
        let limit = args.last.or(args.first).unwrap_or(page_size);
        let forward_keys = effective_keys(&args.order, false);
        let sig = signature(&forward_keys);
        let keys = effective_keys(&args.order, backward);
        let d = self.d();

        let mut buf = SqlBuf::new(d);
        buf.push("SELECT ").push(COLUMNS).push(" FROM records WHERE ");
        self.push_scope(&mut buf, &entity.id)?;
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
        let txn = self.db.begin_tenant(self.tenant_id, false).await?;
        let rows = txn.query_all_raw(buf.into_statement()).await?;
        let mut records = rows.iter().map(|r| Record::from_row(r, d)).collect::<Result<Vec<_>>>()?;
        let more = records.len() as u64 > limit;
        records.truncate(limit as usize);
        if backward {
            records.reverse();
        }
        let cursors = records
            .iter()
            .map(|r| {
                let vals: Vec<Value> = forward_keys.iter().map(|k| k.value_of(r)).collect();
                cursor::encode(&sig, &vals)
            })
            .collect();
        let total = if args.with_total { Some(self.count_in(&txn, entity, args).await?) } else { None };
        txn.commit().await?;
        let (has_next, has_previous) =
            if backward { (args.before.is_some(), more) } else { (more, args.after.is_some()) };
        Ok(Page { records, cursors, has_next, has_previous, total })
    }

    /// How many live records match the filter and search of `args` (cursors ignored).
    pub async fn count(&self, entity: &EntityDef, args: &ListArgs) -> Result<i64> {
        let txn = self.db.begin_tenant(self.tenant_id, false).await?;
        let n = self.count_in(&txn, entity, args).await?;
        txn.commit().await?;
        Ok(n)
    }

    async fn count_in(
        &self,
        conn: &impl ConnectionTrait,
        entity: &EntityDef,
        args: &ListArgs,
    ) -> Result<i64> {
        let mut buf = SqlBuf::new(self.d());
        buf.push("SELECT COUNT(*) AS n FROM records WHERE ");
        self.push_scope(&mut buf, &entity.id)?;
        self.push_filters(&mut buf, entity, args)?;
        let row = conn.query_one_raw(buf.into_statement()).await?;
        Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
    }

    /// A live record of `entity` by id, if `row` (the caller's row rule) allows it.
    pub async fn get(&self, entity: &EntityDef, id: &str, row: Option<&Filter>) -> Result<Option<Record>> {
        let txn = self.db.begin_tenant(self.tenant_id, false).await?;
        let r = fetch_one(&txn, self.d(), self.tenant_id, &entity.id, id, Liveness::Live, false).await?;
        txn.commit().await?;
        Ok(r.filter(|r| visible(row, r)))
    }

    /// Live records by id, of any entity of this tenant (for relation loaders).
    pub async fn get_many(&self, ids: &[String]) -> Result<Vec<Record>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let d = self.d();
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT ").push(COLUMNS).push(" FROM records WHERE tenant_id = ");
        buf.bind(self.tenant_id.to_owned()).push(" AND deleted_at IS NULL AND id IN (");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                buf.push(", ");
            }
            buf.bind(id.clone());
        }
        buf.push(")");
        let txn = self.db.begin_tenant(self.tenant_id, false).await?;
        let rows = txn.query_all_raw(buf.into_statement()).await?;
        txn.commit().await?;
        rows.iter().map(|r| Record::from_row(r, d)).collect()
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
        buf.push(") AS rn FROM (SELECT ").push(COLUMNS).push(", ").push(&fk).push(" AS fk, ");
        buf.push("COUNT(*) OVER (PARTITION BY ").push(&fk).push(") AS total FROM records WHERE ");
        self.push_scope(&mut buf, &source.id)?;
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
        let txn = self.db.begin_tenant(self.tenant_id, false).await?;
        let rows = txn.query_all_raw(buf.into_statement()).await?;
        txn.commit().await?;
        let mut out: HashMap<String, (Vec<Record>, bool, i64)> = HashMap::new();
        for row in &rows {
            let parent: String = row.try_get("", "fk")?;
            let total: i64 = row.try_get("", "total")?;
            let rn: i64 = row.try_get("", "rn")?;
            let entry = out.entry(parent).or_insert_with(|| (Vec::new(), false, total));
            if rn as u64 > limit {
                entry.1 = true;
            } else {
                entry.0.push(Record::from_row(row, d)?);
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

    /// Creates a record from GraphQL input (keyed by GraphQL field names).
    pub async fn create(
        &self,
        meta: &TenantMeta,
        entity: &EntityDef,
        input: &Map<String, Value>,
        owner: Option<String>,
        caller: Caller<'_>,
    ) -> Result<Record> {
        let (actor, row) = (caller.actor, caller.row);
        let txn = self.db.begin_tenant(self.tenant_id, true).await?;
        let (data, mut errors) = value::apply_input(&entity.fields, &Map::new(), input, Mode::Create);
        let bad: HashSet<&str> = errors.iter().map(|e| e.field.as_str()).collect::<HashSet<_>>();
        let checked: Vec<&FieldDef> =
            entity.fields.iter().filter(|f| !bad.contains(f.graphql_name.as_str())).collect();
        errors.extend(self.check_references(&txn, meta, entity, &checked, &data, None).await?);
        let owner_id = owner.or_else(|| actor.user_id.clone());
        if let Some(o) = &owner_id {
            errors.extend(self.check_owner(&txn, o).await?);
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let (number, record_number) = match &entity.record_number_prefix {
            Some(prefix) => {
                let n = self.next_number(&txn, &entity.id).await?;
                (Some(n), Some(format!("{prefix}-{n:06}")))
            }
            None => (None, None),
        };
        let now = super::time::now();
        let record = Record {
            id: uuid::Uuid::new_v4().to_string(),
            entity_id: entity.id.clone(),
            data,
            owner_id,
            created_by: actor.user_id.clone(),
            number,
            record_number,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            version: 1,
        };
        let mut buf = SqlBuf::new(self.d());
        buf.push("INSERT INTO records (tenant_id, ").push(COLUMNS).push(") VALUES (");
        buf.bind(self.tenant_id.to_owned()).push(", ").bind(record.id.clone()).push(", ");
        buf.bind(record.entity_id.clone()).push(", ");
        buf.bind_json(&record.data)?;
        buf.push(", ").bind(record.owner_id.clone()).push(", ").bind(record.created_by.clone());
        buf.push(", ").bind(record.number).push(", ").bind(record.record_number.clone());
        buf.push(", ").bind_ts(now).push(", ").bind_ts(now).push(", NULL, 1)");
        check_visible(row, &record)?;
        txn.execute_raw(buf.into_statement()).await?;
        let changed: Vec<String> = entity
            .fields
            .iter()
            .filter(|f| record.data.contains_key(&f.key))
            .map(|f| f.graphql_name.clone())
            .collect();
        let changes = audit::diff(&Map::new(), &record.data);
        self.record_change(&txn, actor, entity, (ChangeKind::Created, &record, None), changed, changes)
            .await?;
        txn.commit().await?;
        Ok(record)
    }

    /// Updates a live record; only fields present in `input` change (`null` clears).
    pub async fn update(
        &self,
        meta: &TenantMeta,
        entity: &EntityDef,
        id: &str,
        input: &Map<String, Value>,
        owner: Option<String>,
        caller: Caller<'_>,
    ) -> Result<Record> {
        let (actor, row) = (caller.actor, caller.row);
        let txn = self.db.begin_tenant(self.tenant_id, true).await?;
        let d = self.d();
        let old = fetch_one(&txn, d, self.tenant_id, &entity.id, id, Liveness::Live, true)
            .await?
            .filter(|r| visible(row, r))
            .ok_or_else(|| Error::NotFound(entity.label_singular.clone()))?;
        let (data, mut errors) = value::apply_input(&entity.fields, &old.data, input, Mode::Update);
        let changed: Vec<&FieldDef> = entity
            .fields
            .iter()
            .filter(|f| data.get(&f.key) != old.data.get(&f.key))
            .filter(|f| !errors.iter().any(|e| e.field == f.graphql_name))
            .collect();
        errors.extend(self.check_references(&txn, meta, entity, &changed, &data, Some(id)).await?);
        if let Some(o) = &owner {
            errors.extend(self.check_owner(&txn, o).await?);
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let mut new = old.clone();
        new.data = data;
        if owner.is_some() {
            new.owner_id = owner;
        }
        let changed_fields = new.changed_fields(&old, entity);
        if changed_fields.is_empty() {
            txn.commit().await?;
            return Ok(old);
        }
        new.updated_at = super::time::now();
        new.version += 1;
        check_visible(row, &new)?;
        let mut buf = SqlBuf::new(d);
        buf.push("UPDATE records SET data = ");
        buf.bind_json(&new.data)?;
        buf.push(", owner_id = ").bind(new.owner_id.clone());
        buf.push(", updated_at = ").bind_ts(new.updated_at);
        buf.push(", version = version + 1 WHERE tenant_id = ").bind(self.tenant_id.to_owned());
        buf.push(" AND id = ").bind(id.to_owned());
        txn.execute_raw(buf.into_statement()).await?;
        let mut changes = audit::diff(&old.data, &new.data);
        if old.owner_id != new.owner_id
            && let Value::Object(m) = &mut changes
        {
            m.insert("$owner".into(), serde_json::json!({ "old": old.owner_id, "new": new.owner_id }));
        }
        self.record_change(
            &txn,
            actor,
            entity,
            (ChangeKind::Updated, &new, Some(&old.data)),
            changed_fields,
            changes,
        )
        .await?;
        txn.commit().await?;
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
        let (actor, row) = (caller.actor, caller.row);
        let txn = self.db.begin_tenant(self.tenant_id, true).await?;
        let d = self.d();
        let want = if deleted { Liveness::Live } else { Liveness::Deleted };
        let mut rec = fetch_one(&txn, d, self.tenant_id, &entity.id, id, want, true)
            .await?
            .filter(|r| visible(row, r))
            .ok_or_else(|| Error::NotFound(entity.label_singular.clone()))?;
        if !deleted {
            // A restored record must not duplicate a unique value taken meanwhile.
            let unique: Vec<&FieldDef> = entity.fields.iter().filter(|f| f.unique).collect();
            let errors = self.check_references(&txn, meta, entity, &unique, &rec.data, Some(id)).await?;
            if !errors.is_empty() {
                return Err(Error::Validation(errors));
            }
        }
        let now = super::time::now();
        rec.deleted_at = deleted.then_some(now);
        rec.updated_at = now;
        rec.version += 1;
        let mut buf = SqlBuf::new(d);
        buf.push("UPDATE records SET deleted_at = ");
        if deleted {
            buf.bind_ts(now);
        } else {
            buf.push("NULL");
        }
        buf.push(", updated_at = ").bind_ts(now).push(", version = version + 1");
        buf.push(" WHERE tenant_id = ").bind(self.tenant_id.to_owned());
        buf.push(" AND id = ").bind(id.to_owned());
        txn.execute_raw(buf.into_statement()).await?;
        let kind = if deleted { ChangeKind::Deleted } else { ChangeKind::Restored };
        self.record_change(&txn, actor, entity, (kind, &rec, None), Vec::new(), Value::Object(Map::new()))
            .await?;
        txn.commit().await?;
        Ok(rec)
    }

    /// Relation targets exist (same tenant, right entity, live); unique values are free.
    async fn check_references(
        &self,
        txn: &DatabaseTransaction,
        meta: &TenantMeta,
        entity: &EntityDef,
        fields: &[&FieldDef],
        data: &Map<String, Value>,
        self_id: Option<&str>,
    ) -> Result<Vec<FieldError>> {
        let mut errors = Vec::new();
        let d = self.d();
        let relation_ids: Vec<String> = fields
            .iter()
            .filter(|f| f.ty == FieldType::Relation)
            .filter_map(|f| data.get(&f.key).and_then(Value::as_str).map(str::to_owned))
            .collect();
        let found: HashMap<String, String> = if relation_ids.is_empty() {
            HashMap::new()
        } else {
            let mut buf = SqlBuf::new(d);
            buf.push("SELECT id, entity_id FROM records WHERE tenant_id = ");
            buf.bind(self.tenant_id.to_owned()).push(" AND deleted_at IS NULL AND id IN (");
            for (i, id) in relation_ids.iter().enumerate() {
                if i > 0 {
                    buf.push(", ");
                }
                buf.bind(id.clone());
            }
            buf.push(")");
            let rows = txn.query_all_raw(buf.into_statement()).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "entity_id")?)))
                .collect::<Result<_>>()?
        };
        for f in fields {
            let Some(v) = data.get(&f.key) else { continue };
            if f.ty == FieldType::Relation {
                let target = f.related_entity_id.as_deref().unwrap_or_default();
                let ok = v.as_str().and_then(|id| found.get(id)).is_some_and(|e| e == target);
                if !ok {
                    let label = meta
                        .entity_by_id(target)
                        .map(|e| e.label_singular.clone())
                        .unwrap_or_else(|| "record".into());
                    errors.push(FieldError::new(&f.graphql_name, format!("no {label} with this id")));
                    continue;
                }
            }
            let one_to_one = f.relation_kind == Some(RelationKind::OneToOne);
            if (f.unique || one_to_one) && self.value_taken(txn, entity, f, v, self_id).await? {
                errors.push(FieldError::new(&f.graphql_name, "is already used by another record"));
            }
        }
        Ok(errors)
    }

    async fn value_taken(
        &self,
        txn: &DatabaseTransaction,
        entity: &EntityDef,
        f: &FieldDef,
        v: &Value,
        self_id: Option<&str>,
    ) -> Result<bool> {
        let d = self.d();
        if d == Dialect::Postgres {
            // Serialises concurrent writers of the same value: READ COMMITTED alone would let
            // two transactions both see "free" and both insert.
            let mut lock = SqlBuf::new(d);
            let key = format!("{}:{}:{}:{}", self.tenant_id, entity.id, f.key, v);
            lock.push("SELECT pg_advisory_xact_lock(hashtextextended(").bind(key).push(", 0))");
            txn.execute_raw(lock.into_statement()).await?;
        }
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT 1 AS x FROM records WHERE ");
        self.push_scope(&mut buf, &entity.id)?;
        buf.push(" AND ");
        sql::compile(&mut buf, &Filter::Cond(Target::Field(Box::new(f.clone())), Op::Eq(v.clone())))?;
        if let Some(id) = self_id {
            buf.push(" AND id <> ").bind(id.to_owned());
        }
        buf.push(" LIMIT 1");
        Ok(txn.query_one_raw(buf.into_statement()).await?.is_some())
    }

    async fn check_owner(&self, txn: &DatabaseTransaction, owner: &str) -> Result<Vec<FieldError>> {
        let mut buf = SqlBuf::new(self.d());
        buf.push("SELECT id FROM users WHERE tenant_id = ").bind(self.tenant_id.to_owned());
        buf.push(" AND id = ").bind(owner.to_owned());
        let found = txn.query_one_raw(buf.into_statement()).await?.is_some();
        Ok(if found { Vec::new() } else { vec![FieldError::new("owner", "no user with this id")] })
    }

    /// Allocates the next record number of an entity inside the write's transaction.
    async fn next_number(&self, txn: &DatabaseTransaction, entity_id: &str) -> Result<i64> {
        let mut buf = SqlBuf::new(self.d());
        buf.push("INSERT INTO record_counters (tenant_id, entity_id, value) VALUES (");
        buf.bind(self.tenant_id.to_owned()).push(", ").bind(entity_id.to_owned());
        buf.push(", 1) ON CONFLICT (tenant_id, entity_id) DO UPDATE SET value = record_counters.value + 1 RETURNING value");
        let row = txn
            .query_one_raw(buf.into_statement())
            .await?
            .ok_or_else(|| Error::Internal("counter upsert returned nothing".into()))?;
        Ok(row.try_get("", "value")?)
    }

    /// Records a committed-to-be change in its own transaction: the change event (outbox) and
    /// the audit entry (`changes`: old/new values of changed fields).
    async fn record_change(
        &self,
        txn: &DatabaseTransaction,
        actor: &Actor,
        entity: &EntityDef,
        (kind, record, previous): (ChangeKind, &Record, Option<&Map<String, Value>>),
        changed_fields: Vec<String>,
        changes: Value,
    ) -> Result<()> {
        let event = ChangeEvent {
            tenant_id: self.tenant_id.to_owned(),
            entity_id: entity.id.clone(),
            kind,
            record: record.clone(),
            changed_fields,
            previous: previous.cloned(),
            depth: actor.depth,
        };
        write_outbox(txn, self.d(), self.tenant_id, TOPIC_RECORD_CHANGED, &serde_json::to_value(&event)?)
            .await?;
        let action = match kind {
            ChangeKind::Created => "record.create",
            ChangeKind::Updated => "record.update",
            ChangeKind::Deleted => "record.delete",
            ChangeKind::Restored => "record.restore",
        };
        let entry =
            audit::Entry { action, object_type: &entity.name_singular, object_id: Some(&record.id), changes };
        audit::append(txn, self.d(), self.tenant_id, actor, &entry).await
    }
}

/// Appends an outbox row inside `txn`.
pub async fn write_outbox(
    txn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    topic: &str,
    payload: &Value,
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("INSERT INTO outbox (tenant_id, topic, payload, created_at) VALUES (");
    buf.bind(tenant_id.to_owned()).push(", ").bind(topic.to_owned()).push(", ");
    buf.bind_json(payload)?;
    buf.push(", ").bind_ts(super::time::now()).push(")");
    txn.execute_raw(buf.into_statement()).await?;
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Liveness {
    Live,
    Deleted,
}

async fn fetch_one(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    entity_id: &str,
    id: &str,
    liveness: Liveness,
    for_update: bool,
) -> Result<Option<Record>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(COLUMNS).push(" FROM records WHERE tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND entity_id = ").bind(entity_id.to_owned());
    buf.push(" AND id = ").bind(id.to_owned());
    buf.push(match liveness {
        Liveness::Live => " AND deleted_at IS NULL",
        Liveness::Deleted => " AND deleted_at IS NOT NULL",
    });
    if for_update && d == Dialect::Postgres {
        buf.push(" FOR UPDATE");
    }
    let row = conn.query_one_raw(buf.into_statement()).await?;
    row.map(|r| Record::from_row(&r, d)).transpose()
}
