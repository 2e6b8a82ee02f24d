//! The record store's part of UID fields (`runtime::uid`): a create gives each UID field left
//! empty its next UID — the sequence from one UPSERT … RETURNING on `uid_counters` per
//! (tenant, entity, field, scope), in the write's transaction — and registers every UID of
//! the record in `record_uids`, whose primary key (tenant, uid) keeps UIDs unique per tenant
//! without a SELECT per write; and genealogy walks (`trace`), one recursive statement over
//! the entity's genealogy link. An entity without UID fields pays no statement for any of it.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::{Liveness, Store, fetch_one, one_statement};
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

impl<'a> Store<'a> {
    /// A create's UIDs: every UID field of `entity` that `data` leaves empty gets its next
    /// UID, and a given one (checked already) moves its scope's counter up to it, so that no
    /// UID generated later meets it. Problems (a code field that is empty or of the wrong
    /// width, a full sequence) are returned as field errors.
    pub(super) async fn assign_uids(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        data: &mut Map<String, Value>,
    ) -> Result<Vec<FieldError>> {
        let mut errors = Vec::new();
        let (given, empty): (Vec<&FieldDef>, Vec<&FieldDef>) =
            uid::fields(entity).partition(|f| data.contains_key(f.key.as_str()));
        for f in given {
            let split =
                data.get(f.key.as_str()).and_then(Value::as_str).and_then(|v| uid::pattern_of(f).split(v));
            if let Some((scope, n)) = split {
                self.count_in_scope(txn, entity, f, &scope, Some(n)).await?;
            }
        }
        if empty.is_empty() {
            return Ok(errors);
        }
        let day = time::now_for(self.tenant_id).with_timezone(&meta.time_zone).date_naive();
        // The records the codes' RELATION fields point at, each read once.
        let mut related: HashMap<String, Option<Record>> = HashMap::new();
        for f in &empty {
            for part in uid::pattern_of(f).parts() {
                let Part::Code { via: Some(via), .. } = part else { continue };
                if related.contains_key(via.as_str()) {
                    continue;
                }
                let target = entity
                    .field_by_key(via.as_str())
                    .and_then(|r| r.related_entity_id.as_deref())
                    .and_then(|id| meta.entity_by_id(id));
                let record = match (target, data.get(via.as_str()).and_then(Value::as_str)) {
                    (Some(e), Some(id)) => {
                        fetch_one(txn, one_statement(self.d(), self.tenant_id, e, id, Liveness::Live, false))
                            .await?
                    }
                    _ => None,
                };
                related.insert(via.as_str().to_owned(), record);
            }
        }
        for f in empty {
            let pattern = uid::pattern_of(f);
            let scope = {
                let code = |part: &Part| -> std::result::Result<String, String> {
                    let Part::Code { via, key, width } = part else { return Ok(String::new()) };
                    match via {
                        None => uid::code_of(data.get(key.as_str()), key.as_str(), *width),
                        Some(via) => {
                            let source = related.get(via.as_str()).and_then(Option::as_ref).map(|r| &*r.data);
                            let what = format!("{via}.{key}");
                            uid::code_of(source.and_then(|d| d.get(key.as_str())), &what, *width)
                        }
                    }
                };
                pattern.scope(day, &code)
            };
            let scope = match scope {
                Ok(s) => s,
                Err(e) => {
                    errors.push(FieldError::new(&f.graphql_name, e));
                    continue;
                }
            };
            let n = self.count_in_scope(txn, entity, f, &scope, None).await?;
            match pattern.render(&scope, n) {
                Ok(value) => {
                    data.insert(f.key.to_string(), Value::String(value));
                }
                Err(e) => errors.push(FieldError::new(&f.graphql_name, e)),
            }
        }
        Ok(errors)
    }

    /// The next sequence number of `scope` for a UID field (`given`: none — the counter only
    /// moves up to a given UID's number): one UPSERT … RETURNING, whose row lock orders
    /// concurrent creates of the same scope (other scopes never wait).
    async fn count_in_scope(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        f: &FieldDef,
        scope: &str,
        given: Option<i64>,
    ) -> Result<i64> {
        let mut buf = SqlBuf::new(self.d());
        buf.push("INSERT INTO uid_counters (tenant_id, entity_id, field_id, scope, value) VALUES (");
        buf.bind(self.tenant_id.to_owned()).push(", ").bind(entity.id.clone()).push(", ");
        buf.bind(f.id.clone()).push(", ").bind(scope.to_owned()).push(", ").bind(given.unwrap_or(1));
        buf.push(") ON CONFLICT (tenant_id, entity_id, field_id, scope) DO UPDATE SET value = ");
        buf.push(match (given, self.d()) {
            (None, _) => "uid_counters.value + 1",
            (Some(_), Dialect::Postgres) => "GREATEST(uid_counters.value, excluded.value)",
            (Some(_), Dialect::Sqlite) => "MAX(uid_counters.value, excluded.value)",
        });
        buf.push(" RETURNING value");
        super::create::counted(txn, buf).await
    }

    /// Registers a new record's UIDs in `record_uids` (one INSERT): one that another record
    /// of the tenant holds already is a `VALIDATION` error on its field.
    pub(super) async fn register_uids(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        record_id: &str,
        data: &Map<String, Value>,
    ) -> Result<()> {
        let uids: Vec<(&FieldDef, &str)> =
            uid::fields(entity).filter_map(|f| Some((f, data.get(f.key.as_str())?.as_str()?))).collect();
        if uids.is_empty() {
            return Ok(());
        }
        let mut buf = SqlBuf::new(self.d());
        buf.push("INSERT INTO record_uids (tenant_id, uid, entity_id, field_id, record_id) VALUES ");
        for (i, (f, value)) in uids.iter().enumerate() {
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
        let taken: Vec<FieldError> = uids
            .iter()
            .filter(|(_, v)| !stored.contains(*v))
            .map(|(f, v)| FieldError::new(&f.graphql_name, format!("`{v}` is taken: a UID names one record")))
            .collect();
        if taken.is_empty() { Ok(()) } else { Err(Error::Validation(taken)) }
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
