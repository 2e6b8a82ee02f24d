//! The one aggregation behind every rollup value: COUNT / SUM / MIN / MAX / AVG of the live
//! child records matching the rollup's filter, grouped by the parent they point at — one
//! statement per rollup field, read in the caller's transaction (so a write's own child is
//! counted). Sums and money averages stay exact as in aggregates (`aggregate::figure_exprs`:
//! `numeric` on PostgreSQL, integer minor units on SQLite; `figures::decimal_avg`); DATE and
//! DATETIME minimums and maximums compare their stored text, which orders as time does.

use std::collections::HashMap;

use serde_json::Value;

use super::{Function, Source};
use crate::pipeline::Exec;
use crate::runtime::aggregate::{figure, figure_exprs};
use crate::runtime::decimal::Decimal;
use crate::runtime::figures::{decimal_avg, scale};
use crate::runtime::filter::{Filter, Op, Target};
use crate::runtime::meta::{FieldDef, FieldType};
use crate::runtime::sql;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// A rollup's value for a parent none of whose children match: zero for COUNT and SUM,
/// nothing (null) for the others.
pub(super) fn empty(function: Function, field: &FieldDef) -> Option<Value> {
    match (function, field.ty) {
        (Function::Count, _) | (Function::Sum, FieldType::Number) => Some(Value::from(0)),
        (Function::Sum, _) => Some(Value::from(Decimal { units: 0, scale: 0 }.to_string_at(scale(field)))),
        (Function::Min | Function::Max | Function::Avg, _) => None,
    }
}

/// Whether the measured field's minimum and maximum compare as stored text.
fn dated(m: &FieldDef) -> bool {
    matches!(m.ty, FieldType::Date | FieldType::Datetime)
}

/// The values of the rollup `s` for `parents` (`None`: every parent any child points at),
/// by parent id; a parent without matching children is absent (its value is `empty`).
pub(super) async fn values(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    s: &Source<'_>,
    parents: Option<&[String]>,
) -> Result<HashMap<String, Value>> {
    let rel = Target::Field(Box::new(s.relation.clone()));
    let among = match parents {
        Some(ids) => Filter::Cond(rel, Op::In(ids.iter().cloned().map(Value::String).collect())),
        None => Filter::Cond(rel, Op::IsNull(false)),
    };
    let filter = match &s.filter {
        Some(f) => among.and(f.clone()),
        None => among,
    };
    let group = sql::group_text(d, s.relation);
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(&group).push(" AS p, COUNT(*) AS n");
    if let Some(m) = s.measure {
        let value = match (s.function, dated(m)) {
            (Function::Count, _) => format!("COUNT({})", sql::text_expr(d, &m.key)),
            (Function::Min, true) => format!("MIN({})", sql::text_expr(d, &m.key)),
            (Function::Max, true) => format!("MAX({})", sql::text_expr(d, &m.key)),
            (Function::Sum | Function::Avg, _) | (Function::Min | Function::Max, false) => {
                let [sum, min, max, count] = figure_exprs(d, m)?;
                let picked = match s.function {
                    Function::Min => min,
                    Function::Max => max,
                    Function::Count | Function::Sum | Function::Avg => sum,
                };
                if s.function == Function::Avg {
                    buf.push(", ").push(&count).push(" AS c");
                }
                picked
            }
        };
        buf.push(", ").push(&value).push(" AS v");
    }
    buf.push(" FROM records WHERE ");
    sql::push_scope_for(&mut buf, tenant_id, &s.child.id, filter.targets())?;
    buf.push(" AND ");
    sql::compile(&mut buf, &filter)?;
    buf.push(" GROUP BY ").push(&group);
    let mut out = HashMap::new();
    for row in txn.query_all(buf.into_statement()).await? {
        let Some(parent) = row.try_get::<Option<String>>("", "p")? else { continue };
        let value = match (s.function, s.measure) {
            (Function::Count, None) => Value::from(row.try_get::<i64>("", "n")?),
            (Function::Count, Some(_)) => Value::from(row.try_get::<i64>("", "v")?),
            (_, None) => continue,
            (Function::Min | Function::Max, Some(m)) if dated(m) => {
                row.try_get::<Option<String>>("", "v")?.map_or(Value::Null, Value::from)
            }
            (Function::Avg, Some(m)) => {
                let sum = figure(&row, d, m, "v")?;
                let n: i64 = row.try_get("", "c")?;
                match m.ty {
                    FieldType::Number => {
                        sum.as_f64().filter(|_| n > 0).map_or(Value::Null, |x| Value::from(x / n as f64))
                    }
                    _ => decimal_avg(&sum, n, s.field),
                }
            }
            (Function::Sum | Function::Min | Function::Max, Some(m)) => figure(&row, d, m, "v")?,
        };
        if !value.is_null() {
            out.insert(parent, value);
        }
    }
    Ok(out)
}
