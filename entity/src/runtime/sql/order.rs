//! ORDER BY and cursors: sort keys, their SQL, and the keyset condition "comes after this
//! row" a cursor compiles to, respecting each key's null placement (nulls last ascending,
//! first descending, on both databases).

use serde_json::Value;

use super::{bind_operand, target_expr};
use crate::runtime::filter::Target;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    pub fn flip(self) -> Direction {
        match self {
            Direction::Asc => Direction::Desc,
            Direction::Desc => Direction::Asc,
        }
    }
}

/// One ORDER BY key. Nulls sort last ascending and first descending (both databases).
#[derive(Debug, Clone)]
pub struct SortKey {
    pub target: Target,
    pub direction: Direction,
}

impl SortKey {
    /// The ORDER BY expression of a key; the record number sorts by its sequence.
    pub fn expr(&self, d: Dialect) -> String {
        match &self.target {
            Target::RecordNumber => "number".into(),
            t => target_expr(d, t),
        }
    }

    /// A stable name for cursor signatures.
    pub fn signature(&self) -> String {
        let name = match &self.target {
            Target::Id => "id".to_owned(),
            Target::CreatedAt => "createdAt".into(),
            Target::UpdatedAt => "updatedAt".into(),
            Target::Owner => "owner".into(),
            Target::RecordNumber => "recordNumber".into(),
            Target::Field(f) => f.key.to_string(),
        };
        let dir = if self.direction == Direction::Asc { "a" } else { "d" };
        format!("{name}:{dir}")
    }

    /// The value of this key on a record, as carried in cursors.
    pub fn value_of(&self, r: &crate::runtime::record::Record) -> Value {
        match &self.target {
            Target::RecordNumber => r.number.map(Value::from).unwrap_or(Value::Null),
            t => t.value_of(r).unwrap_or(Value::Null),
        }
    }

    fn bind_value(&self, buf: &mut SqlBuf, v: &Value) -> Result<()> {
        match &self.target {
            Target::RecordNumber => {
                let n = v.as_i64().ok_or_else(|| Error::BadRequest("invalid cursor".into()))?;
                buf.bind(n);
                Ok(())
            }
            t => bind_operand(buf, t, v),
        }
    }
}

/// Appends `ORDER BY …` for `keys` (the caller adds `id` as the last key). Columns that are
/// never NULL (`id`, `created_at`, `updated_at`) carry no NULLS clause: the placement is moot,
/// and each database then reads its plain index in either direction (SQLite's default puts
/// NULLs first ascending, PostgreSQL's last; an explicit non-default placement makes SQLite
/// sort instead of walking the index).
pub fn push_order_by(buf: &mut SqlBuf, keys: &[SortKey]) {
    buf.push(" ORDER BY ");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        let e = k.expr(buf.dialect);
        let never_null = matches!(k.target, Target::Id | Target::CreatedAt | Target::UpdatedAt);
        buf.push(&e).push(match (k.direction, never_null) {
            (Direction::Asc, true) => " ASC",
            (Direction::Desc, true) => " DESC",
            (Direction::Asc, false) => " ASC NULLS LAST",
            (Direction::Desc, false) => " DESC NULLS FIRST",
        });
    }
}

/// Appends the keyset predicate "comes after the row whose key values are `values`" in the
/// order given by `keys` (a lexicographic comparison that respects null placement).
pub fn push_after(buf: &mut SqlBuf, keys: &[SortKey], values: &[Value]) -> Result<()> {
    if keys.len() != values.len() {
        return Err(Error::BadRequest("invalid cursor".into()));
    }
    buf.push("(");
    for i in 0..keys.len() {
        if i > 0 {
            buf.push(" OR ");
        }
        buf.push("(");
        for j in 0..i {
            let e = keys[j].expr(buf.dialect);
            if values[j].is_null() {
                buf.push(&e).push(" IS NULL AND ");
            } else {
                buf.push(&e).push(" = ");
                keys[j].bind_value(buf, &values[j])?;
                buf.push(" AND ");
            }
        }
        let k = &keys[i];
        let e = k.expr(buf.dialect);
        match (k.direction, values[i].is_null()) {
            (Direction::Asc, true) => {
                buf.push("1=0");
            }
            (Direction::Asc, false) => {
                buf.push("(").push(&e).push(" > ");
                k.bind_value(buf, &values[i])?;
                buf.push(" OR ").push(&e).push(" IS NULL)");
            }
            (Direction::Desc, true) => {
                buf.push(&e).push(" IS NOT NULL");
            }
            (Direction::Desc, false) => {
                buf.push(&e).push(" < ");
                k.bind_value(buf, &values[i])?;
            }
        }
        buf.push(")");
    }
    buf.push(")");
    Ok(())
}
