//! The stock engine: balances per (item, warehouse) kept from movement records, bills of
//! materials exploded over any depth, production orders that consume components and receive
//! the finished item — all configured as data on entities (`def::StockConfig`, loaded with the
//! tenant's definitions, so a tenant without it pays nothing). This module owns the rules as
//! pure functions: checking a configuration against the definitions, reading quantities
//! exactly (millionths of a unit), what a write moves, and the SQL of the balance upsert and
//! of the explosion. The record store runs them in each write's transaction (`store::stock`).

pub mod def;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use self::def::{Bom, Ledger, Production, StockConfig};
use super::decimal::Decimal;
use super::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use super::sql::text_expr;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, FieldError, Result};

/// Quantities are stored as integer millionths of a unit: exact and alike on both databases.
pub const SCALE: u32 = 6;

/// Levels an explosion follows at most: deeper structures are refused as if cyclic.
pub const MAX_BOM_DEPTH: i32 = 32;

/// The balance changes of one write, keyed (item, warehouse) — the one order every writer
/// locks balances in — each a signed number of millionths; never a zero.
pub type Moves = BTreeMap<(String, String), i64>;

/// A record's stored values before or after a write (`None`: it did not exist, or is deleted).
pub type Values<'a> = Option<&'a Map<String, Value>>;

/// `units` millionths as a number.
pub fn as_number(units: i64) -> f64 {
    units as f64 / 10f64.powi(SCALE as i32)
}

/// A JSON number as millionths: `None` when absent or null; an error message when it is not
/// a number or has more than six decimal places.
pub fn units_of(v: Option<&Value>) -> std::result::Result<Option<i64>, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(None) };
    let text = match v {
        // Rust writes a float in full (`0.000001`), where JSON's form may use an exponent.
        Value::Number(n) => {
            n.as_f64().filter(|_| n.is_f64()).map_or_else(|| n.to_string(), |f| f.to_string())
        }
        Value::String(s) => s.clone(),
        _ => return Err("is not a number".into()),
    };
    let d = Decimal::parse(&text)
        .map(Decimal::trimmed)
        .filter(|d| d.scale <= SCALE)
        .ok_or_else(|| format!("`{text}` is not a quantity with at most {SCALE} decimal places"))?;
    let units = d.units * 10i128.pow(SCALE - d.scale);
    i64::try_from(units).map(Some).map_err(|_| format!("`{text}` is too large a quantity"))
}

/// A float quantity (a bill of materials' product) as millionths, rounded.
pub fn units_of_float(q: f64) -> i64 {
    (q * 10f64.powi(SCALE as i32)).round() as i64
}

fn text<'d>(data: &'d Map<String, Value>, key: &str) -> Option<&'d str> {
    data.get(key).and_then(Value::as_str)
}

fn add(moves: &mut Moves, item: &str, warehouse: &str, units: i64) {
    let cell = moves.entry((item.to_owned(), warehouse.to_owned())).or_insert(0);
    *cell += units;
}

/// The GraphQL name of `key` in `e` (the key itself if it is gone).
pub fn graphql_name(e: &EntityDef, key: &str) -> String {
    e.field_by_key(key).map_or_else(|| key.to_owned(), |f| f.graphql_name.clone())
}

/// What one movement record's values move (its sign: `sign`), added to `moves`. An error
/// names the field of a movement that cannot be booked (a negative quantity, a transfer
/// without its destination).
fn movement(
    l: &Ledger,
    data: &Map<String, Value>,
    sign: i64,
    moves: &mut Moves,
) -> std::result::Result<(), (String, String)> {
    let (Some(item), Some(from), Some(kind)) =
        (text(data, &l.item), text(data, &l.warehouse), text(data, &l.kind))
    else {
        return Ok(());
    };
    let units = match units_of(data.get(&l.quantity)) {
        Ok(Some(u)) if u < 0 => return Err((l.quantity.clone(), "must not be negative".into())),
        Ok(Some(u)) => u,
        Ok(None) => return Ok(()),
        Err(e) => return Err((l.quantity.clone(), e)),
    };
    if kind == l.receipt {
        add(moves, item, from, sign * units);
    } else if kind == l.issue {
        add(moves, item, from, -sign * units);
    } else if l.transfer.as_deref() == Some(kind) {
        let to = l.to_warehouse.as_deref().and_then(|k| text(data, k));
        let Some(to) = to else {
            let key = l.to_warehouse.clone().unwrap_or_else(|| l.warehouse.clone());
            return Err((key, "a transfer needs its destination".into()));
        };
        add(moves, item, from, -sign * units);
        add(moves, item, to, sign * units);
    }
    Ok(())
}

/// The balance changes of a movement write: the old values' moves reversed, the new values'
/// booked (a create has no old values, a delete no new ones).
pub fn movement_moves(e: &EntityDef, l: &Ledger, before: Values<'_>, after: Values<'_>) -> Result<Moves> {
    let mut moves = Moves::new();
    if let Some(old) = before {
        // What was booked is reversed as it was booked, even if it could not be booked today.
        let _ = movement(l, old, -1, &mut moves);
    }
    if let Some(new) = after {
        movement(l, new, 1, &mut moves).map_err(|(key, message)| {
            Error::Validation(vec![FieldError::new(graphql_name(e, &key), message)])
        })?;
    }
    moves.retain(|_, u| *u != 0);
    Ok(moves)
}

/// A production order that a write completes: (item, warehouse, quantity in millionths).
pub struct Completed {
    pub item: String,
    pub warehouse: String,
    pub units: i64,
}

/// The order a write moves into its completed status (from any other, or created so), if
/// it does; an error when it does so without what completing needs.
pub fn completed(
    e: &EntityDef,
    p: &Production,
    before: Values<'_>,
    after: Values<'_>,
) -> Result<Option<Completed>> {
    let Some(new) = after else { return Ok(None) };
    let done = |data: &Map<String, Value>| text(data, &p.status) == Some(p.completed.as_str());
    if !done(new) || before.is_some_and(done) {
        return Ok(None);
    }
    let missing = |key: &str, why: &str| Error::Validation(vec![FieldError::new(graphql_name(e, key), why)]);
    let item = text(new, &p.item).ok_or_else(|| missing(&p.item, "a completed order needs its item"))?;
    let warehouse = text(new, &p.warehouse)
        .ok_or_else(|| missing(&p.warehouse, "a completed order needs its warehouse"))?;
    let units = match units_of(new.get(&p.quantity)) {
        Ok(Some(u)) if u > 0 => u,
        Ok(_) => return Err(missing(&p.quantity, "a completed order needs a positive quantity")),
        Err(m) => return Err(missing(&p.quantity, &m)),
    };
    Ok(Some(Completed { item: item.to_owned(), warehouse: warehouse.to_owned(), units }))
}

/// The entity `name` of `meta` with the part of its stock configuration `part` picks, or a
/// `NOT_FOUND` naming what is missing.
pub fn configured<'m, T>(
    meta: &'m TenantMeta,
    name: &str,
    part: impl Fn(&StockConfig) -> Option<&T>,
    what: &str,
) -> Result<(&'m EntityDef, &'m T)> {
    meta.entity_by_name(name)
        .and_then(|e| e.stock.as_deref().and_then(&part).map(|p| (&**e, p)))
        .ok_or_else(|| Error::NotFound(format!("{what} `{name}`")))
}

/// The entity holding the tenant's bill-of-materials lines for items of `item_entity_id`.
pub fn bom_of<'m>(meta: &'m TenantMeta, item_entity_id: &str) -> Option<(&'m EntityDef, &'m Bom)> {
    meta.entities.iter().find_map(|e| {
        let b = e.stock.as_deref()?.bom.as_ref()?;
        let target = e.field_by_key(&b.parent)?.related_entity_id.as_deref()?;
        (target == item_entity_id).then_some((&**e, b))
    })
}

/// The ledger entity whose item field points at `item_entity_id` (the first, by definition
/// order): whose balances `stockOnHand` reads for those items.
pub fn ledger_of<'m>(meta: &'m TenantMeta, item_entity_id: &str) -> Option<(&'m EntityDef, &'m Ledger)> {
    meta.entities.iter().find_map(|e| {
        let l = e.stock.as_deref()?.ledger.as_ref()?;
        let target = e.field_by_key(&l.item)?.related_entity_id.as_deref()?;
        (target == item_entity_id).then_some((&**e, l))
    })
}

/// The entity a RELATION field `key` of `e` points at.
pub fn target_of<'m>(meta: &'m TenantMeta, e: &EntityDef, key: &str) -> Option<&'m EntityDef> {
    let id = e.field_by_key(key)?.related_entity_id.as_deref()?;
    meta.entity_by_id(id).map(|t| &**t)
}

/// Checks `config` for entity `e` against the tenant's definitions: every named field exists
/// with the type its part needs, options are options, relations agree on their targets.
pub fn check(meta: &TenantMeta, e: &EntityDef, config: &StockConfig) -> Result<()> {
    let mut errors = Vec::new();
    let mut field = |path: &str, key: &str, ty: FieldType| -> Option<FieldDef> {
        match e.field_by_key(key).or_else(|| e.field_by_graphql(key)) {
            Some(f) if f.ty == ty && !f.is_computed() => Some(f.clone()),
            _ => {
                errors.push(FieldError::new(
                    path,
                    format!("`{}` has no {} field `{key}`", e.name_singular, ty.as_str()),
                ));
                None
            }
        }
    };
    let mut bad = Vec::new();
    if let Some(l) = &config.ledger {
        let item = field("ledger.item", &l.item, FieldType::Relation);
        let from = field("ledger.warehouse", &l.warehouse, FieldType::Relation);
        let to = l.to_warehouse.as_deref().map(|k| field("ledger.toWarehouse", k, FieldType::Relation));
        field("ledger.quantity", &l.quantity, FieldType::Number);
        if let Some(kind) = field("ledger.kind", &l.kind, FieldType::Select) {
            let options = [
                ("ledger.receipt", Some(&l.receipt)),
                ("ledger.issue", Some(&l.issue)),
                ("ledger.transfer", l.transfer.as_ref()),
            ];
            for (path, o) in options {
                if let Some(o) = o.filter(|o| !kind.options.iter().any(|x| x == *o)) {
                    bad.push(FieldError::new(path, format!("`{o}` is not an option of `{}`", l.kind)));
                }
            }
        }
        if l.transfer.is_some() && l.to_warehouse.is_none() {
            bad.push(FieldError::new(
                "ledger.toWarehouse",
                "a ledger with transfers needs their destination field",
            ));
        }
        if let (Some(Some(to)), Some(from)) = (&to, &from)
            && to.related_entity_id != from.related_entity_id
        {
            bad.push(FieldError::new("ledger.toWarehouse", "must point at the same entity as `warehouse`"));
        }
        if let (Some(level), Some(item)) = (&l.reorder_level, &item) {
            let items = item.related_entity_id.as_deref().and_then(|id| meta.entity_by_id(id));
            if items.and_then(|i| i.field_by_key(level)).is_none_or(|f| f.ty != FieldType::Number) {
                bad.push(FieldError::new(
                    "ledger.reorderLevel",
                    format!("the item entity has no NUMBER field `{level}`"),
                ));
            }
        }
    }
    if let Some(b) = &config.bom {
        let parent = field("bom.parent", &b.parent, FieldType::Relation);
        let component = field("bom.component", &b.component, FieldType::Relation);
        field("bom.quantity", &b.quantity, FieldType::Number);
        if let (Some(p), Some(c)) = (parent, component)
            && p.related_entity_id != c.related_entity_id
        {
            bad.push(FieldError::new("bom.component", "must point at the same entity as `parent`"));
        }
    }
    if let Some(p) = &config.production {
        field("production.item", &p.item, FieldType::Relation);
        field("production.quantity", &p.quantity, FieldType::Number);
        field("production.warehouse", &p.warehouse, FieldType::Relation);
        if let Some(s) = field("production.status", &p.status, FieldType::Select)
            && !s.options.contains(&p.completed)
        {
            bad.push(FieldError::new(
                "production.completed",
                format!("`{}` is not an option of `{}`", p.completed, p.status),
            ));
        }
        // The ledger and bill of materials may be configured in the same go (a template).
        for (path, name, ok) in [
            (
                "production.ledger",
                &p.ledger,
                meta.entity_by_name(&p.ledger).is_some_and(|x| {
                    (x.id == e.id && config.ledger.is_some())
                        || x.stock.as_deref().is_some_and(|s| s.ledger.is_some())
                }),
            ),
            (
                "production.bom",
                &p.bom,
                meta.entity_by_name(&p.bom).is_some_and(|x| {
                    (x.id == e.id && config.bom.is_some())
                        || x.stock.as_deref().is_some_and(|s| s.bom.is_some())
                }),
            ),
        ] {
            if !ok {
                bad.push(FieldError::new(
                    path,
                    format!("`{name}` is not an entity with that stock configuration"),
                ));
            }
        }
    }
    errors.extend(bad);
    if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
}

/// Stores the keys as field keys (a configuration may name fields by their GraphQL names).
pub fn normalized(e: &EntityDef, mut config: StockConfig) -> StockConfig {
    let key = |k: &mut String| {
        if let Some(f) = e.field_by_graphql(k) {
            *k = f.key.to_string();
        }
    };
    if let Some(l) = &mut config.ledger {
        for k in [&mut l.item, &mut l.warehouse, &mut l.quantity, &mut l.kind] {
            key(k);
        }
        if let Some(k) = &mut l.to_warehouse {
            key(k);
        }
    }
    if let Some(b) = &mut config.bom {
        for k in [&mut b.parent, &mut b.component, &mut b.quantity] {
            key(k);
        }
    }
    if let Some(p) = &mut config.production {
        for k in [&mut p.item, &mut p.quantity, &mut p.warehouse, &mut p.status] {
            key(k);
        }
    }
    config
}

/// The upsert of `moves` into the balances, returning each balance as it is after: rows in
/// (item, warehouse) order: one order for every writer, beside the audit head's (under which
/// the store runs it).
pub fn push_upsert(buf: &mut SqlBuf, tenant_id: &str, moves: &Moves, at: chrono::DateTime<chrono::Utc>) {
    buf.push("INSERT INTO stock_balances (tenant_id, item_id, warehouse_id, quantity, updated_at) VALUES ");
    for (i, ((item, warehouse), units)) in moves.iter().enumerate() {
        buf.push(if i == 0 { "(" } else { ", (" });
        buf.bind(tenant_id.to_owned()).push(", ").bind(item.clone()).push(", ").bind(warehouse.clone());
        buf.push(", ").bind(*units).push(", ").bind_ts(at).push(")");
    }
    buf.push(
        " ON CONFLICT (tenant_id, item_id, warehouse_id) DO UPDATE SET \
         quantity = stock_balances.quantity + excluded.quantity, updated_at = excluded.updated_at \
         RETURNING item_id, warehouse_id, quantity",
    );
}

/// The numeric value of a NUMBER field in SQL.
fn number(d: Dialect, key: &super::field_key::FieldKey) -> String {
    match d {
        Dialect::Postgres => format!("CAST({} AS DOUBLE PRECISION)", text_expr(d, key)),
        Dialect::Sqlite => format!("CAST({} AS REAL)", text_expr(d, key)),
    }
}

/// One recursive statement exploding `quantity` of `item` over the bill-of-materials lines of
/// `(e, b)`: a row per path (component, quantity needed, level, whether the component has
/// lines of its own, whether the path came back to an item already on it — where it stops).
pub fn push_explosion(
    buf: &mut SqlBuf,
    tenant_id: &str,
    e: &EntityDef,
    b: &Bom,
    item: &str,
    quantity: f64,
) -> Result<()> {
    let d = buf.dialect;
    let key = |k: &str| {
        e.field_by_key(k)
            .map(|f| f.key.clone())
            .ok_or_else(|| Error::Internal(format!("bill of materials field `{k}` is gone")))
    };
    let (parent, component, qty) =
        (text_expr(d, &key(&b.parent)?), text_expr(d, &key(&b.component)?), number(d, &key(&b.quantity)?));
    let lines = |buf: &mut SqlBuf| {
        buf.push("FROM records WHERE tenant_id = ").bind(tenant_id.to_owned());
        buf.push(" AND entity_id = ").bind(e.id.clone()).push(" AND deleted_at IS NULL");
    };
    let float = if d == Dialect::Postgres { "DOUBLE PRECISION" } else { "REAL" };
    buf.push("WITH RECURSIVE bom(component, qty, level, path, cyc) AS (SELECT ").push(&component);
    buf.push(", ").push(&qty).push(" * CAST(").bind(quantity).push(" AS ").push(float).push("), 1, ");
    buf.push("'/' || ")
        .bind(item.to_owned())
        .push(" || '/' || ")
        .push(&component)
        .push(" || '/', CASE WHEN ");
    buf.push(&component).push(" = ").bind(item.to_owned()).push(" THEN 1 ELSE 0 END ");
    lines(buf);
    buf.push(" AND ").push(&parent).push(" = ").bind(item.to_owned());
    buf.push(" UNION ALL SELECT ").push(&component).push(", bom.qty * ").push(&qty).push(", bom.level + 1, ");
    buf.push("bom.path || ").push(&component).push(" || '/', CASE WHEN bom.path LIKE '%/' || ");
    buf.push(&component).push(" || '/%' THEN 1 ELSE 0 END FROM bom JOIN records ON records.tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" AND records.entity_id = ").bind(e.id.clone());
    buf.push(" AND records.deleted_at IS NULL AND ").push(&parent).push(" = bom.component");
    buf.push(" WHERE bom.cyc = 0 AND bom.level < ").push(&MAX_BOM_DEPTH.to_string()).push(") ");
    buf.push("SELECT component, CAST(qty AS ")
        .push(float)
        .push(") AS qty, level, cyc, CASE WHEN EXISTS (SELECT 1 ");
    lines(buf);
    buf.push(" AND ").push(&parent).push(" = bom.component) THEN 0 ELSE 1 END AS leaf FROM bom");
    Ok(())
}

/// One component an explosion needs: the total over every path to it, the deepest level it
/// stands on, and whether it has no lines of its own (bought, not made).
#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub component: String,
    pub quantity: f64,
    pub level: i32,
    pub leaf: bool,
}

/// One row of the explosion's statement.
pub struct PathRow {
    pub component: String,
    pub quantity: f64,
    pub level: i32,
    pub cycle: bool,
    pub leaf: bool,
}

/// The explosion's rows aggregated per component (ordered by level, then component); an
/// error when a path comes back to an item already on it or goes deeper than the bound.
pub fn aggregate(rows: Vec<PathRow>, e: &EntityDef, b: &Bom) -> Result<Vec<Requirement>> {
    if let Some(r) = rows.iter().find(|r| r.cycle || (r.level >= MAX_BOM_DEPTH && !r.leaf)) {
        return Err(Error::Validation(vec![FieldError::new(
            graphql_name(e, &b.component),
            format!(
                "the bill of materials loops through item {} (or is deeper than {MAX_BOM_DEPTH} levels)",
                r.component
            ),
        )]));
    }
    let mut out: Vec<Requirement> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|x| x.component == r.component) {
            Some(x) => {
                x.quantity += r.quantity;
                x.level = x.level.max(r.level);
            }
            None => out.push(Requirement {
                component: r.component,
                quantity: r.quantity,
                level: r.level,
                leaf: r.leaf,
            }),
        }
    }
    out.sort_by(|a, b| a.level.cmp(&b.level).then_with(|| a.component.cmp(&b.component)));
    Ok(out)
}

/// `OutboxEvent::StockBelowReorder`: a balance fell below its item's reorder level (from at
/// or above it), in the committed movement's transaction — once per crossing. The worker
/// runs the item's `stock_below_reorder` workflows on the item (`{{payload.onHand}}`…).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BelowReorder {
    pub item_entity_id: String,
    pub item_id: String,
    pub warehouse_id: String,
    pub on_hand: f64,
    pub reorder_level: f64,
}

impl super::outbox::Event for BelowReorder {
    const TOPIC: &'static str = "stock.below_reorder";
}

/// The crossings of a write: each balance an issue moved from at or above its item's reorder
/// level (`levels`: item id → level, millionths) to below it. `after`: (item, warehouse, new
/// balance) as the upsert returned them.
pub fn crossings(
    item_entity_id: &str,
    moves: &Moves,
    after: &[(String, String, i64)],
    levels: &std::collections::HashMap<String, i64>,
) -> Vec<BelowReorder> {
    after
        .iter()
        .filter_map(|(item, warehouse, now)| {
            let moved = *moves.get(&(item.clone(), warehouse.clone()))?;
            let level = *levels.get(item)?;
            let before = now - moved;
            (moved < 0 && before >= level && *now < level).then(|| BelowReorder {
                item_entity_id: item_entity_id.to_owned(),
                item_id: item.clone(),
                warehouse_id: warehouse.clone(),
                on_hand: as_number(*now),
                reorder_level: as_number(level),
            })
        })
        .collect()
}
