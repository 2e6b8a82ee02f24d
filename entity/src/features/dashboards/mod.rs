//! Dashboards: named sets of widgets per tenant (from a template or made by hand), shown to the
//! roles they list. Widget data is computed on the server, under the caller's row rules, in
//! the tenant's time zone: metric cards (count / sum / avg / min / max, optionally over "today",
//! "this week"… on a date field), charts by a field or by date bucket (day, week, month,
//! quarter, year), recent records (filtered and ordered as the widget says), and a pipeline
//! by stage with totals. This module holds the definitions and their storage; [`data`]
//! computes what widgets show.

pub mod data;

pub use crate::runtime::calendar::{Bucket, Period};
pub use data::Scope;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::{EntityDef, FieldType, TenantMeta};
use crate::runtime::sql::{self, json_col};
use crate::runtime::time;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, FieldError, Result};

/// Most widgets on one dashboard.
pub const MAX_WIDGETS: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl Function {
    pub const ALL: [Function; 5] =
        [Function::Count, Function::Sum, Function::Avg, Function::Min, Function::Max];
}

/// The order of a recent-records widget: a field (or `created_at` / `updated_at`) and a
/// direction, `desc` unless said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecentOrder {
    pub field: String,
    #[serde(default)]
    pub direction: SortDirection,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortDirection {
    Asc,
    #[default]
    Desc,
}

/// One widget's definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Widget {
    Metric {
        title: Map<String, Value>,
        entity: String,
        function: Function,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        period: Option<Period>,
        #[serde(rename = "dateField", default, skip_serializing_if = "Option::is_none")]
        date_field: Option<String>,
    },
    Chart {
        title: Map<String, Value>,
        entity: String,
        #[serde(rename = "groupBy", default, skip_serializing_if = "Option::is_none")]
        group_by: Option<String>,
        #[serde(rename = "dateField", default, skip_serializing_if = "Option::is_none")]
        date_field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bucket: Option<Bucket>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        function: Option<Function>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        period: Option<Period>,
    },
    /// The latest records (newest first), or the first ones in `orderBy`, of those `filter`
    /// keeps: "open activities, soonest due first" is a filter and an order.
    Recent {
        title: Map<String, Value>,
        entity: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u64>,
        #[serde(default)]
        fields: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Value>,
        #[serde(rename = "orderBy", default, skip_serializing_if = "Option::is_none")]
        order_by: Option<RecentOrder>,
    },
    Pipeline {
        title: Map<String, Value>,
        entity: String,
        #[serde(rename = "stageField")]
        stage_field: String,
        #[serde(rename = "amountField", default, skip_serializing_if = "Option::is_none")]
        amount_field: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<Value>,
    },
}

impl Widget {
    pub fn kind(&self) -> &'static str {
        match self {
            Widget::Metric { .. } => "METRIC",
            Widget::Chart { .. } => "CHART",
            Widget::Recent { .. } => "RECENT",
            Widget::Pipeline { .. } => "PIPELINE",
        }
    }

    pub fn title(&self) -> &Map<String, Value> {
        match self {
            Widget::Metric { title, .. }
            | Widget::Chart { title, .. }
            | Widget::Recent { title, .. }
            | Widget::Pipeline { title, .. } => title,
        }
    }

    pub fn entity(&self) -> &str {
        match self {
            Widget::Metric { entity, .. }
            | Widget::Chart { entity, .. }
            | Widget::Recent { entity, .. }
            | Widget::Pipeline { entity, .. } => entity,
        }
    }

    /// The widget's own filter, if it has one.
    pub fn filter(&self) -> Option<&Value> {
        match self {
            Widget::Metric { filter, .. }
            | Widget::Chart { filter, .. }
            | Widget::Recent { filter, .. }
            | Widget::Pipeline { filter, .. } => filter.as_ref(),
        }
    }

    /// Checks names against the tenant's entities; errors are prefixed with `at`.
    fn validate(&self, meta: &TenantMeta, at: &str, errors: &mut Vec<FieldError>) {
        let Some(e) = meta.entity_by_name(self.entity()) else {
            errors.push(FieldError::new(format!("{at}.entity"), format!("no entity `{}`", self.entity())));
            return;
        };
        // A filter that cannot be read is refused now, not each time the dashboard is shown.
        if let Some(Err(Error::Validation(found))) = self.filter().map(|f| Filter::parse(e, f)) {
            errors.extend(found.into_iter().map(|f| FieldError::new(format!("{at}.{}", f.field), f.message)));
        }
        let mut need = |name: &str, path: &str, ok: fn(FieldType) -> bool| match resolve(e, name) {
            Some(Target::Field(f)) if !ok(f.ty) => {
                errors.push(FieldError::new(format!("{at}.{path}"), format!("`{name}` has the wrong type")))
            }
            Some(_) => {}
            None => errors.push(FieldError::new(format!("{at}.{path}"), format!("no field `{name}`"))),
        };
        let numeric = |t: FieldType| matches!(t, FieldType::Number | FieldType::Currency);
        let dated = |t: FieldType| matches!(t, FieldType::Date | FieldType::Datetime);
        let any = |_: FieldType| true;
        match self {
            Widget::Metric { function, field, date_field, .. } => {
                if *function != Function::Count {
                    need(field.as_deref().unwrap_or_default(), "field", numeric);
                }
                if let Some(df) = date_field {
                    need(df, "dateField", dated);
                }
            }
            Widget::Chart { group_by, date_field, bucket, function, field, .. } => {
                match (group_by, date_field, bucket) {
                    (Some(g), None, None) => need(g, "groupBy", any),
                    (None, Some(df), Some(_)) => need(df, "dateField", dated),
                    // An empty name is reported as a missing field of the chart.
                    _ => need("", "groupBy", any),
                }
                if function.is_some_and(|f| f != Function::Count) {
                    need(field.as_deref().unwrap_or_default(), "field", numeric);
                }
            }
            Widget::Recent { fields, order_by, .. } => {
                for f in fields {
                    need(f, "fields", any);
                }
                if let Some(o) = order_by {
                    need(&o.field, "orderBy.field", FieldType::is_sortable);
                }
            }
            Widget::Pipeline { stage_field, amount_field, .. } => {
                need(stage_field, "stageField", |t| t == FieldType::Select);
                if let Some(a) = amount_field {
                    need(a, "amountField", numeric);
                }
            }
        }
    }
}

/// A field by key or GraphQL name, or the system `created_at` / `updated_at`.
pub(crate) fn resolve(e: &EntityDef, name: &str) -> Option<Target> {
    match name {
        "created_at" | "createdAt" => Some(Target::CreatedAt),
        "updated_at" | "updatedAt" => Some(Target::UpdatedAt),
        _ => e
            .field_by_key(name)
            .or_else(|| e.field_by_graphql(name))
            .map(|f| Target::Field(Box::new(f.clone()))),
    }
}

/// A dashboard as templates and `createDashboard` describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardSpec {
    pub key: String,
    pub name: Map<String, Value>,
    #[serde(default)]
    pub roles: Vec<String>,
    pub widgets: Vec<Widget>,
}

impl DashboardSpec {
    pub fn validate(&self, meta: &TenantMeta) -> Result<()> {
        let mut errors = Vec::new();
        if !crate::runtime::naming::is_identifier(&self.key) {
            errors.push(FieldError::new("key", "must be a snake_case identifier"));
        }
        if self.name.get("en").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
            errors.push(FieldError::new("name", "needs an English name (`en`)"));
        }
        if self.widgets.len() > MAX_WIDGETS {
            errors.push(FieldError::new("widgets", format!("at most {MAX_WIDGETS}")));
        }
        for (i, w) in self.widgets.iter().enumerate() {
            w.validate(meta, &format!("widgets[{i}]"), &mut errors);
        }
        if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
    }
}

/// A stored dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub id: String,
    pub tenant_id: String,
    pub spec: DashboardSpec,
    /// The template that brought it.
    pub template: Option<String>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Dashboard {
    pub fn from_spec(
        tenant_id: &str,
        spec: &DashboardSpec,
        template: Option<&str>,
        position: i32,
    ) -> Dashboard {
        let now = time::now();
        Dashboard {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_owned(),
            spec: spec.clone(),
            template: template.map(str::to_owned),
            position,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether a user with `role` (name) sees it; administrators see every dashboard.
    pub fn visible_to(&self, role: &str, admin: bool) -> bool {
        admin || self.spec.roles.is_empty() || self.spec.roles.iter().any(|r| r == role)
    }
}

const COLUMNS: &str = "id, tenant_id, key, name, roles, widgets, template, position, created_at, updated_at";

fn from_row(r: &QueryResult, d: Dialect) -> Result<Dashboard> {
    let missing = || Error::Internal("dashboard without a timestamp".into());
    Ok(Dashboard {
        id: r.try_get("", "id")?,
        tenant_id: r.try_get("", "tenant_id")?,
        spec: DashboardSpec {
            key: r.try_get("", "key")?,
            name: serde_json::from_value(json_col(r, d, "name")?)?,
            roles: serde_json::from_value(json_col(r, d, "roles")?)?,
            widgets: serde_json::from_value(json_col(r, d, "widgets")?)?,
        },
        template: r.try_get("", "template")?,
        position: r.try_get("", "position")?,
        created_at: time::column(r, d, "created_at")?.ok_or_else(missing)?,
        updated_at: time::column(r, d, "updated_at")?.ok_or_else(missing)?,
    })
}

pub async fn list(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str) -> Result<Vec<Dashboard>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(COLUMNS).push(" FROM dashboards WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" ORDER BY position, created_at, id");
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    rows.iter().map(|r| from_row(r, d)).collect()
}

pub async fn get(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    id: &str,
) -> Result<Option<Dashboard>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(COLUMNS).push(" FROM dashboards WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind(id.to_owned());
    conn.query_one_raw(buf.into_statement()).await?.map(|r| from_row(&r, d)).transpose()
}

/// Inserts or replaces a dashboard (keys are unique per tenant: `CONFLICT` otherwise).
pub async fn save(conn: &impl ConnectionTrait, d: Dialect, b: &Dashboard, insert: bool) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT COUNT(*) AS n FROM dashboards WHERE tenant_id = ").bind(b.tenant_id.clone());
    buf.push(" AND key = ").bind(b.spec.key.clone()).push(" AND id <> ").bind(b.id.clone());
    let taken: i64 =
        conn.query_one_raw(buf.into_statement()).await?.map(|r| r.try_get("", "n")).transpose()?.unwrap_or(0);
    if taken > 0 {
        return Err(Error::Conflict(format!("a dashboard with key `{}` exists", b.spec.key)));
    }
    let mut buf = SqlBuf::new(d);
    if insert {
        buf.push("INSERT INTO dashboards (").push(COLUMNS).push(") VALUES (");
        buf.bind(b.id.clone())
            .push(", ")
            .bind(b.tenant_id.clone())
            .push(", ")
            .bind(b.spec.key.clone())
            .push(", ");
        buf.bind_json(&b.spec.name)?;
        buf.push(", ");
        buf.bind_json(&b.spec.roles)?;
        buf.push(", ");
        buf.bind_json(&b.spec.widgets)?;
        buf.push(", ").bind(b.template.clone()).push(", ").bind(b.position).push(", ");
        buf.bind_ts(b.created_at).push(", ").bind_ts(b.updated_at).push(")");
    } else {
        buf.push("UPDATE dashboards SET key = ").bind(b.spec.key.clone()).push(", name = ");
        buf.bind_json(&b.spec.name)?;
        buf.push(", roles = ");
        buf.bind_json(&b.spec.roles)?;
        buf.push(", widgets = ");
        buf.bind_json(&b.spec.widgets)?;
        buf.push(", updated_at = ").bind_ts(b.updated_at);
        buf.push(" WHERE tenant_id = ").bind(b.tenant_id.clone()).push(" AND id = ").bind(b.id.clone());
    }
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}

pub async fn delete(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str, id: &str) -> Result<bool> {
    sql::delete_tenant_row(conn, d, "dashboards", tenant_id, id).await
}
