//! What a record write's values must find in the database, checked in the write's
//! transaction: relation targets that exist (this tenant, the right entity, live), unique
//! values no other record holds (serialised per value on PostgreSQL), and an owner who is a
//! user of the tenant. Each refusal is a field error of the write, never a database error.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::{COLUMNS, Store, push_live_among};
use crate::pipeline::Exec;
use crate::runtime::filter::{Filter, Op, Target};
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, RelationKind, TenantMeta};
use crate::runtime::record::Record;
use crate::runtime::sql;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, FieldError, Result};

/// One write's values to check: the fields to check, the values as they would be stored, and
/// the record being written (an update's or a restore's: its own values are no clash).
#[derive(Clone, Copy)]
pub(super) struct Checked<'x> {
    pub(super) fields: &'x [&'x FieldDef],
    pub(super) data: &'x Map<String, Value>,
    pub(super) self_id: Option<&'x str>,
    /// Nothing is wrong with the write so far: its unique values count as taken for the
    /// writes after it (one that will not be written holds none).
    pub(super) clean: bool,
}

impl Store<'_> {
    /// Relation targets exist (same tenant, right entity, live) — unless `relations` is false,
    /// when the write checks them itself — and unique values are free.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn check_references(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        fields: &[&FieldDef],
        data: &Map<String, Value>,
        self_id: Option<&str>,
        relations: bool,
    ) -> Result<Vec<FieldError>> {
        let one = [Checked { fields, data, self_id, clean: true }];
        Ok(self.check_many(txn, meta, entity, &one, relations).await?.pop().unwrap_or_default())
    }

    /// [`Store::check_references`] of many writes at once, each kind of look-up one statement
    /// for all of them: the relation targets, and per unique field its values (taken in the
    /// table, or earlier among `items`). The errors of each item, in order.
    pub(super) async fn check_many(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        items: &[Checked<'_>],
        relations: bool,
    ) -> Result<Vec<Vec<FieldError>>> {
        let mut errors: Vec<Vec<FieldError>> = vec![Vec::new(); items.len()];
        let d = self.d();
        let relation_ids: BTreeSet<String> = if relations {
            items.iter().flat_map(|x| relation_targets(x.fields, x.data)).map(|(id, _)| id).collect()
        } else {
            BTreeSet::new()
        };
        let found: HashMap<String, String> = if relation_ids.is_empty() {
            HashMap::new()
        } else {
            let ids: Vec<&String> = relation_ids.iter().collect();
            let mut buf = SqlBuf::new(d);
            buf.push("SELECT id, entity_id");
            push_live_among(&mut buf, self.tenant_id, &ids);
            let rows = txn.query_all(buf.into_statement()).await?;
            rows.iter()
                .map(|r| Ok((sql::record_id_col(r, d, "id")?, r.try_get("", "entity_id")?)))
                .collect::<Result<_>>()?
        };
        // Per unique field (in the entity's order): (item, value) to look for.
        let mut unique: Vec<(&FieldDef, Vec<(usize, &Value)>)> = Vec::new();
        for (i, x) in items.iter().enumerate() {
            for f in x.fields {
                let Some(v) = x.data.get(f.key.as_str()) else { continue };
                if f.ty == FieldType::Relation && relations {
                    let target = f.related_entity_id.as_deref().unwrap_or_default();
                    let ok = v.as_str().and_then(|id| found.get(id)).is_some_and(|e| e == target);
                    if !ok {
                        let label = meta
                            .entity_by_id(target)
                            .map(|e| e.label_singular.clone())
                            .unwrap_or_else(|| "record".into());
                        errors[i].push(FieldError::new(&f.graphql_name, format!("no {label} with this id")));
                        continue;
                    }
                }
                if f.unique || f.relation_kind == Some(RelationKind::OneToOne) {
                    match unique.iter_mut().find(|(u, _)| u.key == f.key) {
                        Some((_, values)) => values.push((i, v)),
                        None => unique.push((*f, vec![(i, v)])),
                    }
                }
            }
        }
        self.lock_values(txn, entity, &unique).await?;
        for (f, values) in &unique {
            let clean: Vec<bool> = items.iter().zip(&errors).map(|(x, e)| x.clean && e.is_empty()).collect();
            let taken = self.values_taken(txn, entity, f, values, items, &clean).await?;
            for (i, t) in taken {
                if t {
                    errors[i].push(FieldError::new(&f.graphql_name, "is already used by another record"));
                }
            }
        }
        Ok(errors)
    }

    /// PostgreSQL: serialises concurrent writers of the same unique values (one statement for
    /// all of them, in one order): READ COMMITTED alone would let two transactions both see
    /// "free" and both insert.
    async fn lock_values(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        unique: &[(&FieldDef, Vec<(usize, &Value)>)],
    ) -> Result<()> {
        let d = self.d();
        if d != Dialect::Postgres || unique.is_empty() {
            return Ok(());
        }
        let keys: BTreeSet<String> = unique
            .iter()
            .flat_map(|(f, values)| {
                values.iter().map(move |(_, v)| format!("{}:{}:{}:{}", self.tenant_id, entity.id, f.key, v))
            })
            .collect();
        let mut lock = SqlBuf::new(d);
        lock.push("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM (VALUES ");
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 {
                lock.push(", ");
            }
            lock.push("(").bind(key).push(")");
        }
        lock.push(") AS v(k)");
        txn.execute(lock.into_statement()).await
    }

    /// Whether each (item, value) of unique field `f` is taken: by a live record other than the
    /// item's own (one statement), or by an earlier item that is `clean` (to be written).
    async fn values_taken(
        &self,
        txn: &impl Exec,
        entity: &EntityDef,
        f: &FieldDef,
        values: &[(usize, &Value)],
        items: &[Checked<'_>],
        clean: &[bool],
    ) -> Result<Vec<(usize, bool)>> {
        let d = self.d();
        let distinct: Vec<Value> = values.iter().fold(Vec::new(), |mut out, (_, v)| {
            if !out.contains(*v) {
                out.push((*v).clone());
            }
            out
        });
        let among = Filter::Cond(Target::Field(Box::new(f.clone())), Op::In(distinct));
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT ").push(COLUMNS).push(" FROM records WHERE ");
        sql::push_scope_for(&mut buf, self.tenant_id, &entity.id, among.targets())?;
        buf.push(" AND ");
        sql::compile(&mut buf, &among)?;
        let found: Vec<Record> =
            txn.query_all(buf.into_statement()).await?.iter().map(Record::from_row).collect::<Result<_>>()?;
        let mut seen: Vec<&Value> = Vec::new();
        let mut out = Vec::with_capacity(values.len());
        for (i, v) in values {
            let own = items[*i].self_id;
            // As the database compares them (`Filter::matches` agrees with the SQL filter).
            let same = Filter::Cond(Target::Field(Box::new(f.clone())), Op::Eq((*v).clone()));
            let taken =
                seen.contains(v) || found.iter().any(|r| Some(r.id.as_str()) != own && same.matches(r));
            if !taken && clean.get(*i).copied().unwrap_or(false) {
                seen.push(*v);
            }
            out.push((*i, taken));
        }
        Ok(out)
    }

    pub(super) async fn check_owner(&self, txn: &impl Exec, owner: &str) -> Result<Vec<FieldError>> {
        let mut buf = SqlBuf::new(self.d());
        buf.push("SELECT id FROM users WHERE tenant_id = ").bind(self.tenant_id.to_owned());
        buf.push(" AND id = ").bind(owner.to_owned());
        let found = txn.query_one(buf.into_statement()).await?.is_some();
        Ok(if found { Vec::new() } else { vec![FieldError::new("owner", "no user with this id")] })
    }
}

/// The (target id, target entity id) of each RELATION value among `fields` in `data`.
pub(super) fn relation_targets(fields: &[&FieldDef], data: &Map<String, Value>) -> Vec<(String, String)> {
    fields
        .iter()
        .filter(|f| f.ty == FieldType::Relation)
        .filter_map(|f| {
            let id = data.get(f.key.as_str()).and_then(Value::as_str)?;
            Some((id.to_owned(), f.related_entity_id.clone().unwrap_or_default()))
        })
        .collect()
}
