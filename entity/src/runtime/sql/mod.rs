//! SQL for tenant records, in both dialects: the scope of a statement (tenant, entity, index
//! slot guards) and the compiled filter language, written into the statement buffer
//! (`crate::sql_buf`); the expression of each field's value, per stored type, is in `expr`,
//! ORDER BY and the keyset condition of cursors in `order`, record ids in `ids`. Field keys reach SQL text only as `FieldKey`s (identifiers by
//! construction); every value is a bound parameter.

use std::collections::BTreeSet;

use serde_json::Value;

use super::filter::{Filter, Op, Target};
use super::meta::Stored;
use crate::{Dialect, Error, Result};

mod expr;
mod ids;
mod order;

use crate::sql_buf::{SqlBuf, record_uuid, uuid_literal};
pub use expr::*;
pub use ids::*;
pub use order::{Direction, SortKey, parse_order, push_after, push_order_by, sort_target, sort_targets};

/// How a statement names its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityRef {
    /// A parameter: one statement text, one prepared statement and one cached plan serve every
    /// tenant. PostgreSQL plans the first executions with their values, then settles on a
    /// generic plan — cheap to run (no planning per execution), and right for what these
    /// statements do: walk the list order, probe the primary key.
    Param,
    /// A literal (validated as a UUID: it only comes from our own metadata): the statement is
    /// per entity, and its plans, the cached generic one included, are costed with the
    /// entity's own share of the table. For statements that filter, sort or group by an
    /// indexed field, whose best plan (the field's slot index, or the list order) depends on
    /// it. The tenant is a literal too: with `tenant_id = $1` a generic plan guesses the
    /// tenant's share of the table from the number of tenants, not from its statistics, and
    /// finds a plan so much worse than the custom ones that PostgreSQL plans every execution
    /// afresh (measured: 0.2–0.4 ms of planning per request on the yardstick's filter).
    Literal,
}

impl EntityRef {
    /// `Literal` when any of `targets` is a field with an index slot.
    fn for_targets<'t>(targets: impl IntoIterator<Item = &'t Target>) -> EntityRef {
        let indexed = targets.into_iter().any(|t| matches!(t, Target::Field(f) if f.index_slot().is_some()));
        if indexed { EntityRef::Literal } else { EntityRef::Param }
    }
}

/// Appends `tenant_id = ? AND entity_id = … AND deleted_at IS NULL`: the live records of one
/// entity of one tenant, the entity named as `how` says.
pub fn push_live_scope(buf: &mut SqlBuf, tenant_id: &str, entity_id: &str, how: EntityRef) -> Result<()> {
    buf.push("tenant_id = ");
    match how {
        EntityRef::Param => {
            buf.bind(tenant_id.to_owned()).push(" AND entity_id = ").bind(entity_id.to_owned());
        }
        EntityRef::Literal => {
            push_uuid_literal(buf, tenant_id, "tenant")?;
            buf.push(" AND entity_id = ");
            push_uuid_literal(buf, entity_id, "entity")?;
        }
    }
    buf.push(" AND deleted_at IS NULL");
    Ok(())
}

/// Appends ` AND ixk_<slot> = '<key>'` for every slot `targets` read: true of every record of
/// the entity, and what lets the planner use the slot's partial index. Keys (`FieldKey`s,
/// identifiers) are written as literals so that the guard stays a constant of the statement,
/// also in a generic plan.
pub fn push_slot_guards<'t>(buf: &mut SqlBuf, targets: impl IntoIterator<Item = &'t Target>) {
    let mut seen = BTreeSet::new();
    for t in targets {
        if let Target::Field(f) = t
            && let Some(slot) = f.index_slot()
            && seen.insert(slot)
        {
            buf.push(" AND ").push(&slot.key_column()).push(" = '").push_key(&f.key).push("'");
        }
    }
}

/// `push_live_scope` for a statement that reads `targets` (filters, sort keys, groups): the
/// entity named as `EntityRef::for_targets` says, and the guards of the targets' index slots
/// (`push_slot_guards`).
pub fn push_scope_for<'t>(
    buf: &mut SqlBuf,
    tenant_id: &str,
    entity_id: &str,
    targets: impl IntoIterator<Item = &'t Target>,
) -> Result<()> {
    let targets: Vec<&Target> = targets.into_iter().collect();
    push_live_scope(buf, tenant_id, entity_id, EntityRef::for_targets(targets.iter().copied()))?;
    push_slot_guards(buf, targets);
    Ok(())
}

/// A UUID of our own as a SQL literal, exactly as stored (`uuid_literal`).
fn push_uuid_literal(buf: &mut SqlBuf, id: &str, what: &str) -> Result<()> {
    buf.push("'").push(uuid_literal(id, what)?).push("'");
    Ok(())
}

/// The comparable SQL expression of a target: a system column, or a field's value as filters
/// compare it (`expr::comparable`).
pub fn target_expr(d: Dialect, t: &Target) -> String {
    match t {
        Target::Id => "id".into(),
        Target::CreatedAt => "created_at".into(),
        Target::UpdatedAt => "updated_at".into(),
        Target::Owner => "owner_id".into(),
        Target::RecordNumber => "record_number".into(),
        Target::Field(f) => comparable(d, f),
    }
}

/// The bound value of an operand.
enum Bound {
    Text(String),
    /// A record id in its stored form (`record_uuid`), compared with `records.id`.
    RecordId(String),
    Float(f64),
    Bool(bool),
    Ts(chrono::DateTime<chrono::Utc>),
}

/// An operand of a target as it compares with `target_expr`: its value and the SQL type it is
/// cast to (`None`: compared as bound).
struct Operand {
    value: Bound,
    cast: Option<&'static str>,
}

impl Operand {
    /// As an element of a JSON array, which `push_in_list` binds.
    fn into_json(self) -> Value {
        match self.value {
            Bound::Text(s) | Bound::RecordId(s) => Value::String(s),
            Bound::Float(n) => Value::from(n),
            Bound::Bool(b) => Value::Bool(b),
            Bound::Ts(ts) => Value::String(super::time::format(&ts)),
        }
    }

    /// The SQL type a PostgreSQL JSON array element (read as text) is cast to (`None`: text).
    fn pg_element_type(&self) -> Option<&'static str> {
        self.cast.or(match self.value {
            Bound::Text(_) => None,
            Bound::RecordId(_) => Some("UUID"),
            Bound::Float(_) => Some("DOUBLE PRECISION"),
            Bound::Bool(_) => Some("BOOLEAN"),
            Bound::Ts(_) => Some("TIMESTAMPTZ"),
        })
    }
}

/// The operand `v` of target `t` in dialect `d`.
fn operand(d: Dialect, t: &Target, v: &Value) -> Result<Operand> {
    let bad = || Error::BadRequest("invalid filter or cursor value".into());
    let text = |v: &Value| v.as_str().map(|s| Bound::Text(s.to_owned())).ok_or_else(bad);
    let (value, cast) = match t {
        Target::CreatedAt | Target::UpdatedAt => {
            (Bound::Ts(v.as_str().and_then(super::time::parse).ok_or_else(bad)?), None)
        }
        Target::Field(f) => match f.ty.stored_as() {
            Stored::Float => {
                let n = v.as_f64().ok_or_else(bad)?;
                match d {
                    // Bound as text and cast: numeric compares exactly with numeric.
                    Dialect::Postgres => (Bound::Text(n.to_string()), Some("NUMERIC")),
                    Dialect::Sqlite => (Bound::Float(n), None),
                }
            }
            Stored::Decimal => (text(v)?, Some(if d == Dialect::Postgres { "NUMERIC" } else { "REAL" })),
            Stored::Bool => (Bound::Bool(v.as_bool().ok_or_else(bad)?), None),
            Stored::Timestamp | Stored::Text => (text(v)?, None),
        },
        // A filter's id was checked and brought to the stored form (`value::id_operand`); a
        // cursor's is whatever the client sent back. Where `id` is a `uuid`, anything else
        // would fail the statement: it is refused as the bad input it is.
        Target::Id => match (d, v.as_str()) {
            (Dialect::Sqlite, _) => (text(v)?, None),
            (Dialect::Postgres, Some(s)) if record_uuid(s).is_some() => (Bound::RecordId(s.to_owned()), None),
            (Dialect::Postgres, _) => return Err(bad()),
        },
        _ => (text(v)?, None),
    };
    Ok(Operand { value, cast })
}

/// Binds an operand of `t`'s type so that it compares with `target_expr`.
pub fn bind_operand(buf: &mut SqlBuf, t: &Target, v: &Value) -> Result<()> {
    let o = operand(buf.dialect, t, v)?;
    if o.cast.is_some() {
        buf.push("CAST(");
    }
    match o.value {
        Bound::Text(s) => buf.bind(s),
        Bound::RecordId(s) => buf.bind_record_id(&s),
        Bound::Float(n) => buf.bind(n),
        Bound::Bool(b) => buf.bind(b),
        Bound::Ts(ts) => buf.bind_ts(ts),
    };
    if let Some(ty) = o.cast {
        buf.push(" AS ").push(ty).push(")");
    }
    Ok(())
}

/// Appends `e IN (…)` (`NOT IN` when `negate`) for the operands `list` of `t`, bound as ONE
/// JSON array whatever its length: a statement holds a bounded number of parameters (SQLite
/// 32,766, PostgreSQL 65,535), so an `in` list of one parameter per element failed past them.
/// The database reads the array with its JSON table function (`jsonb_array_elements_text`,
/// `json_each`) once per statement and hashes or probes it (a semi-join, a hashed subplan, an
/// ephemeral index) instead of comparing every row with every element; and the statement text
/// no longer depends on the list's length. `list` is not empty.
fn push_in_list(buf: &mut SqlBuf, e: &str, t: &Target, list: &[Value], negate: bool) -> Result<()> {
    let d = buf.dialect;
    let mut items = Vec::with_capacity(list.len());
    let mut element = String::new();
    for v in list {
        let o = operand(d, t, v)?;
        if element.is_empty() {
            // Every operand of one target has the same type.
            let (column, cast) = match d {
                Dialect::Postgres => ("l.v", o.pg_element_type()),
                Dialect::Sqlite => ("l.value", o.cast),
            };
            element = match cast {
                Some(ty) => format!("CAST({column} AS {ty})"),
                None => column.to_owned(),
            };
        }
        items.push(o.into_json());
    }
    buf.push(e).push(if negate { " NOT IN (" } else { " IN (" });
    // The elements as `v`, cast inside the fenced subquery (`push_fenced_ids`), so that an
    // `id` or an index slot compared with them can use its index under row-level security.
    let (function, alias) = match d {
        Dialect::Postgres => ("jsonb_array_elements_text(", ") AS l(v)"),
        Dialect::Sqlite => ("json_each(", ") AS l"),
    };
    push_fenced_ids(buf, |buf| {
        buf.push("SELECT ").push(&element).push(" AS v FROM ").push(function).bind_json(&items)?.push(alias);
        Ok(())
    })?;
    buf.push(")");
    Ok(())
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Appends a case-insensitive LIKE on `expr`.
fn push_like(buf: &mut SqlBuf, expr: &str, pattern: String) {
    match buf.dialect {
        Dialect::Postgres => {
            buf.push("(").push(expr).push(" ILIKE ").bind(pattern).push(" ESCAPE '\\')");
        }
        Dialect::Sqlite => {
            buf.push("(").push(expr).push(" LIKE ").bind(pattern).push(" ESCAPE '\\')");
        }
    }
}

/// Compiles `f` into a two-valued predicate (never NULL).
pub fn compile(buf: &mut SqlBuf, f: &Filter) -> Result<()> {
    match f {
        Filter::And(fs) | Filter::Or(fs) => {
            let (joiner, empty) =
                if matches!(f, Filter::And(_)) { (" AND ", "1=1") } else { (" OR ", "1=0") };
            if fs.is_empty() {
                buf.push(empty);
                return Ok(());
            }
            buf.push("(");
            for (i, part) in fs.iter().enumerate() {
                if i > 0 {
                    buf.push(joiner);
                }
                compile(buf, part)?;
            }
            buf.push(")");
        }
        Filter::Not(inner) => {
            buf.push("(NOT ");
            compile(buf, inner)?;
            buf.push(")");
        }
        Filter::Cond(t, op) => compile_cond(buf, t, op)?,
    }
    Ok(())
}

fn compile_cond(buf: &mut SqlBuf, t: &Target, op: &Op) -> Result<()> {
    let d = buf.dialect;
    let e = target_expr(d, t);
    let not_null = |buf: &mut SqlBuf| {
        buf.push("(").push(&e).push(" IS NOT NULL AND ");
    };
    let binary = |buf: &mut SqlBuf, sym: &str, v: &Value| -> Result<()> {
        buf.push("(").push(&e).push(" IS NOT NULL AND ").push(&e).push(sym);
        bind_operand(buf, t, v)?;
        buf.push(")");
        Ok(())
    };
    match op {
        Op::IsNull(true) => {
            buf.push("(").push(&e).push(" IS NULL)");
        }
        Op::IsNull(false) => {
            buf.push("(").push(&e).push(" IS NOT NULL)");
        }
        Op::Eq(v) => binary(buf, " = ", v)?,
        Op::Within(root, _) => {
            // The root itself, or a record below it: the closure's primary key (tenant,
            // ancestor, descendant) serves the probe. `records.tenant_id`: the outer row's.
            let below = match (t, d) {
                (Target::Id, Dialect::Postgres) => "CAST(records.id AS VARCHAR(36))".to_owned(),
                (Target::Id, Dialect::Sqlite) => "records.id".to_owned(),
                _ => e.clone(),
            };
            let Some(r) = root.as_str() else {
                return Err(Error::BadRequest("invalid within operand".into()));
            };
            buf.push("(").push(&e).push(" IS NOT NULL AND (").push(&e).push(" = ");
            bind_operand(buf, t, root)?;
            buf.push(" OR EXISTS (SELECT 1 FROM record_closure rc WHERE rc.tenant_id = records.tenant_id");
            buf.push(" AND rc.ancestor_id = ").bind(r.to_owned());
            buf.push(" AND rc.descendant_id = ").push(&below).push(")))");
        }
        Op::Neq(v) => binary(buf, " <> ", v)?,
        Op::Gt(v) => binary(buf, " > ", v)?,
        Op::Gte(v) => binary(buf, " >= ", v)?,
        Op::Lt(v) => binary(buf, " < ", v)?,
        Op::Lte(v) => binary(buf, " <= ", v)?,
        Op::In(list) | Op::NotIn(list) => {
            let negate = matches!(op, Op::NotIn(_));
            if list.is_empty() {
                if negate {
                    buf.push("(").push(&e).push(" IS NOT NULL)");
                } else {
                    buf.push("1=0");
                }
                return Ok(());
            }
            not_null(buf);
            push_in_list(buf, &e, t, list, negate)?;
            buf.push(")");
        }
        Op::Contains(s) => {
            not_null(buf);
            push_like(buf, &e, format!("%{}%", like_escape(s)));
            buf.push(")");
        }
        Op::StartsWith(s) => {
            not_null(buf);
            push_like(buf, &e, format!("{}%", like_escape(s)));
            buf.push(")");
        }
        Op::ContainsAny(items) | Op::ContainsAll(items) => {
            let Target::Field(f) = t else {
                return Err(Error::Internal("array operator on a system field".into()));
            };
            let all = matches!(op, Op::ContainsAll(_));
            if items.is_empty() {
                buf.push(if all { "(" } else { "(1=0 AND " }).push(&e).push(" IS NOT NULL)");
                return Ok(());
            }
            match d {
                Dialect::Postgres => {
                    // `(data->'k') @> [...]`: the expression of an indexed MULTI_SELECT
                    // field's GIN index (`indexes::create_statement`).
                    let contains = |buf: &mut SqlBuf, vals: &[&String]| {
                        let doc = serde_json::json!(vals);
                        buf.push(&containment_expr(f))
                            .push(" @> CAST(")
                            .bind(doc.to_string())
                            .push(" AS JSONB)");
                    };
                    // False, not NULL, without the field, as for every operator (`not` of it
                    // must hold then).
                    not_null(buf);
                    if all {
                        contains(buf, &items.iter().collect::<Vec<_>>());
                    } else {
                        buf.push("(");
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                buf.push(" OR ");
                            }
                            contains(buf, &[item]);
                        }
                        buf.push(")");
                    }
                    buf.push(")");
                }
                Dialect::Sqlite => {
                    let distinct: std::collections::BTreeSet<&String> = items.iter().collect();
                    if all {
                        buf.push("((SELECT COUNT(DISTINCT j.value) FROM json_each(records.data, '$.")
                            .push_key(&f.key)
                            .push("') j WHERE j.value IN (");
                    } else {
                        buf.push("EXISTS (SELECT 1 FROM json_each(records.data, '$.")
                            .push_key(&f.key)
                            .push("') j WHERE j.value IN (");
                    }
                    // The items as one parameter, as for `in` (`push_in_list`).
                    buf.push("SELECT l.value FROM json_each(").bind_json(&distinct)?.push(") AS l)");
                    if all {
                        buf.push(") = ").push(&distinct.len().to_string()).push(")");
                    } else {
                        buf.push(")");
                    }
                }
            }
        }
    }
    Ok(())
}
