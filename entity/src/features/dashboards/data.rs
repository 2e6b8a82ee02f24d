//! What dashboard widgets show, computed on the server under the caller's row rules, each in
//! one statement: periods ("today", "this week"…) and date buckets follow the
//! tenant's time zone; money is summed exactly. A pipeline's stages come with their option
//! labels in the caller's languages (`label`).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::{Function, Period, SortDirection, Widget, resolve};
use crate::runtime::calendar::period_range;
use crate::runtime::filter::{Filter, Target};
use crate::runtime::i18n::Languages;
use crate::runtime::meta::{EntityDef, FieldType, TenantMeta};
use crate::runtime::sql::{Direction, SortKey};
use crate::runtime::store::{ListArgs, Store};
use crate::runtime::time;
use crate::runtime::{aggregate, figures};
use crate::{Db, Error, Result};

/// What widget data is computed with.
pub struct Scope<'a> {
    pub db: &'a Db,
    pub tenant_id: &'a str,
    pub meta: &'a TenantMeta,
    pub tz: Tz,
    pub now: DateTime<Utc>,
    /// The languages option labels are shown in.
    pub langs: &'a Languages,
}

/// The label of `value`, an option of SELECT field `f`, in `langs` (the value itself when it
/// has no translation).
fn option_label(langs: &Languages, f: &crate::runtime::meta::FieldDef, value: &str) -> String {
    langs.label(value, f.option_labels.as_ref().and_then(|l| l.get(value)))
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

    /// Every figure of `e` under filter `f`, grouped by `fields` or by a date bucket: the one
    /// aggregate each counting widget asks for.
    async fn figures(
        &self,
        e: &EntityDef,
        f: Option<&Filter>,
        fields: &[Target],
        groups: (Option<&aggregate::DateGroup>, Option<&aggregate::AncestorGroup>),
    ) -> Result<Vec<figures::AggregateRow>> {
        aggregate::aggregate(self.db, self.tenant_id, e, f, fields, groups, &figures::Figures::all(e)).await
    }

    fn entity(&self, name: &str) -> Result<&EntityDef> {
        self.meta.entity_named(name).map(|e| &**e)
    }

    /// The data of one widget, for a caller whose row rule on its entity is `row`.
    pub async fn data(&self, w: &Widget, row: Option<&Filter>) -> Result<Value> {
        let e = self.entity(w.entity())?;
        match w {
            Widget::Metric { function, field, filter, period, date_field, .. } => {
                let period = period.map(|p| (p, date_field.as_deref().unwrap_or("created_at")));
                let f = self.filter(e, filter.as_ref(), period, row)?;
                let rows = self.figures(e, f.as_ref(), &[], (None, None)).await?;
                let value = rows.first().map_or(Value::Null, |r| figure(r, e, *function, field.as_deref()));
                Ok(json!({ "value": value }))
            }
            Widget::Chart {
                group_by,
                group_by_ancestor,
                date_field,
                bucket,
                function,
                field,
                filter,
                period,
                ..
            } => {
                // By a field, or by the local date bucket of `dateField`.
                let (fields, dates, key_of) = match (group_by, date_field, bucket) {
                    (Some(g), _, None) => {
                        let t = resolve(e, g).ok_or_else(|| Error::BadRequest(format!("no field `{g}`")))?;
                        (vec![t.clone()], None, t)
                    }
                    (None, Some(df), Some(b)) => {
                        let t =
                            resolve(e, df).ok_or_else(|| Error::BadRequest(format!("no field `{df}`")))?;
                        let group = aggregate::DateGroup { target: t.clone(), bucket: *b, tz: self.tz };
                        (Vec::new(), Some(group), t)
                    }
                    _ => {
                        return Err(Error::BadRequest(
                            "a chart needs `groupBy`, or `dateField` with `bucket`".into(),
                        ));
                    }
                };
                let period = period.map(|p| (p, date_field.as_deref().unwrap_or("created_at")));
                let f = self.filter(e, filter.as_ref(), period, row)?;
                // Grouped by the field's ancestor of an entity (consolidated per company…).
                let ancestor = match (group_by, group_by_ancestor) {
                    (Some(g), Some(up)) => Some(aggregate::AncestorGroup::of(e, self.meta, g, up)?),
                    _ => None,
                };
                let (fields, key) = match &ancestor {
                    Some(a) => (Vec::new(), a.name.clone()),
                    None => (fields, aggregate::group_name(&key_of)),
                };
                let rows = self.figures(e, f.as_ref(), &fields, (dates.as_ref(), ancestor.as_ref())).await?;
                let func = function.unwrap_or(Function::Count);
                let series: Vec<Value> = rows
                    .iter()
                    .map(|r| json!({"key": r.group.get(&key).cloned().unwrap_or(Value::Null), "value": figure(r, e, func, field.as_deref())}))
                    .collect();
                Ok(json!({ "series": series }))
            }
            Widget::Recent { limit, fields, filter, order_by, .. } => {
                let order = match order_by {
                    Some(o) => SortKey {
                        target: resolve(e, &o.field)
                            .ok_or_else(|| Error::BadRequest(format!("no field `{}`", o.field)))?,
                        direction: match o.direction {
                            SortDirection::Asc => Direction::Asc,
                            SortDirection::Desc => Direction::Desc,
                        },
                    },
                    None => SortKey { target: Target::CreatedAt, direction: Direction::Desc },
                };
                let n = limit.unwrap_or(5).clamp(1, 50);
                let filter = self.filter(e, filter.as_ref(), None, row)?;
                let args = ListArgs { first: Some(n), order: vec![order], filter, ..ListArgs::default() };
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
                                    r.data.get(f.key.as_str()).cloned().unwrap_or(Value::Null),
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
                let rows = self.figures(e, f.as_ref(), &[target], (None, None)).await?;
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
                        json!({"stage": o, "label": option_label(self.langs, stage, o),
                            "count": r.map_or(0, |r| r.count), "total": total})
                    })
                    .collect();
                Ok(json!({ "stages": stages }))
            }
        }
    }
}

/// A figure of an aggregate row.
fn figure(r: &figures::AggregateRow, e: &EntityDef, function: Function, field: Option<&str>) -> Value {
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
