//! ORDER BY and cursors: sort keys, their SQL, and the keyset condition "comes after this
//! row" a cursor compiles to, respecting each key's null placement (nulls last ascending,
//! first descending, on both databases).

use serde_json::Value;

use super::{bind_operand, target_expr};
use crate::runtime::filter::Target;
use crate::runtime::meta::EntityDef;
use crate::runtime::naming;
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

/// The system fields an entity's `…Field` enum starts with.
fn system_targets() -> [(&'static str, Target); 5] {
    [
        ("ID", Target::Id),
        ("CREATED_AT", Target::CreatedAt),
        ("UPDATED_AT", Target::UpdatedAt),
        ("RECORD_NUMBER", Target::RecordNumber),
        ("OWNER", Target::Owner),
    ]
}

/// The values of an entity's `…Field` enum and what each sorts (or groups) by.
pub fn sort_targets(entity: &EntityDef) -> Vec<(String, Target)> {
    let mut out: Vec<(String, Target)> =
        system_targets().into_iter().map(|(n, t)| (n.to_owned(), t)).collect();
    for f in entity.fields.iter().filter(|f| f.ty.is_sortable()) {
        out.push((naming::screaming(&f.graphql_name), Target::Field(Box::new(f.clone()))));
    }
    out
}

/// The target named `name` in `sort_targets(entity)`, without building the others (a list
/// request, or a Daily Focus rule, reads its order this way).
pub fn sort_target(entity: &EntityDef, name: &str) -> Option<Target> {
    if let Some((_, t)) = system_targets().into_iter().find(|(n, _)| *n == name) {
        return Some(t);
    }
    let f = entity
        .fields
        .iter()
        .filter(|f| f.ty.is_sortable())
        .find(|f| naming::screaming(&f.graphql_name) == name)?;
    Some(Target::Field(Box::new(f.clone())))
}

/// An order as `<entities>(orderBy:)` takes it, as JSON (`[{"field": "AMOUNT", "direction":
/// "DESC"}]`, direction `ASC` when left out): `BAD_REQUEST` naming what cannot order.
pub fn parse_order(entity: &EntityDef, items: &[Value]) -> Result<Vec<SortKey>> {
    items
        .iter()
        .map(|item| {
            let field = item.get("field").and_then(Value::as_str).unwrap_or_default();
            let target = sort_target(entity, field)
                .ok_or_else(|| Error::BadRequest(format!("cannot order by {field}")))?;
            let direction = match item.get("direction").and_then(Value::as_str) {
                None | Some("ASC") => Direction::Asc,
                Some("DESC") => Direction::Desc,
                Some(other) => {
                    return Err(Error::BadRequest(format!("unknown direction {other} (ASC, DESC)")));
                }
            };
            Ok(SortKey { target, direction })
        })
        .collect()
}
