//! What a record write's values must find in the database, checked in the write's
//! transaction: relation targets that exist (this tenant, the right entity, live), unique
//! values no other record holds (serialised per value on PostgreSQL), and an owner who is a
//! user of the tenant. Each refusal is a field error of the write, never a database error.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Store, push_live_among};
use crate::pipeline::Exec;
use crate::runtime::filter::{Filter, Op, Target};
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, RelationKind, TenantMeta};
use crate::runtime::sql;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, FieldError, Result};

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
        let mut errors = Vec::new();
        let d = self.d();
        let relation_ids: Vec<String> = if relations {
            relation_targets(fields, data).into_iter().map(|(id, _)| id).collect()
        } else {
            Vec::new()
        };
        let found: HashMap<String, String> = if relation_ids.is_empty() {
            HashMap::new()
        } else {
            let mut buf = SqlBuf::new(d);
            buf.push("SELECT id, entity_id");
            push_live_among(&mut buf, self.tenant_id, &relation_ids);
            let rows = txn.query_all(buf.into_statement()).await?;
            rows.iter()
                .map(|r| Ok((sql::record_id_col(r, d, "id")?, r.try_get("", "entity_id")?)))
                .collect::<Result<_>>()?
        };
        for f in fields {
            let Some(v) = data.get(f.key.as_str()) else { continue };
            if f.ty == FieldType::Relation && relations {
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
        txn: &impl Exec,
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
            txn.execute(lock.into_statement()).await?;
        }
        let mut buf = SqlBuf::new(d);
        let taken = Filter::Cond(Target::Field(Box::new(f.clone())), Op::Eq(v.clone()));
        buf.push("SELECT 1 AS x FROM records WHERE ");
        sql::push_scope_for(&mut buf, self.tenant_id, &entity.id, taken.targets())?;
        buf.push(" AND ");
        sql::compile(&mut buf, &taken)?;
        if let Some(id) = self_id {
            // `id` is the record being written, found by it: an id in its stored form.
            buf.push(" AND id <> ").bind_record_id(id);
        }
        buf.push(" LIMIT 1");
        Ok(txn.query_one(buf.into_statement()).await?.is_some())
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
