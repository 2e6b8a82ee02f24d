//! Rollups: counts and exact money sums per value of every SELECT field of an entity (and of
//! the entity as a whole), kept current in the transaction of each record write, so that
//! `dealsAggregate(groupBy: [STAGE]) { count sum { amount } }` over 200,000 deals reads a few
//! rows instead of scanning them.
//!
//! A cell is (tenant, entity, group key, group value, measure): the group key is a SELECT
//! field's key (`""`: the whole entity), the group value its stored value (`""`: no value),
//! the measure a CURRENCY field's key, with `n` its non-null count and `total` its exact sum
//! (`""`: the record count). Only what stays exact under deletes is kept: counts and sums of
//! decimals — not minimums, maximums or float sums, which the scan computes. On PostgreSQL
//! the totals are `numeric`; on SQLite integer minor units at the field's scale, as the scan
//! sums them.
//!
//! Writes add deltas (`deltas`, one upsert per write, folded into the write's statement on
//! PostgreSQL). Every definition change rebuilds the tenant's cells in its own transaction
//! (the change may have rewritten records), and the start-up pass builds those of entities
//! that have none yet (records loaded by SQL, databases from before rollups). The whole
//! entity's count cell marks a built entity: without it, `answer` declines and the caller
//! scans. A group value's cells stay at zero after its last record goes; `answer` drops them.
//!
//! Through the `record_rollups` model: `answer`'s read of the cells and the rebuilds' deletes.
//! Hand-built, and staying so: the write's delta upsert (`push_upsert`: a multi-row `INSERT …
//! ON CONFLICT DO UPDATE` adding to the cells, with a `CAST(… AS NUMERIC)` total on PostgreSQL
//! and integer minor units on SQLite, folded into the record write's pipelined statement); the
//! rebuild's `INSERT … SELECT … UNION ALL … GROUP BY` over the records, whose group values and
//! sums are dialect-specific expressions on the JSON `data` (`sql::text_expr`, `sql::figure`);
//! and the start-up `reconcile`'s cross-tenant `NOT EXISTS` read.

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Map, Value};

use super::decimal::Decimal;
use super::figures::{AggregateRow, Figure, Figures, decimal_avg, numeric_fields, scale};
use super::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use super::sql;
use crate::models::record_rollup;
use crate::sql_buf::SqlBuf;
use crate::{Db, Dialect, Error, Result};

/// The group key of the whole entity, the group value of "no value" and the measure of the
/// record count.
const WHOLE: &str = "";

/// The fields an entity's records are counted by.
fn group_fields(e: &EntityDef) -> impl Iterator<Item = &FieldDef> {
    e.fields.iter().filter(|f| f.ty == FieldType::Select)
}

/// The fields whose sums are kept (stored ones: a formula's value is not in `data`).
fn measure_fields(e: &EntityDef) -> impl Iterator<Item = &FieldDef> {
    e.fields.iter().filter(|f| f.ty == FieldType::Currency && f.is_stored())
}

/// A stored CURRENCY value at the field's scale (`None`: absent or not a decimal).
fn money(f: &FieldDef, data: &Map<String, Value>) -> Option<Decimal> {
    let d = Decimal::parse(data.get(f.key.as_str())?.as_str()?)?;
    let s = scale(f);
    (d.scale <= s).then(|| Decimal { units: d.units * 10i128.pow(s - d.scale), scale: s })
}

/// The change of one cell: (group key, group value, measure) → (count, total units).
pub type Deltas = BTreeMap<(String, String, String), (i64, i128)>;

/// Adds `from` to `into`: the cell changes of several writes, upserted once (a batch).
pub fn merge(into: &mut Deltas, from: Deltas) {
    for (cell, (n, units)) in from {
        let sum = into.entry(cell).or_default();
        sum.0 += n;
        sum.1 += units;
    }
    into.retain(|_, (n, total)| *n != 0 || *total != 0);
}

fn add_cells(e: &EntityDef, data: &Map<String, Value>, sign: i64, out: &mut Deltas) {
    let mut groups = vec![(WHOLE.to_owned(), WHOLE.to_owned())];
    for g in group_fields(e) {
        let v = data.get(g.key.as_str()).and_then(Value::as_str).unwrap_or(WHOLE);
        groups.push((g.key.to_string(), v.to_owned()));
    }
    for (key, value) in groups {
        let cell = out.entry((key.clone(), value.clone(), WHOLE.to_owned())).or_default();
        cell.0 += sign;
        for m in measure_fields(e) {
            if let Some(amount) = money(m, data) {
                let cell = out.entry((key.clone(), value.clone(), m.key.to_string())).or_default();
                cell.0 += sign;
                cell.1 += i128::from(sign) * amount.units;
            }
        }
    }
}

/// The cell changes of a record leaving the entity's live records with `old` values and/or
/// entering them with `new` ones (a create has no `old`, a delete no `new`); cells that do not
/// change are left out.
pub fn deltas(e: &EntityDef, old: Option<&Map<String, Value>>, new: Option<&Map<String, Value>>) -> Deltas {
    let mut out = Deltas::new();
    if let Some(old) = old {
        add_cells(e, old, -1, &mut out);
    }
    if let Some(new) = new {
        add_cells(e, new, 1, &mut out);
    }
    out.retain(|_, (n, total)| *n != 0 || *total != 0);
    out
}

/// The scale of a measure's units (the record count has none).
fn measure_scale(e: &EntityDef, measure: &str) -> u32 {
    e.field_by_key(measure).map_or(0, scale)
}

/// Appends the upsert adding `deltas` to the cells of `e` (callers skip empty deltas).
pub fn push_upsert(buf: &mut SqlBuf, tenant_id: &str, e: &EntityDef, deltas: &Deltas) -> Result<()> {
    let d = buf.dialect;
    buf.push(
        "INSERT INTO record_rollups (tenant_id, entity_id, group_key, group_value, measure_key, n, total) VALUES ",
    );
    for (i, ((key, value, measure), (n, units))) in deltas.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.push("(").bind(tenant_id.to_owned()).push(", ").bind(e.id.clone()).push(", ");
        buf.bind(key.clone()).push(", ").bind(value.clone()).push(", ").bind(measure.clone());
        buf.push(", ").bind(*n).push(", ");
        match d {
            Dialect::Postgres => {
                let total = Decimal { units: *units, scale: measure_scale(e, measure) };
                buf.push("CAST(").bind(total.to_string_at(total.scale)).push(" AS NUMERIC))");
            }
            Dialect::Sqlite => {
                let units = i64::try_from(*units)
                    .map_err(|_| Error::BadRequest("a sum exceeds what SQLite stores exactly".into()))?;
                buf.bind(units).push(")");
            }
        }
    }
    buf.push(
        " ON CONFLICT (tenant_id, entity_id, group_key, group_value, measure_key) DO UPDATE SET \
         n = record_rollups.n + excluded.n, total = record_rollups.total + excluded.total",
    );
    Ok(())
}

/// Recomputes every cell of `e` from its live records, inside `txn`.
pub async fn rebuild(txn: &impl ConnectionTrait, d: Dialect, tenant_id: &str, e: &EntityDef) -> Result<()> {
    record_rollup::Entity::delete_many()
        .filter(record_rollup::Column::TenantId.eq(tenant_id))
        .filter(record_rollup::Column::EntityId.eq(&e.id))
        .exec(txn)
        .await?;
    let groups: Vec<Option<&FieldDef>> = std::iter::once(None).chain(group_fields(e).map(Some)).collect();
    for g in groups {
        let mut buf = SqlBuf::new(d);
        buf.push(
            "INSERT INTO record_rollups (tenant_id, entity_id, group_key, group_value, measure_key, n, total) ",
        );
        let measures: Vec<Option<&FieldDef>> =
            std::iter::once(None).chain(measure_fields(e).map(Some)).collect();
        for (i, m) in measures.iter().enumerate() {
            if i > 0 {
                buf.push(" UNION ALL ");
            }
            buf.push("SELECT ").bind(tenant_id.to_owned()).push(", ").bind(e.id.clone()).push(", ");
            buf.bind(g.map_or(WHOLE, |f| f.key.as_str()).to_owned()).push(", ");
            let group_value = match g {
                Some(f) => format!("COALESCE({}, '')", sql::text_expr(d, &f.key)),
                None => "''".to_owned(),
            };
            buf.push(&group_value).push(", ");
            match m {
                None => {
                    buf.push("'', COUNT(*), 0");
                }
                Some(f) => {
                    // As the scan sums it (`sql::figure`): the cells answer for the scan.
                    let units = sql::figure(d, f)
                        .ok_or_else(|| Error::Internal(format!("no figures of a {} field", f.ty.as_str())))?;
                    buf.bind(f.key.clone());
                    buf.push(&format!(", COUNT({units}), COALESCE(SUM({units}), 0)"));
                }
            }
            buf.push(" FROM records WHERE ");
            sql::push_live_scope(&mut buf, tenant_id, &e.id, sql::EntityRef::Param)?;
            if g.is_some() {
                buf.push(" GROUP BY ").push(&group_value);
            }
        }
        txn.execute_raw(buf.into_statement()).await?;
    }
    Ok(())
}

/// Rebuilds the cells of every entity of the tenant, inside `txn` (after a definition change:
/// fields may have been added, removed or retyped, and records rewritten).
pub async fn rebuild_tenant(txn: &impl ConnectionTrait, d: Dialect, tenant_id: &str) -> Result<()> {
    let meta = TenantMeta::load(txn, tenant_id).await?;
    record_rollup::Entity::delete_many()
        .filter(record_rollup::Column::TenantId.eq(tenant_id))
        .exec(txn)
        .await?;
    for e in &meta.entities {
        rebuild(txn, d, tenant_id, e).await?;
    }
    Ok(())
}

/// Builds the cells of entities that have none (start-up): each tenant in a transaction of
/// its own. Returns how many entities were built.
pub async fn reconcile(system: &Db) -> Result<usize> {
    let d = system.dialect;
    let sql = "SELECT e.tenant_id, e.id FROM entity_defs e WHERE NOT EXISTS (SELECT 1 FROM record_rollups r \
               WHERE r.entity_id = e.id AND r.group_key = '' AND r.group_value = '' AND r.measure_key = '')";
    let rows = system.conn.query_all_raw(sea_orm::Statement::from_string(system.backend(), sql)).await?;
    let mut by_tenant: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rows {
        by_tenant.entry(r.try_get("", "tenant_id")?).or_default().push(r.try_get("", "id")?);
    }
    let mut built = 0;
    for (tenant_id, entities) in by_tenant {
        let txn = system.begin_tenant_write(&tenant_id).await?;
        let meta = TenantMeta::load(&txn, &tenant_id).await?;
        for id in entities {
            if let Some(e) = meta.entity_by_id(&id) {
                rebuild(&txn, d, &tenant_id, e).await?;
                built += 1;
            }
        }
        txn.commit().await?;
    }
    if built > 0 {
        tracing::info!(built, "rollups built");
    }
    Ok(built)
}

/// The aggregate of all live records of `e`, grouped by `group` (a SELECT field) or not at
/// all, from the cells — when they can answer it: counts, and sums and averages of CURRENCY
/// fields only. `None` when the cells cannot (other figures asked, or the entity not built).
pub async fn answer(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    e: &EntityDef,
    group: Option<&FieldDef>,
    figures: &Figures,
) -> Result<Option<Vec<AggregateRow>>> {
    if group.is_some_and(|g| g.ty != FieldType::Select) {
        return Ok(None);
    }
    let numeric = numeric_fields(e);
    for f in &numeric {
        let other = [Figure::Min, Figure::Max].iter().any(|fig| figures.wants(*fig, &f.graphql_name));
        let sums = [Figure::Sum, Figure::Avg].iter().any(|fig| figures.wants(*fig, &f.graphql_name));
        if other || (sums && (f.ty != FieldType::Currency || !f.is_stored())) {
            return Ok(None);
        }
    }
    let key = group.map_or(WHOLE, |g| g.key.as_str());
    // The cells of the group key and of the whole entity, the "no value" group last.
    let no_value_last: Expr = Expr::case(record_rollup::Column::GroupValue.eq(WHOLE), 1).finally(0).into();
    let mut cells: Vec<(String, String, String, i64, String)> = record_rollup::Entity::find()
        .filter(record_rollup::Column::TenantId.eq(tenant_id))
        .filter(record_rollup::Column::EntityId.eq(&e.id))
        .filter(record_rollup::Column::GroupKey.is_in([key, WHOLE]))
        .order_by_asc(record_rollup::Column::GroupKey)
        .order_by_asc(no_value_last)
        .order_by_asc(record_rollup::Column::GroupValue)
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.group_key, c.group_value, c.measure_key, c.n, c.total))
        .collect();
    // The whole entity's count cell marks an entity whose cells were built.
    if !cells.iter().any(|(k, v, m, _, _)| k.is_empty() && v.is_empty() && m.is_empty()) {
        return Ok(None);
    }
    cells.retain(|(k, _, _, _, _)| k == key);
    // One row per group value with records, in the cells' order; the whole entity always has one.
    let mut out: Vec<(String, AggregateRow)> = Vec::new();
    for (_, value, _, n, _) in
        cells.iter().filter(|(_, _, m, n, _)| m.is_empty() && (*n > 0 || group.is_none()))
    {
        let mut row = AggregateRow {
            group: Map::new(),
            count: *n,
            sum: Map::new(),
            avg: Map::new(),
            min: Map::new(),
            max: Map::new(),
        };
        if let Some(g) = group {
            let v = if value.is_empty() { Value::Null } else { Value::String(value.clone()) };
            row.group.insert(g.graphql_name.clone(), v);
        }
        out.push((value.clone(), row));
    }
    // A measure's cell: its non-null count and exact total.
    for (_, value, measure, non_null, total) in cells.iter().filter(|(_, _, m, _, _)| !m.is_empty()) {
        let Some(f) = e.field_by_key(measure) else { continue };
        let Some((_, row)) = out.iter_mut().find(|(v, _)| v == value) else { continue };
        let sum = if *non_null <= 0 {
            Value::Null
        } else {
            let s = scale(f);
            let bad = || Error::Internal(format!("bad rollup total {total}"));
            let value = match d {
                Dialect::Postgres => Decimal::parse(total).ok_or_else(bad)?,
                Dialect::Sqlite => Decimal { units: total.parse::<i128>().map_err(|_| bad())?, scale: s },
            };
            Value::from(value.to_string_at(s.max(value.trimmed().scale)))
        };
        let avg = figures.wants(Figure::Avg, &f.graphql_name);
        if avg {
            row.avg.insert(f.graphql_name.clone(), decimal_avg(&sum, *non_null, f));
        }
        if avg || figures.wants(Figure::Sum, &f.graphql_name) {
            row.sum.insert(f.graphql_name.clone(), sum);
        }
    }
    Ok(Some(out.into_iter().map(|(_, r)| r).collect()))
}
