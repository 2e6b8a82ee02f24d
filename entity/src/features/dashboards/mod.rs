//! Dashboards: named sets of widgets per tenant (from a template or made by hand), shown to the
//! roles they list. Widget data is computed on the server, under the caller's row rules, in
//! the tenant's time zone: metric cards (count / sum / avg / min / max, optionally over "today",
//! "this week"… on a date field), charts by a field or by date bucket (day, week, month,
//! quarter, year), recent records (filtered and ordered as the widget says), and a pipeline
//! by stage with totals. This module holds the definitions and their storage (the `dashboards`
//! model); [`data`] computes what widgets show.

pub mod data;
pub mod layout;

pub use crate::runtime::calendar::{Bucket, Period};
pub use data::Scope;
pub use layout::{Layout, Placed, Position};

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::features::rows;
use crate::models::dashboard;
use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::{EntityDef, FieldType, TenantMeta};
use crate::runtime::time;
use crate::{Error, FieldError, Result};

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
        /// With `groupBy` a relation: group by its ancestor of this entity (`hierarchy`).
        #[serde(rename = "groupByAncestor", default, skip_serializing_if = "Option::is_none")]
        group_by_ancestor: Option<String>,
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
            Widget::Chart { group_by, group_by_ancestor, date_field, bucket, function, field, .. } => {
                let relation = |t: FieldType| t == FieldType::Relation;
                match (group_by, date_field, bucket) {
                    (Some(g), None, None) if group_by_ancestor.is_some() => need(g, "groupBy", relation),
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
    pub widgets: Vec<Placed>,
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
        let mut ids = std::collections::HashSet::new();
        for (i, w) in self.widgets.iter().enumerate() {
            let at = format!("widgets[{i}]");
            w.widget.validate(meta, &at, &mut errors);
            w.layout.check(&at, &mut errors);
            let id = w.id_at(i);
            if id.trim().is_empty() || id.chars().count() > 64 {
                errors.push(FieldError::new(format!("{at}.id"), "must be 1 to 64 characters"));
            } else if !ids.insert(id.clone()) {
                errors
                    .push(FieldError::new(format!("{at}.id"), format!("`{id}` is taken by another widget")));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
    }

    /// Applies a drag-and-drop result: each `(widget id, layout)` replaces the position of the
    /// widget with that id, and its chart type, icon and colour when given; widgets not named
    /// keep theirs. An unknown id or a bad layout is `VALIDATION_FAILED`, paths prefixed `at`.
    pub fn place(&mut self, moves: &[(String, Layout)], at: &str) -> Result<()> {
        let mut errors = Vec::new();
        for (n, (id, layout)) in moves.iter().enumerate() {
            let path = format!("{at}[{n}]");
            layout.check(&path, &mut errors);
            let found = self.widgets.iter().enumerate().position(|(i, w)| w.id_at(i) == *id);
            let Some(i) = found else {
                errors.push(FieldError::new(
                    format!("{path}.id"),
                    format!("no widget `{id}` on this dashboard"),
                ));
                continue;
            };
            let mine = &mut self.widgets[i].layout;
            mine.position = layout.position.or(mine.position);
            for (new, old) in [
                (&layout.chart_type, &mut mine.chart_type),
                (&layout.icon, &mut mine.icon),
                (&layout.color, &mut mine.color),
            ] {
                if new.is_some() {
                    old.clone_from(new);
                }
            }
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
    /// Every module holding it is off (`features::modules`): shown to no one.
    pub switched_off: bool,
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
            switched_off: false,
        }
    }

    /// Whether a user with `role` (name) sees it; administrators see every dashboard that its
    /// modules did not switch off.
    pub fn visible_to(&self, role: &str, admin: bool) -> bool {
        !self.switched_off
            && (admin || self.spec.roles.is_empty() || self.spec.roles.iter().any(|r| r == role))
    }
}

impl TryFrom<dashboard::Model> for Dashboard {
    type Error = Error;

    fn try_from(m: dashboard::Model) -> Result<Dashboard> {
        Ok(Dashboard {
            id: m.id,
            tenant_id: m.tenant_id,
            spec: DashboardSpec {
                key: m.key,
                name: serde_json::from_value(m.name)?,
                roles: serde_json::from_value(m.roles)?,
                widgets: serde_json::from_value(m.widgets)?,
            },
            template: m.template,
            position: m.position,
            created_at: m.created_at,
            updated_at: m.updated_at,
            switched_off: m.switched_off,
        })
    }
}

/// The tenant's dashboards in their order (position, then age).
pub async fn list(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<Dashboard>> {
    let rows = dashboard::Entity::find()
        .filter(dashboard::Column::TenantId.eq(tenant_id))
        .order_by_asc(dashboard::Column::Position)
        .order_by_asc(dashboard::Column::CreatedAt)
        .order_by_asc(dashboard::Column::Id)
        .all(conn)
        .await?;
    rows.into_iter().map(Dashboard::try_from).collect()
}

pub async fn get(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<Dashboard>> {
    rows::find::<dashboard::Entity, _>(conn, tenant_id, id).await
}

/// Inserts or replaces a dashboard (keys are unique per tenant: `CONFLICT` otherwise). A
/// replacement writes its key, name, roles, widgets and update time; the template that brought
/// it and its position stay.
pub async fn save(conn: &impl ConnectionTrait, b: &Dashboard, insert: bool) -> Result<()> {
    let taken = dashboard::Entity::find()
        .filter(dashboard::Column::TenantId.eq(&b.tenant_id))
        .filter(dashboard::Column::Key.eq(&b.spec.key))
        .filter(dashboard::Column::Id.ne(&b.id))
        .count(conn)
        .await?;
    if taken > 0 {
        return Err(Error::Conflict(format!("a dashboard with key `{}` exists", b.spec.key)));
    }
    let mut row = dashboard::ActiveModel {
        id: Set(b.id.clone()),
        tenant_id: Set(b.tenant_id.clone()),
        key: Set(b.spec.key.clone()),
        name: Set(serde_json::to_value(&b.spec.name)?),
        roles: Set(serde_json::to_value(&b.spec.roles)?),
        widgets: Set(serde_json::to_value(&b.spec.widgets)?),
        template: NotSet,
        position: NotSet,
        created_at: Set(b.created_at),
        updated_at: Set(b.updated_at),
        // The modules' alone (`features::modules`).
        switched_off: NotSet,
    };
    if insert {
        row.template = Set(b.template.clone());
        row.position = Set(b.position);
    }
    rows::save(conn, row, insert, &b.tenant_id, &b.id).await
}

pub async fn delete(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<bool> {
    rows::delete::<dashboard::Entity>(conn, tenant_id, id).await
}
