//! Aggregates (`dealsAggregate(filter, groupBy)`): count, and sum / avg / min / max of the
//! NUMBER and CURRENCY fields a query asks for (`figures::Figures`), optionally grouped by
//! fields — one SQL statement, under the same filter (and so the same row rules) as lists. The
//! values grouped and summed are `sql::group_text` and `sql::figure`. Money stays exact:
//! PostgreSQL sums `numeric`; SQLite sums integer minor units; averages are computed from the exact sum and count, rounded half away from zero to the
//! field's scale.

use chrono::NaiveDate;
use chrono_tz::Tz;
use sea_orm::{ConnectionTrait, QueryResult};
use serde_json::{Map, Value};

use super::calendar::{self, Bucket};
use super::decimal::Decimal;
use super::figures::{AggregateRow, Figure, Figures, decimal_avg, numeric_fields, scale};
use super::filter::{Filter, Target};
pub use super::hierarchy::AncestorGroup;
use super::meta::{EntityDef, FieldDef, FieldType, Stored};
use super::sql;
use crate::sql_buf::SqlBuf;
use crate::{Db, Dialect, Error, Result};

/// The GraphQL name of a group target (its key in `group`).
pub fn group_name(t: &Target) -> String {
    match t {
        Target::Id => "id".into(),
        Target::CreatedAt => "createdAt".into(),
        Target::UpdatedAt => "updatedAt".into(),
        Target::Owner => "owner".into(),
        Target::RecordNumber => "recordNumber".into(),
        Target::Field(f) => f.graphql_name.clone(),
    }
}

/// A system timestamp column as the engine's text form (`2026-01-31T09:30:00.000Z`).
pub fn timestamp_text(d: Dialect, t: &Target) -> String {
    match d {
        Dialect::Postgres => format!(
            "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
            sql::target_expr(d, t)
        ),
        Dialect::Sqlite => sql::target_expr(d, t),
    }
}

/// The grouping expression, as text (typed back in Rust, identically on both databases).
fn group_expr(d: Dialect, t: &Target) -> String {
    match t {
        Target::Field(f) => sql::group_text(d, f),
        Target::CreatedAt | Target::UpdatedAt => timestamp_text(d, t),
        Target::Id => sql::record_id_text(d).to_owned(),
        other => sql::target_expr(d, other),
    }
}

/// A group value from its text form, typed like the field.
fn group_value(t: &Target, text: Option<String>) -> Value {
    let Some(text) = text else { return Value::Null };
    match t {
        Target::Field(f) => match f.ty.stored_as() {
            Stored::Float => text.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
            Stored::Bool => Value::Bool(text == "true" || text == "1"),
            Stored::Decimal => {
                Decimal::parse(&text).map(|d| Value::from(d.to_string_at(scale(f)))).unwrap_or(Value::Null)
            }
            Stored::Timestamp | Stored::Text => Value::String(text),
        },
        _ => Value::String(text),
    }
}

/// Sum / min / max expressions of one numeric field, and its non-null count.
pub(super) fn figure_exprs(d: Dialect, f: &FieldDef) -> Result<[String; 4]> {
    let value = sql::figure(d, f)
        .ok_or_else(|| Error::Internal(format!("no figures of a {} field", f.ty.as_str())))?;
    let text = |agg: &str| match (f.ty.stored_as(), d) {
        // numeric → text keeps every digit; SQLite integers are read as minor units.
        (Stored::Decimal, Dialect::Postgres) => format!("CAST({agg}({value}) AS TEXT)"),
        (Stored::Float, Dialect::Sqlite) => format!("CAST({agg}({value}) AS REAL)"),
        // (`sql::figure` has none of the others.)
        (Stored::Float, Dialect::Postgres)
        | (Stored::Decimal, Dialect::Sqlite)
        | (Stored::Bool | Stored::Timestamp | Stored::Text, _) => format!("{agg}({value})"),
    };
    Ok([text("SUM"), text("MIN"), text("MAX"), format!("COUNT({value})")])
}

/// Reads one figure as a JSON value of the field's GraphQL type.
pub(super) fn figure(row: &QueryResult, d: Dialect, f: &FieldDef, col: &str) -> Result<Value> {
    Ok(match (f.ty.stored_as(), d) {
        (Stored::Float, _) => row.try_get::<Option<f64>>("", col)?.map(Value::from).unwrap_or(Value::Null),
        (Stored::Bool | Stored::Timestamp | Stored::Text, _) => {
            return Err(Error::Internal(format!("no figures of a {} field", f.ty.as_str())));
        }
        (Stored::Decimal, Dialect::Postgres) => match row.try_get::<Option<String>>("", col)? {
            Some(t) => Decimal::parse(&t)
                .map(|v| Value::from(v.to_string_at(scale(f).max(v.trimmed().scale))))
                .ok_or_else(|| Error::Internal(format!("bad numeric {t}")))?,
            None => Value::Null,
        },
        (Stored::Decimal, Dialect::Sqlite) => match row.try_get::<Option<i64>>("", col)? {
            Some(units) => {
                Value::from(Decimal { units: i128::from(units), scale: scale(f) }.to_string_at(scale(f)))
            }
            None => Value::Null,
        },
    })
}

/// Grouping by the local date bucket of a date target (a DATE or DATE_TIME field,
/// `createdAt`, `updatedAt`), in the tenant's zone.
#[derive(Debug, Clone)]
pub struct DateGroup {
    pub target: Target,
    pub bucket: Bucket,
    pub tz: Tz,
}

/// Most date buckets one aggregate may produce (ask for a coarser bucket or a filter).
pub const MAX_BUCKETS: usize = 1000;

/// The date target as text: the engine's timestamp text, or the stored DATE / DATE_TIME text.
fn date_text(d: Dialect, t: &Target) -> String {
    match t {
        Target::Field(f) => sql::value_text(d, f),
        other => timestamp_text(d, other),
    }
}

/// A `CASE` naming the bucket of each record's date, or `None` when no record has one. The
/// bucket boundaries are the tenant's local midnights as instants (for DATE fields, the local
/// dates themselves), computed in Rust from the range of dates present — so both databases
/// bucket identically, DST included, without time-zone support in SQL.
async fn bucket_case(
    db: &Db,
    tenant_id: &str,
    e: &EntityDef,
    filter: Option<&Filter>,
    g: &DateGroup,
) -> Result<Option<String>> {
    let d = db.dialect;
    let expr = date_text(d, &g.target);
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT MIN(").push(&expr).push(") AS lo, MAX(").push(&expr).push(") AS hi FROM records WHERE ");
    sql::push_live_scope(&mut buf, tenant_id, &e.id, sql::EntityRef::Param)?;
    if let Some(f) = filter {
        buf.push(" AND ");
        sql::compile(&mut buf, f)?;
    }
    let txn = db.begin_tenant_read(tenant_id).await?;
    let row = txn.query_one_raw(buf.into_statement()).await?;
    txn.commit().await?;
    let text = |col: &str| -> Result<Option<String>> {
        Ok(row.as_ref().map(|r| r.try_get("", col)).transpose()?.flatten())
    };
    let (Some(lo), Some(hi)) = (text("lo")?, text("hi")?) else { return Ok(None) };
    let date_only = matches!(&g.target, Target::Field(f) if f.ty == FieldType::Date);
    let local = |s: &str| -> Option<NaiveDate> {
        if date_only {
            NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
        } else {
            super::time::parse(s).map(|t| t.with_timezone(&g.tz).date_naive())
        }
    };
    let (Some(lo), Some(hi)) = (local(&lo), local(&hi)) else { return Ok(None) };
    let mut starts = vec![calendar::bucket_start(lo, g.bucket)];
    while let Some(&last) = starts.last() {
        let next = calendar::next_bucket(last, g.bucket);
        if next > hi {
            break;
        }
        if starts.len() >= MAX_BUCKETS {
            return Err(Error::BadRequest(format!(
                "more than {MAX_BUCKETS} date buckets: use a coarser bucket or a narrower filter"
            )));
        }
        starts.push(next);
    }
    // Boundaries are generated here (digits and dashes), so they are inlined, not bound: the
    // same `CASE` appears in SELECT and GROUP BY.
    let compare = &match &g.target {
        Target::CreatedAt | Target::UpdatedAt => sql::target_expr(d, &g.target),
        _ => expr.clone(),
    };
    let bound = |day: NaiveDate| -> String {
        match &g.target {
            Target::Field(f) if f.ty == FieldType::Date => format!("'{}'", day.format("%Y-%m-%d")),
            Target::Field(_) => format!("'{}'", super::time::format(&calendar::midnight(day, g.tz))),
            _ => {
                let t = super::time::format(&calendar::midnight(day, g.tz));
                match d {
                    Dialect::Postgres => format!("CAST('{t}' AS TIMESTAMPTZ)"),
                    Dialect::Sqlite => format!("'{t}'"),
                }
            }
        }
    };
    let mut case = String::from("CASE");
    for pair in starts.windows(2) {
        case.push_str(&format!(
            " WHEN {compare} < {} THEN '{}'",
            bound(pair[1]),
            calendar::bucket_label(pair[0], g.bucket)
        ));
    }
    let last = starts.last().copied().unwrap_or(lo);
    case.push_str(&format!(
        " WHEN {compare} IS NOT NULL THEN '{}' END",
        calendar::bucket_label(last, g.bucket)
    ));
    Ok(Some(case))
}

/// The columns a numeric field asked about needs: its sum (also for an average), minimum,
/// maximum, and non-null count (for an average).
struct Wanted<'e> {
    field: &'e FieldDef,
    sum: bool,
    min: bool,
    max: bool,
    avg: bool,
}

fn wanted_figures<'e>(e: &'e EntityDef, figures: &Figures) -> Vec<Wanted<'e>> {
    numeric_fields(e)
        .into_iter()
        .map(|field| {
            let wants = |fig| figures.wants(fig, &field.graphql_name);
            let avg = wants(Figure::Avg);
            Wanted {
                field,
                sum: wants(Figure::Sum) || avg,
                min: wants(Figure::Min),
                max: wants(Figure::Max),
                avg,
            }
        })
        .filter(|w| w.sum || w.min || w.max)
        .collect()
}

/// The statement of an aggregate without date buckets (what `aggregate` runs; public so that
/// the EXPLAIN tests pin the plan of exactly the SQL the engine issues).
pub fn statement(
    d: Dialect,
    tenant_id: &str,
    e: &EntityDef,
    filter: Option<&Filter>,
    group_by: &[Target],
    figures: &Figures,
) -> Result<sea_orm::Statement> {
    select(d, tenant_id, e, filter, group_by, [None, None], &wanted_figures(e, figures))
}

fn select(
    d: Dialect,
    tenant_id: &str,
    e: &EntityDef,
    filter: Option<&Filter>,
    group_by: &[Target],
    // A date bucket's CASE (`gd`) and an ancestor's lookup (`ga`, `hierarchy::AncestorGroup`).
    [case, ancestor]: [Option<&str>; 2],
    numeric: &[Wanted<'_>],
) -> Result<sea_orm::Statement> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT COUNT(*) AS n");
    for (i, t) in group_by.iter().enumerate() {
        buf.push(", ").push(&group_expr(d, t)).push(&format!(" AS g{i}"));
    }
    if let Some(c) = case {
        buf.push(", ").push(c).push(" AS gd");
    }
    if let Some(a) = ancestor {
        buf.push(", ").push(a).push(" AS ga");
    }
    for (i, w) in numeric.iter().enumerate() {
        let [sum, min, max, count] = figure_exprs(d, w.field)?;
        for (wanted, expr, col) in
            [(w.sum, sum, "s"), (w.min, min, "mn"), (w.max, max, "mx"), (w.avg, count, "c")]
        {
            if wanted {
                buf.push(&format!(", {expr} AS {col}{i}"));
            }
        }
    }
    buf.push(" FROM records WHERE ");
    let tested = filter.map(Filter::targets).unwrap_or_default();
    sql::push_scope_for(&mut buf, tenant_id, &e.id, tested.into_iter().chain(group_by))?;
    if let Some(f) = filter {
        buf.push(" AND ");
        sql::compile(&mut buf, f)?;
    }
    if !group_by.is_empty() || case.is_some() || ancestor.is_some() {
        let mut cols: Vec<String> = (0..group_by.len()).map(|i| format!("g{i}")).collect();
        let mut exprs: Vec<String> = group_by.iter().map(|t| group_expr(d, t)).collect();
        for (col, expr) in [("gd", case), ("ga", ancestor)] {
            if let Some(x) = expr {
                cols.push(col.into());
                exprs.push(x.to_owned());
            }
        }
        buf.push(" GROUP BY ").push(&exprs.join(", "));
        let order: Vec<String> = cols.iter().map(|c| format!("{c} ASC NULLS LAST")).collect();
        buf.push(" ORDER BY ").push(&order.join(", "));
    }
    Ok(buf.into_statement())
}

/// Runs the aggregate of `e`'s live records matching `filter`, grouped by `group_by` and, when
/// given, by a date bucket.
pub async fn aggregate(
    db: &Db,
    tenant_id: &str,
    e: &EntityDef,
    filter: Option<&Filter>,
    group_by: &[Target],
    (date_group, ancestor): (Option<&DateGroup>, Option<&AncestorGroup>),
    figures: &Figures,
) -> Result<Vec<AggregateRow>> {
    let d = db.dialect;
    let ancestor_expr = ancestor.map(|a| a.expr(d)).transpose()?;
    let numeric = wanted_figures(e, figures);
    let case = match date_group {
        Some(g) => match bucket_case(db, tenant_id, e, filter, g).await? {
            Some(c) => Some(c),
            // Nothing dated to bucket: no groups.
            None => return Ok(Vec::new()),
        },
        None => None,
    };
    let txn = db.begin_tenant_read(tenant_id).await?;
    // All live records, by at most one SELECT field: the rollups may know the answer.
    let single = match group_by {
        [] => Some(None),
        [Target::Field(f)] if f.ty == FieldType::Select => Some(Some(&**f)),
        _ => None,
    };
    if let Some(group) = single.filter(|_| filter.is_none() && case.is_none() && ancestor.is_none())
        && let Some(rows) = super::rollups::answer(&txn, d, tenant_id, e, group, figures).await?
    {
        txn.commit().await?;
        return Ok(rows);
    }
    let statement =
        select(d, tenant_id, e, filter, group_by, [case.as_deref(), ancestor_expr.as_deref()], &numeric)?;
    let rows = txn.query_all_raw(statement).await?;
    txn.commit().await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let count: i64 = row.try_get("", "n")?;
        let mut r = AggregateRow {
            group: Map::new(),
            count,
            sum: Map::new(),
            avg: Map::new(),
            min: Map::new(),
            max: Map::new(),
        };
        for (i, t) in group_by.iter().enumerate() {
            let text: Option<String> = row.try_get("", &format!("g{i}"))?;
            r.group.insert(group_name(t), group_value(t, text));
        }
        if let Some(g) = date_group {
            let label: Option<String> = row.try_get("", "gd")?;
            r.group.insert(group_name(&g.target), label.map(Value::String).unwrap_or(Value::Null));
        }
        if let Some(a) = ancestor {
            let id: Option<String> = row.try_get("", "ga")?;
            r.group.insert(a.name.clone(), id.map(Value::String).unwrap_or(Value::Null));
        }
        for (i, w) in numeric.iter().enumerate() {
            let (f, name) = (w.field, &w.field.graphql_name);
            if w.sum {
                let sum = figure(row, d, f, &format!("s{i}"))?;
                if w.avg {
                    let non_null: i64 = row.try_get("", &format!("c{i}"))?;
                    let avg = match f.ty {
                        FieldType::Number => sum
                            .as_f64()
                            .filter(|_| non_null > 0)
                            .map(|s| Value::from(s / non_null as f64))
                            .unwrap_or(Value::Null),
                        _ => decimal_avg(&sum, non_null, f),
                    };
                    r.avg.insert(name.clone(), avg);
                }
                r.sum.insert(name.clone(), sum);
            }
            if w.min {
                r.min.insert(name.clone(), figure(row, d, f, &format!("mn{i}"))?);
            }
            if w.max {
                r.max.insert(name.clone(), figure(row, d, f, &format!("mx{i}"))?);
            }
        }
        out.push(r);
    }
    Ok(out)
}
