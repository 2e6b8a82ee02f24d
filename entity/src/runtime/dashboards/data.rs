//! What dashboard widgets show, computed on the server under the caller's row rules: periods
//! ("today", "this week"…) and date buckets follow the tenant's time zone; money is summed
//! exactly.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value, json};

use super::{Bucket, Function, Period, Widget, resolve};
use crate::runtime::aggregate;
use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::{EntityDef, FieldType, TenantMeta};
use crate::runtime::sql::{self, Direction, SortKey, SqlBuf};
use crate::runtime::store::{ListArgs, Store};
use crate::runtime::time;
use crate::runtime::value::Decimal;
use crate::{Db, Error, Result};

/// The instants `[start, end)` of a period around `now` in `tz` (`None`: no bound).
pub fn period_range(period: Period, now: DateTime<Utc>, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let local = now.with_timezone(&tz).date_naive();
    let (start, end) = match period {
        Period::All => return None,
        Period::Today => (local, local + Duration::days(1)),
        Period::ThisWeek => {
            let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
            (monday, monday + Duration::days(7))
        }
        Period::ThisMonth => (first_of(local.year(), local.month()), next_month(local.year(), local.month())),
        Period::ThisQuarter => {
            let q = (local.month() - 1) / 3 * 3 + 1;
            (first_of(local.year(), q), next_month(local.year(), q + 2))
        }
        Period::ThisYear => (first_of(local.year(), 1), first_of(local.year() + 1, 1)),
    };
    Some((midnight(start, tz), midnight(end, tz)))
}

fn first_of(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default()
}

fn next_month(year: i32, month: u32) -> NaiveDate {
    if month == 12 { first_of(year + 1, 1) } else { first_of(year, month + 1) }
}

/// The first instant of a local day (the earliest, when midnight is skipped or repeated).
fn midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // A zone that skips midnight (DST at 00:00): the day starts an hour later.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// The bucket label of a local date: `2026-11-21`, `2026-W47`, `2026-11`, `2026-Q4`, `2026`.
pub fn bucket_label(date: NaiveDate, bucket: Bucket) -> String {
    match bucket {
        Bucket::Day => date.format("%Y-%m-%d").to_string(),
        Bucket::Week => {
            let w = date.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        Bucket::Month => date.format("%Y-%m").to_string(),
        Bucket::Quarter => format!("{}-Q{}", date.year(), (date.month() - 1) / 3 + 1),
        Bucket::Year => date.year().to_string(),
    }
}

/// What widget data is computed with.
pub struct Scope<'a> {
    pub db: &'a Db,
    pub tenant_id: &'a str,
    pub meta: &'a TenantMeta,
    pub tz: Tz,
    pub now: DateTime<Utc>,
}

/// A filter of a date target within `[start, end)`: instants for DATE_TIME and system
/// timestamps, local dates for DATE fields.
fn range_filter(target: &Target, name: &str, (start, end): (DateTime<Utc>, DateTime<Utc>), tz: Tz) -> Value {
    let date_only = matches!(target, Target::Field(f) if f.ty == FieldType::Date);
    let show = |t: DateTime<Utc>| {
        if date_only {
            t.with_timezone(&tz).date_naive().format("%Y-%m-%d").to_string()
        } else {
            time::format(&t)
        }
    };
    let key = match target {
        Target::CreatedAt => "createdAt".to_owned(),
        Target::UpdatedAt => "updatedAt".to_owned(),
        Target::Field(f) => f.graphql_name.clone(),
        _ => name.to_owned(),
    };
    json!({ key: {"gte": show(start), "lt": show(end)} })
}

impl Scope<'_> {
    /// The widget's filter, its period and the caller's row rule, combined.
    fn filter(
        &self,
        e: &EntityDef,
        filter: Option<&Value>,
        period: Option<(Period, &str)>,
        row: Option<&Filter>,
    ) -> Result<Option<Filter>> {
        let mut parts = Vec::new();
        if let Some(f) = filter {
            parts.push(Filter::parse(e, f)?);
        }
        if let Some((p, field)) = period
            && let (Some(range), Some(target)) = (period_range(p, self.now, self.tz), resolve(e, field))
        {
            parts.push(Filter::parse(e, &range_filter(&target, field, range, self.tz))?);
        }
        parts.extend(row.cloned());
        Ok(parts.into_iter().reduce(Filter::and))
    }

    fn entity(&self, name: &str) -> Result<&EntityDef> {
        self.meta
            .entity_by_name(name)
            .map(|e| &**e)
            .ok_or_else(|| Error::NotFound(format!("entity `{name}`")))
    }

    /// The data of one widget, for a caller whose row rule on its entity is `row`.
    pub async fn data(&self, w: &Widget, row: Option<&Filter>) -> Result<Value> {
        let e = self.entity(w.entity())?;
        match w {
            Widget::Metric { function, field, filter, period, date_field, .. } => {
                let period = period.map(|p| (p, date_field.as_deref().unwrap_or("created_at")));
                let f = self.filter(e, filter.as_ref(), period, row)?;
                let rows = aggregate::aggregate(self.db, self.tenant_id, e, f.as_ref(), &[]).await?;
                let value = rows.first().map_or(Value::Null, |r| figure(r, e, *function, field.as_deref()));
                Ok(json!({ "value": value }))
            }
            Widget::Chart { group_by: Some(g), function, field, filter, period, date_field, .. } => {
                let target = resolve(e, g).ok_or_else(|| Error::BadRequest(format!("no field `{g}`")))?;
                let period = period.map(|p| (p, date_field.as_deref().unwrap_or("created_at")));
                let f = self.filter(e, filter.as_ref(), period, row)?;
                let rows = aggregate::aggregate(
                    self.db,
                    self.tenant_id,
                    e,
                    f.as_ref(),
                    std::slice::from_ref(&target),
                )
                .await?;
                let key = match &target {
                    Target::Field(f) => f.graphql_name.clone(),
                    Target::CreatedAt => "createdAt".into(),
                    _ => "updatedAt".into(),
                };
                let func = function.unwrap_or(Function::Count);
                let series: Vec<Value> = rows
                    .iter()
                    .map(|r| json!({"key": r.group.get(&key).cloned().unwrap_or(Value::Null), "value": figure(r, e, func, field.as_deref())}))
                    .collect();
                Ok(json!({ "series": series }))
            }
            Widget::Chart {
                date_field: Some(df), bucket: Some(b), function, field, filter, period, ..
            } => {
                let period = period.map(|p| (p, df.as_str()));
                let f = self.filter(e, filter.as_ref(), period, row)?;
                let series = self
                    .buckets(e, df, *b, function.unwrap_or(Function::Count), field.as_deref(), f.as_ref())
                    .await?;
                Ok(json!({ "series": series }))
            }
            Widget::Chart { .. } => {
                Err(Error::BadRequest("a chart needs `groupBy`, or `dateField` with `bucket`".into()))
            }
            Widget::Recent { limit, fields, .. } => {
                let order = SortKey { target: Target::CreatedAt, direction: Direction::Desc };
                let n = limit.unwrap_or(5).clamp(1, 50);
                let args =
                    ListArgs { first: Some(n), order: vec![order], ..ListArgs::default() }.restrict(row);
                let page = Store::new(self.db, self.tenant_id).list(e, &args, n).await?;
                let records: Vec<Value> = page
                    .records
                    .iter()
                    .map(|r| {
                        let mut m = Map::new();
                        m.insert("id".into(), json!(r.id));
                        m.insert("recordNumber".into(), json!(r.record_number));
                        m.insert("createdAt".into(), json!(time::format(&r.created_at)));
                        for name in fields {
                            if let Some(f) = e.field_by_key(name).or_else(|| e.field_by_graphql(name)) {
                                m.insert(
                                    f.graphql_name.clone(),
                                    r.data.get(&f.key).cloned().unwrap_or(Value::Null),
                                );
                            }
                        }
                        Value::Object(m)
                    })
                    .collect();
                Ok(json!({ "records": records }))
            }
            Widget::Pipeline { stage_field, amount_field, filter, .. } => {
                let stage = e
                    .field_by_key(stage_field)
                    .or_else(|| e.field_by_graphql(stage_field))
                    .ok_or_else(|| Error::BadRequest(format!("no field `{stage_field}`")))?;
                let f = self.filter(e, filter.as_ref(), None, row)?;
                let target = Target::Field(Box::new(stage.clone()));
                let rows = aggregate::aggregate(self.db, self.tenant_id, e, f.as_ref(), &[target]).await?;
                let amount =
                    amount_field.as_deref().and_then(|a| e.field_by_key(a).or_else(|| e.field_by_graphql(a)));
                let stages: Vec<Value> = stage
                    .options
                    .iter()
                    .map(|o| {
                        let r = rows.iter().find(|r| r.group.get(&stage.graphql_name) == Some(&json!(o)));
                        let total = match (r, amount) {
                            (Some(r), Some(a)) => r.sum.get(&a.graphql_name).cloned().unwrap_or(Value::Null),
                            (None, Some(a)) if a.ty == FieldType::Currency => json!("0.00"),
                            (None, Some(_)) => json!(0),
                            _ => Value::Null,
                        };
                        json!({"stage": o, "count": r.map_or(0, |r| r.count), "total": total})
                    })
                    .collect();
                Ok(json!({ "stages": stages }))
            }
        }
    }

    /// Values of matching records grouped by the local date bucket of `date_field`.
    async fn buckets(
        &self,
        e: &EntityDef,
        date_field: &str,
        bucket: Bucket,
        function: Function,
        field: Option<&str>,
        filter: Option<&Filter>,
    ) -> Result<Vec<Value>> {
        let d = self.db.dialect;
        let target =
            resolve(e, date_field).ok_or_else(|| Error::BadRequest(format!("no field `{date_field}`")))?;
        let date_expr = match &target {
            Target::Field(f) => sql::text_expr(d, &f.key),
            Target::CreatedAt | Target::UpdatedAt => aggregate::timestamp_text(d, &target),
            _ => return Err(Error::BadRequest("not a date".into())),
        };
        let value_def = field.and_then(|f| e.field_by_key(f).or_else(|| e.field_by_graphql(f)));
        let value_expr = value_def.map_or_else(|| "NULL".to_owned(), |f| sql::text_expr(d, &f.key));
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT CAST(").push(&date_expr).push(" AS TEXT) AS t, CAST(").push(&value_expr);
        buf.push(" AS TEXT) AS v FROM records WHERE ");
        sql::push_live_scope(&mut buf, self.tenant_id, &e.id)?;
        if let Some(f) = filter {
            buf.push(" AND ");
            sql::compile(&mut buf, f)?;
        }
        let txn = self.db.begin_tenant(self.tenant_id, false).await?;
        let rows = txn.query_all_raw(buf.into_statement()).await?;
        txn.commit().await?;
        // label → (count, values)
        let mut groups: std::collections::BTreeMap<String, (i64, Vec<String>)> = Default::default();
        for r in &rows {
            let Some(t) = r.try_get::<Option<String>>("", "t")? else { continue };
            let date = match time::parse(&t) {
                Some(instant) => instant.with_timezone(&self.tz).date_naive(),
                None => match NaiveDate::parse_from_str(t.get(..10).unwrap_or_default(), "%Y-%m-%d") {
                    Ok(date) => date,
                    Err(_) => continue,
                },
            };
            let g = groups.entry(bucket_label(date, bucket)).or_default();
            g.0 += 1;
            if let Some(v) = r.try_get::<Option<String>>("", "v")? {
                g.1.push(v);
            }
        }
        Ok(groups
            .into_iter()
            .map(|(label, (count, values))| {
                let value = match (function, value_def) {
                    (Function::Count, _) | (_, None) => json!(count),
                    (func, Some(f)) => combine(func, f.ty == FieldType::Currency, &values),
                };
                json!({"key": label, "value": value})
            })
            .collect())
    }
}

/// A figure of an aggregate row.
fn figure(r: &aggregate::AggregateRow, e: &EntityDef, function: Function, field: Option<&str>) -> Value {
    let name = field
        .and_then(|f| e.field_by_key(f).or_else(|| e.field_by_graphql(f)))
        .map(|f| f.graphql_name.clone());
    let pick = |m: &Map<String, Value>| name.as_ref().and_then(|n| m.get(n)).cloned().unwrap_or(Value::Null);
    match function {
        Function::Count => json!(r.count),
        Function::Sum => pick(&r.sum),
        Function::Avg => pick(&r.avg),
        Function::Min => pick(&r.min),
        Function::Max => pick(&r.max),
    }
}

/// Sum / avg / min / max of text values: exact decimals for money, floats for numbers.
fn combine(function: Function, money: bool, values: &[String]) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    if money {
        let ds: Vec<Decimal> = values.iter().filter_map(|v| Decimal::parse(v)).collect();
        let scale = ds.iter().map(|d| d.scale).max().unwrap_or(2).max(2);
        let units: Vec<i128> = ds.iter().map(|d| d.units * 10i128.pow(scale - d.scale)).collect();
        let sum: i128 = units.iter().sum();
        let out = match function {
            Function::Sum => sum,
            Function::Min => units.iter().copied().min().unwrap_or_default(),
            Function::Max => units.iter().copied().max().unwrap_or_default(),
            Function::Avg => {
                let n = units.len() as i128;
                let (q, r) = (sum / n, sum % n);
                if 2 * r.abs() >= n { q + sum.signum() } else { q }
            }
            Function::Count => units.len() as i128,
        };
        return json!(Decimal { units: out, scale }.to_string_at(scale));
    }
    let xs: Vec<f64> = values.iter().filter_map(|v| v.parse().ok()).collect();
    let sum: f64 = xs.iter().sum();
    match function {
        Function::Sum => json!(sum),
        Function::Avg => json!(sum / xs.len().max(1) as f64),
        Function::Min => json!(xs.iter().copied().fold(f64::INFINITY, f64::min)),
        Function::Max => json!(xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
        Function::Count => json!(xs.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_follow_the_tenant_zone() {
        let tz: Tz = "Asia/Kolkata".parse().expect("zone");
        // 20:00 UTC on the 21st is already the 22nd in India.
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 20, 0, 0).unwrap();
        let (s, e) = period_range(Period::Today, now, tz).expect("range");
        assert_eq!(
            (time::format(&s), time::format(&e)),
            ("2026-11-21T18:30:00.000Z".into(), "2026-11-22T18:30:00.000Z".into())
        );
        let (s, _) = period_range(Period::ThisWeek, now, tz).expect("range");
        assert_eq!(time::format(&s), "2026-11-15T18:30:00.000Z");
        let (s, e) = period_range(Period::ThisQuarter, now, tz).expect("range");
        assert_eq!(
            (s.date_naive().to_string(), e.date_naive().to_string()),
            ("2026-09-30".into(), "2026-12-31".into())
        );
        assert!(period_range(Period::All, now, tz).is_none());
    }

    #[test]
    fn bucket_labels() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        assert_eq!(bucket_label(d, Bucket::Day), "2026-11-21");
        assert_eq!(bucket_label(d, Bucket::Week), "2026-W47");
        assert_eq!(bucket_label(d, Bucket::Month), "2026-11");
        assert_eq!(bucket_label(d, Bucket::Quarter), "2026-Q4");
        assert_eq!(bucket_label(d, Bucket::Year), "2026");
    }

    #[test]
    fn money_is_combined_exactly() {
        let v = vec!["0.10".to_owned(), "0.20".to_owned(), "1999.90".to_owned()];
        assert_eq!(combine(Function::Sum, true, &v), json!("2000.20"));
        assert_eq!(combine(Function::Avg, true, &v), json!("666.73"));
        assert_eq!(combine(Function::Max, true, &v), json!("1999.90"));
    }
}
