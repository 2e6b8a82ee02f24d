//! The record store's part of UID fields (`runtime::uid`): a create gives each UID field left
//! empty its next UID — the sequence from one UPSERT … RETURNING on `uid_counters` per
//! (tenant, entity, field, scope) and create call, which reserves the numbers of all the
//! call's records at once, in the write's transaction — and registers every UID of
//! the record in `record_uids`, whose primary key (tenant, uid) keeps UIDs unique per tenant
//! without a SELECT per write; and genealogy walks (`trace`), one recursive statement over
//! the entity's genealogy link. An entity without UID fields pays no statement for any of it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value};

use super::Store;
use crate::error::FieldError;
use crate::pipeline::Exec;
use crate::runtime::filter::Filter;
use crate::runtime::meta::{EntityDef, FieldDef, TenantMeta};
use crate::runtime::record::Record;
use crate::runtime::time;
use crate::runtime::uid::{self, Part};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

/// Which way a genealogy walk goes: to the assemblies a record is part of, or to its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trace {
    Up,
    Down,
}

/// One record a genealogy walk reached: how many links from the start, and the ids from the
/// start to it (the start's own first).
#[derive(Debug, Clone)]
pub struct TraceNode {
    pub record: Record,
    pub depth: i64,
    pub path: Vec<String>,
}

/// The most records one walk returns.
const MAX_NODES: i64 = 10_000;

/// One UID counter — (field, scope) — as a create call moves it.
#[derive(Default)]
struct Counter {
    /// The highest sequence number among the UIDs given for it.
    given: Option<i64>,
    /// The records (by index) that get its next numbers, in order.
    wanting: Vec<usize>,
}

/// The record RELATION field `via` of `entity` names in `data`, as `code_sources` read it.
fn code_source<'r>(
    meta: &TenantMeta,
    entity: &EntityDef,
    related: &'r HashMap<(String, String), Record>,
    data: &Map<String, Value>,
    via: &str,
) -> Option<&'r Record> {
    let target = entity.field_by_key(via)?.related_entity_id.as_deref()?;
    let target = meta.entity_by_id(target)?;
    let id = data.get(via)?.as_str()?;
    related.get(&(target.id.clone(), id.to_owned()))
}

impl<'a> Store<'a> {
    /// The UIDs of a create call's records (`records`: the values of each record still good):
    /// every UID field a record leaves empty gets its next UID, and a given one (checked
    /// already) moves its scope's counter up to it, so that no UID generated later meets it.
    /// Each counter — (field, scope) — moves once for the whole call: one UPSERT … RETURNING
    /// reserves as many numbers as its records need, past the highest given one, and they are
    /// handed out in the records' order. The records the codes' RELATION fields point at are
    /// read once per target entity. Problems (a code field that is empty or of the wrong
    /// width, a full sequence) are returned as field errors, per record.
    pub(super) async fn assign_uids(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        records: &mut [&mut Map<String, Value>],
    ) -> Result<Vec<Vec<FieldError>>> {
        let mut errors: Vec<Vec<FieldError>> = vec![Vec::new(); records.len()];
        let fields: Vec<&FieldDef> = uid::fields(entity).collect();
        if fields.is_empty() || records.is_empty() {
            return Ok(errors);
        }
        // Per counter: the highest number given for it, and the records wanting its next.
        let mut counters: BTreeMap<(usize, String), Counter> = BTreeMap::new();
        for data in records.iter() {
            for (at, f) in fields.iter().enumerate() {
                let given = data.get(f.key.as_str()).and_then(Value::as_str);
                if let Some((scope, n)) = given.and_then(|v| uid::pattern_of(f).split(v)) {
                    let counter = counters.entry((at, scope)).or_default();
                    counter.given = counter.given.max(Some(n));
                }
            }
        }
        let related = self.code_sources(txn, meta, entity, &fields, records).await?;
        let day = time::now_for(self.tenant_id).with_timezone(&meta.time_zone).date_naive();
        for (i, data) in records.iter().enumerate() {
            for (at, f) in fields.iter().enumerate() {
                if data.contains_key(f.key.as_str()) {
                    continue;
                }
                let code = |part: &Part| -> std::result::Result<String, String> {
                    let Part::Code { via, key, width } = part else { return Ok(String::new()) };
                    match via {
                        None => uid::code_of(data.get(key.as_str()), key.as_str(), *width),
                        Some(via) => {
                            let source = code_source(meta, entity, &related, data, via.as_str());
                            let what = format!("{via}.{key}");
                            uid::code_of(source.and_then(|r| r.data.get(key.as_str())), &what, *width)
                        }
                    }
                };
                match uid::pattern_of(f).scope(day, &code) {
                    Ok(scope) => counters.entry((at, scope)).or_default().wanting.push(i),
                    Err(e) => errors[i].push(FieldError::new(&f.graphql_name, e)),
                }
            }
        }
        for ((at, scope), counter) in counters {
            let f = fields[at];
            let wanted = i64::try_from(counter.wanting.len())
                .map_err(|_| Error::Internal("too many UIDs to reserve".into()))?;
            let last = self.reserve_in_scope(txn, entity, f, &scope, counter.given, wanted).await?;
            for (n, i) in (last - wanted + 1..).zip(counter.wanting) {
                match uid::pattern_of(f).render(&scope, n) {
                    Ok(value) => {
                        records[i].insert(f.key.to_string(), Value::String(value));
                    }
                    Err(e) => errors[i].push(FieldError::new(&f.graphql_name, e)),
                }
            }
        }
        Ok(errors)
    }

    /// The records the code parts of the UID fields `fields` reach through a RELATION field
    /// (`{plant.code}`), for the records that leave such a UID empty: one statement per target
    /// entity, none when no pattern has such a part. Keyed by (entity id, record id).
    async fn code_sources(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        fields: &[&FieldDef],
        records: &[&mut Map<String, Value>],
    ) -> Result<HashMap<(String, String), Record>> {
        let mut wanted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for data in records {
            for f in fields.iter().filter(|f| !data.contains_key(f.key.as_str())) {
                for part in uid::pattern_of(f).parts() {
                    let Part::Code { via: Some(via), .. } = part else { continue };
                    let target =
                        entity.field_by_key(via.as_str()).and_then(|r| r.related_entity_id.as_deref());
                    let id = data.get(via.as_str()).and_then(Value::as_str);
                    if let (Some(target), Some(id)) = (target, id) {
                        wanted.entry(target).or_default().insert(id);
                    }
                }
            }
        }
        let mut found = HashMap::new();
        for (target, ids) in wanted {
            let Some(e) = meta.entity_by_id(target) else { continue };
            let ids: Vec<&str> = ids.into_iter().filter(|id| super::could_be_stored(id)).collect();
            if ids.is_empty() {
                continue;
            }
            let mut buf = SqlBuf::new(self.d());
            buf.push("SELECT ").push(&super::columns::columns(self.d(), e));
            super::push_live_among(&mut buf, self.tenant_id, &ids);
            buf.push(" AND entity_id = ").bind(e.id.clone());
            for row in txn.query_all(buf.into_statement()).await? {
                let record = Record::from_row(&row)?;
                found.insert((e.id.clone(), record.id.clone()), record);
            }
        }
        Ok(found)
    }

    /// Reserves `wanted` numbers of `scope`'s sequence for a UID field, past `given` (the
    /// highest number of the UIDs given for it in this call, if any): one UPSERT … RETURNING,
    /// whose row lock orders concurrent creates of the same scope (other scopes never wait).
    /// The last number reserved (with none wanted: the counter, moved up to `given`).
    async fn reserve_in_scope(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        f: &FieldDef,
        scope: &str,
        given: Option<i64>,
        wanted: i64,
    ) -> Result<i64> {
        let mut buf = SqlBuf::new(self.d());
        buf.push("INSERT INTO uid_counters (tenant_id, entity_id, field_id, scope, value) VALUES (");
        buf.bind(self.tenant_id.to_owned()).push(", ").bind(entity.id.clone()).push(", ");
        buf.bind(f.id.clone()).push(", ").bind(scope.to_owned()).push(", ").bind(given.unwrap_or(0) + wanted);
        buf.push(") ON CONFLICT (tenant_id, entity_id, field_id, scope) DO UPDATE SET value = ");
        match (given, self.d()) {
            (None, _) => buf.push("uid_counters.value"),
            (Some(n), Dialect::Postgres) => buf.push("GREATEST(uid_counters.value, ").bind(n).push(")"),
            (Some(n), Dialect::Sqlite) => buf.push("MAX(uid_counters.value, ").bind(n).push(")"),
        };
        buf.push(" + ").bind(wanted).push(" RETURNING value");
        super::create::counted(txn, buf).await
    }

    /// Registers the UIDs of a create call's new records (`made`: id and values of each) in
    /// `record_uids`, in one INSERT for all of them: one that another record of the tenant
    /// holds already, or that an earlier record of the call has, is a `VALIDATION` error on
    /// its field.
    pub(super) async fn register_uids(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        made: &[(&str, &Map<String, Value>)],
    ) -> Result<()> {
        let mut uids: Vec<(&FieldDef, &str, &str)> = Vec::new();
        let mut taken: Vec<(&FieldDef, &str)> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for (record_id, data) in made {
            for f in uid::fields(entity) {
                let Some(value) = data.get(f.key.as_str()).and_then(Value::as_str) else { continue };
                // Two rows of one INSERT with the same key: DO NOTHING keeps the first, whose
                // value RETURNING shows, so a repeat is caught here.
                if seen.insert(value) {
                    uids.push((f, value, record_id));
                } else {
                    taken.push((f, value));
                }
            }
        }
        if uids.is_empty() {
            return Ok(());
        }
        let mut buf = SqlBuf::new(self.d());
        buf.push("INSERT INTO record_uids (tenant_id, uid, entity_id, field_id, record_id) VALUES ");
        for (i, (f, value, record_id)) in uids.iter().enumerate() {
            buf.push(if i == 0 { "(" } else { ", (" });
            buf.bind(self.tenant_id.to_owned()).push(", ").bind((*value).to_owned()).push(", ");
            buf.bind(entity.id.clone()).push(", ").bind(f.id.clone()).push(", ").bind_record_id(record_id);
            buf.push(")");
        }
        buf.push(" ON CONFLICT (tenant_id, uid) DO NOTHING RETURNING uid");
        let mut stored: HashSet<String> = HashSet::new();
        for row in txn.query_all(buf.into_statement()).await? {
            stored.insert(row.try_get("", "uid")?);
        }
        taken.extend(uids.iter().filter(|(_, v, _)| !stored.contains(*v)).map(|(f, v, _)| (*f, *v)));
        if taken.is_empty() {
            return Ok(());
        }
        let message = |v: &str| format!("`{v}` is taken: a UID names one record");
        Err(Error::Validation(
            taken.into_iter().map(|(f, v)| FieldError::new(&f.graphql_name, message(v))).collect(),
        ))
    }

    /// The records a genealogy walk from the live record of `entity` whose UID is `uid`
    /// reaches through RELATION field `link` (its own entity's genealogy link), at most
    /// `max_depth` links away, the start first, by depth: one recursive statement on both
    /// backends, which never visits a record twice on one path (a cycle ends there). Records
    /// outside the caller's row rule `row` are left out, and with them every record reached
    /// only through one. `NOT_FOUND` when no visible record has the UID.
    pub async fn trace(
        &self,
        entity: &EntityDef,
        link: &FieldDef,
        uid: &str,
        way: Trace,
        max_depth: i64,
        row: Option<&Filter>,
    ) -> Result<Vec<TraceNode>> {
        let d = self.d();
        let key = link.key.as_str();
        let linked = |alias: &str| match d {
            Dialect::Postgres => format!("{alias}.data->>'{key}'"),
            Dialect::Sqlite => format!("json_extract({alias}.data, '$.{key}')"),
        };
        let mut buf = SqlBuf::new(d);
        buf.push("WITH RECURSIVE tree(id, parent, depth, path) AS (SELECT r.id, ").push(&linked("r"));
        buf.push(", CAST(0 AS BIGINT), CAST(r.id AS TEXT) FROM record_uids u JOIN records r ON r.tenant_id = u.tenant_id AND r.id = u.record_id");
        buf.push(" WHERE u.tenant_id = ").bind(self.tenant_id.to_owned());
        buf.push(" AND u.entity_id = ").bind(entity.id.clone()).push(" AND u.uid = ").bind(uid.to_owned());
        buf.push(" AND r.deleted_at IS NULL UNION ALL SELECT n.id, ").push(&linked("n"));
        buf.push(
            ", t.depth + 1, t.path || ',' || CAST(n.id AS TEXT) FROM tree t JOIN records n ON n.tenant_id = ",
        );
        buf.bind(self.tenant_id.to_owned()).push(" AND n.entity_id = ").bind(entity.id.clone());
        buf.push(" AND n.deleted_at IS NULL AND ");
        match (way, d) {
            (Trace::Down, _) => buf.push(&linked("n")).push(" = CAST(t.id AS TEXT)"),
            (Trace::Up, Dialect::Postgres) => buf.push("n.id = CAST(t.parent AS UUID)"),
            (Trace::Up, Dialect::Sqlite) => buf.push("n.id = t.parent"),
        };
        buf.push(" WHERE t.depth < ").bind(max_depth);
        buf.push(" AND t.path NOT LIKE '%' || CAST(n.id AS TEXT) || '%')");
        buf.push(" SELECT CAST(id AS TEXT) AS id, depth, path FROM tree ORDER BY depth, path LIMIT ")
            .bind(MAX_NODES);
        let mut found: Vec<(String, i64, Vec<String>)> = Vec::new();
        for r in self.query_all(buf.into_statement()).await? {
            let path: String = r.try_get("", "path")?;
            found.push((
                r.try_get("", "id")?,
                r.try_get("", "depth")?,
                path.split(',').map(str::to_owned).collect(),
            ));
        }
        let ids: Vec<String> = found.iter().map(|(id, _, _)| id.clone()).collect();
        let records: HashMap<String, Record> = self
            .get_many(&ids)
            .await?
            .into_iter()
            .filter(|r| row.is_none_or(|f| f.matches(r)))
            .map(|r| (r.id.clone(), r))
            .collect();
        let nodes: Vec<TraceNode> = found
            .into_iter()
            .filter(|(_, _, path)| path.iter().all(|id| records.contains_key(id)))
            .filter_map(|(id, depth, path)| {
                Some(TraceNode { record: records.get(&id)?.clone(), depth, path })
            })
            .collect();
        if nodes.is_empty() {
            return Err(Error::NotFound(format!("{} with UID `{uid}`", entity.label_singular)));
        }
        Ok(nodes)
    }
}
