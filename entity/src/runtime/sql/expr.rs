//! The SQL expression of a field's value, per stored type (`FieldType::stored_as`) and dialect:
//! the one home of the casts that filters, sort keys, cursors, unique checks, groups, date
//! buckets, aggregate figures and rollups apply to a record's JSON `data`, and of the index
//! slots' generated columns that stand in for them. Each function matches (stored type,
//! dialect) exhaustively, so a new stored type does not compile until every use has its
//! expression; a new field type only needs its `Stored` (and `slot_kind`) in `meta`. A
//! FORMULA field's value is its expression's (`formula::sql`), in its result type's form.
//!
//! The texts are load-bearing: a slot's generated column (migration 22, `slot_fill`) and its
//! index only serve a statement that reads the column, and the planner matches expressions
//! textually — change a text here only together with what indexes it.

use super::super::field_key::FieldKey;
use super::super::figures::scale;
use super::super::formula;
use super::super::meta::{FieldDef, Stored};
use super::super::slot::{Slot, SlotKind};
use crate::Dialect;

/// The text value of a JSON field: `data->>'k'` / `json_extract(data, '$.k')` (on SQLite the
/// JSON number or boolean itself). The key is an identifier (`FieldKey`), written into the path
/// as it is. Date buckets, relation joins and rollup groups read it as it is.
pub fn text_expr(d: Dialect, key: &FieldKey) -> String {
    match d {
        Dialect::Postgres => format!("(data->>'{key}')"),
        Dialect::Sqlite => format!("json_extract(data, '$.{key}')"),
    }
}

/// The text value of field `f`: its stored JSON text (`text_expr`), or a formula's value in
/// its result type's stored form. Date buckets read it.
pub fn value_text(d: Dialect, f: &FieldDef) -> String {
    formula::stored_text(d, f).unwrap_or_else(|| text_expr(d, &f.key))
}

/// The slot column that holds exactly `f`'s comparable value: its ready slot, when the slot is
/// of the kind its type is indexed by on `d`.
fn comparable_slot(d: Dialect, f: &FieldDef) -> Option<Slot> {
    f.index_slot().filter(|s| f.ty.slot_kind(d) == Some(s.kind))
}

/// The value of `f` as filters compare it with a bound operand (`bind_operand`), ORDER BY and
/// cursors sort by it, and unique checks group it: numbers and decimals as `numeric` (SQLite:
/// decimals as REAL), booleans as `boolean`, the rest as text. A field with a ready slot reads
/// the slot's generated column, which holds the same value, so its index serves the statement.
pub fn comparable(d: Dialect, f: &FieldDef) -> String {
    if let Some(computed) = formula::comparable(d, f) {
        return computed;
    }
    if let Some(slot) = comparable_slot(d, f) {
        return slot.column();
    }
    let text = text_expr(d, &f.key);
    match (f.ty.stored_as(), d) {
        (Stored::Float | Stored::Decimal, Dialect::Postgres) => format!("({text}::numeric)"),
        (Stored::Bool, Dialect::Postgres) => format!("({text}::boolean)"),
        (Stored::Decimal, Dialect::Sqlite) => format!("CAST({text} AS REAL)"),
        // On SQLite `json_extract` already yields numbers and booleans as SQL values.
        (Stored::Float | Stored::Bool, Dialect::Sqlite) | (Stored::Timestamp | Stored::Text, _) => text,
    }
}

/// The value of `f` as an aggregate groups it: text on both databases, typed back in Rust
/// (`aggregate::group_value`) identically. A text slot's column already is that text, and its
/// index can feed the grouping.
pub fn group_text(d: Dialect, f: &FieldDef) -> String {
    if let Some(computed) = formula::stored_text(d, f) {
        return computed;
    }
    if let Some(slot) = comparable_slot(d, f).filter(|s| s.kind == SlotKind::Text) {
        return slot.column();
    }
    let text = text_expr(d, &f.key);
    match (f.ty.stored_as(), d) {
        (
            Stored::Float | Stored::Decimal | Stored::Bool | Stored::Timestamp | Stored::Text,
            Dialect::Postgres | Dialect::Sqlite,
        ) => format!("CAST({text} AS TEXT)"),
    }
}

/// The value of a numeric field that SUM, MIN and MAX take (aggregates, rollup totals): floats
/// as `float8` (SQLite: the JSON number); decimals exactly, as `numeric` on PostgreSQL and as
/// integer minor units at the field's scale on SQLite (`ROUND(value × 10^scale)`, exact for 15
/// significant digits). `None` for a type that has no figures.
pub fn figure(d: Dialect, f: &FieldDef) -> Option<String> {
    if f.formula.is_some() {
        return formula::figure(d, f);
    }
    let text = text_expr(d, &f.key);
    match (f.ty.stored_as(), d) {
        (Stored::Float, Dialect::Postgres) => Some(format!("({text}::float8)")),
        (Stored::Decimal, Dialect::Postgres) => Some(format!("({text}::numeric)")),
        (Stored::Float, Dialect::Sqlite) => Some(text),
        (Stored::Decimal, Dialect::Sqlite) => {
            Some(format!("CAST(ROUND(CAST({text} AS REAL) * {}) AS INTEGER)", 10i64.pow(scale(f))))
        }
        (Stored::Bool | Stored::Timestamp | Stored::Text, _) => None,
    }
}

/// The generated value column of a slot kind (`ix_<slot>`), with `{k}` for its key column
/// (`ixk_<slot>`), exactly as migration 22 created it: the value `comparable` reads from the
/// column (numbers as REAL on SQLite). `None`: no slot of the kind on `d`. Migrations are
/// history and cannot call the engine, so the migration keeps its own copy of these texts, and
/// the integration tests check the database's columns against this.
pub fn slot_fill(d: Dialect, kind: SlotKind) -> Option<&'static str> {
    match (kind, d) {
        (SlotKind::Text, Dialect::Postgres) => Some("(data ->> {k})"),
        (SlotKind::Text | SlotKind::Boolean, Dialect::Sqlite) => Some("json_extract(data, '$.' || {k})"),
        (SlotKind::Number, Dialect::Postgres) => Some("((data ->> {k})::numeric)"),
        (SlotKind::Number, Dialect::Sqlite) => Some("CAST(json_extract(data, '$.' || {k}) AS REAL)"),
        (SlotKind::Boolean, Dialect::Postgres) => Some("((data ->> {k})::boolean)"),
        (SlotKind::Array, Dialect::Postgres) => Some("(data -> {k})"),
        // SQLite has no index that answers containment of a JSON array.
        (SlotKind::Array, Dialect::Sqlite) => None,
    }
}

/// The JSON array of a MULTI_SELECT field (PostgreSQL), which containment filters compare and
/// an indexed field's GIN index holds.
pub fn containment_expr(f: &FieldDef) -> String {
    match f.index_slot().filter(|s| s.kind == SlotKind::Array) {
        Some(slot) => slot.column(),
        None => format!("(data->'{}')", f.key),
    }
}
