//! A widget's layout in GraphQL (`entity::features::dashboards::layout`): `position {x y w h}`,
//! `chartType`, `icon` and `color` on `DashboardWidget` and in each widget input, and
//! `updateDashboardLayout(id, widgets: [{id, position, …}])`, which saves a drag-and-drop
//! result in one transaction: every widget named moves, or none does.

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, InputObject, InputValue, Object, Type, TypeRef};
use entity::features::dashboards::layout::CHART_TYPES;
use entity::features::dashboards::{Layout, Position};
use entity::runtime::naming::{fields as f, types as t};

use super::{BoardView, stored, write};
use crate::error::ApiError;
use crate::schema::args::arg_json;
use crate::schema::ctx;
use crate::schema::typed::{self, Kind, Member, Nested, opt, req};

/// A widget's rectangle, as the typed widget inputs and `WidgetLayoutInput` take it.
pub const POSITION: Nested = Nested {
    name: t::WIDGET_POSITION_INPUT,
    doc: "A widget's place on the dashboard's grid, in cells: column `x` and row `y` from 0, width `w` \
          and height `h` from 1.",
    members: &[
        req("x", Kind::Int, "Column, from 0."),
        req("y", Kind::Int, "Row, from 0."),
        req("w", Kind::Int, "Width in cells, from 1."),
        req("h", Kind::Int, "Height in cells, from 1."),
    ],
};

/// The layout members of every widget input.
pub const ID: Member =
    opt("id", Kind::Text, "Its id on the dashboard, unique there (default `w1`, `w2`… by place).");
pub const PLACE: Member = opt("position", Kind::Object(&POSITION), "Where it is drawn.");
pub const CHART_TYPE: Member = opt("chartType", Kind::Enum(t::WIDGET_CHART_TYPE), "How it is drawn.");
pub const ICON: Member = opt("icon", Kind::Text, "An icon name, for the frontend.");
pub const COLOR: Member = opt("color", Kind::Text, COLOR_DOC);

const COLOR_DOC: &str = "`#rrggbb`, or a palette name: blue, indigo, purple, pink, red, orange, amber, yellow, \
     green, teal, cyan, gray.";

/// `DashboardWidget.position`.
pub fn position_value(p: Position) -> Value {
    let m = [("x", p.x), ("y", p.y), ("w", p.w), ("h", p.h)]
        .into_iter()
        .map(|(k, v)| (async_graphql::Name::new(k), Value::from(v)))
        .collect();
    Value::Object(m)
}

/// `DashboardWidget.chartType`: the stored lower-case name as the enum's value.
pub fn chart_type_value(c: &str) -> Value {
    Value::Enum(async_graphql::Name::new(c.to_uppercase()))
}

/// What every role's schema has: `WidgetPosition` and `WidgetChartType`.
pub fn output_types() -> Vec<Type> {
    let int = || TypeRef::named_nn(TypeRef::INT);
    let member = |name: &'static str| {
        Field::new(name, int(), move |c| {
            FieldFuture::new(async move {
                let v = c.parent_value.as_value().and_then(|v| match v {
                    Value::Object(m) => m.get(name).cloned(),
                    _ => None,
                });
                Ok(v)
            })
        })
    };
    let position = ["x", "y", "w", "h"]
        .into_iter()
        .fold(Object::new(t::WIDGET_POSITION).description(POSITION.doc), |o, n| o.field(member(n)));
    let chart = typed::enum_type(t::WIDGET_CHART_TYPE, "How a widget is drawn.", CHART_TYPES);
    vec![position.into(), chart.into()]
}

/// `WidgetLayoutInput` (administrators).
pub fn input_type() -> InputObject {
    typed::input_object(
        t::WIDGET_LAYOUT_INPUT,
        "A widget's new layout: its `id`, and the members that change.",
        &[req("id", Kind::Text, "The widget's id."), PLACE, CHART_TYPE, ICON, COLOR],
    )
}

/// One entry of `updateDashboardLayout(widgets:)`: the widget's id and its layout members
/// (`chartType` in its JSON form, the enum's lower-cased name).
fn one_move(v: serde_json::Value) -> Result<(String, Layout), ApiError> {
    let serde_json::Value::Object(mut m) = v else {
        return Err(ApiError::BadRequest("widgets: each entry is an object".into()));
    };
    let id = m.remove("id").and_then(|i| i.as_str().map(str::to_owned)).unwrap_or_default();
    m.retain(|_, v| !v.is_null());
    if let Some(c) = m.get_mut("chartType") {
        *c = typed::lower_enum(c);
    }
    let layout = serde_json::from_value(serde_json::Value::Object(m))
        .map_err(|e| ApiError::BadRequest(format!("widgets: {e}")))?;
    Ok((id, layout))
}

/// `updateDashboardLayout(id, widgets)` (administrators).
pub fn mutation() -> Field {
    Field::new(f::UPDATE_DASHBOARD_LAYOUT, TypeRef::named_nn(t::DASHBOARD), |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let id = crate::schema::args::string(&c, "id")?;
            let raw = match arg_json(&c, "widgets")? {
                Some(serde_json::Value::Array(items)) => items,
                _ => Vec::new(),
            };
            let moves = raw.into_iter().map(one_move).collect::<Result<Vec<_>, _>>()?;
            let state = ctx::state(&c)?;
            let txn = state.db.begin_tenant_write(&ctx::principal(&c)?.tenant_id).await?;
            let mut board = stored(&c, &txn, &id).await?;
            board.spec.place(&moves, "widgets").map_err(ApiError::from)?;
            board.updated_at = entity::runtime::time::now();
            let changes = serde_json::json!({"layout": moves.iter().map(|(id, _)| id).collect::<Vec<_>>()});
            write(&c, txn, &board, false, "dashboard.layout", changes).await?;
            Ok(Some(BoardView::of(&c, board).await?))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new("widgets", TypeRef::named_nn_list_nn(t::WIDGET_LAYOUT_INPUT)))
    .description(
        "Saves a drag-and-drop layout: each widget named gets its new position (and chart type, icon, colour \
         when given), all in one transaction; the others stay where they are.",
    )
}
