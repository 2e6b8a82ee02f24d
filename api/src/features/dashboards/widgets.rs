//! The typed form of a dashboard's widgets (`typed`): `widgetList: [DashboardWidgetInput!]` on
//! `DashboardInput`, beside the `widgets` JSON, which stays accepted as it is. Each widget type
//! (`entity::features::dashboards::Widget`) is one member of a `@oneOf` input with exactly that
//! type's members; the list becomes the `widgets` document, which is read and checked as
//! `createDashboard` always has (`DashboardSpec::validate`). Its error paths (`widgets[1].field`)
//! are renamed to the typed member (`widgetList[1].field`).

use async_graphql::dynamic::{InputValue, Type, TypeRef};
use entity::features::dashboards::{Function, Period};
use entity::runtime::naming::types as t;
use serde_json::{Map, Value};

use super::layout::{CHART_TYPE, COLOR, ICON, ID, PLACE};
use crate::error::ApiError;
use crate::schema::typed::{self, Form, Kind, Member, Nested, Shape, Union, opt, req};

/// A localized text: `DashboardInput.name` and each widget's `title`.
const TEXT_DOC: &str = "Localized text as a JSON object of language code → text, with `en` required, e.g. \
     `{\"en\": \"Open deals\", \"hi\": \"खुले सौदे\"}`.";
const FILTER_DOC: &str = "Only records matching this filter, as JSON in the entity's filter language (as its \
     `…Filter` input), e.g. `{\"stage\": {\"neq\": \"Lost\"}}`.";
const TITLE: Member = req("title", Kind::Json, TEXT_DOC);
const ENTITY: Member = req("entity", Kind::Text, "The `nameSingular` of the entity it shows.");
const FILTER: Member = opt("filter", Kind::Json, FILTER_DOC);
const PERIOD: Member =
    opt("period", Kind::Enum(t::WIDGET_PERIOD), "Only records whose `dateField` falls in this period.");
const DATE_FIELD: Member =
    opt("dateField", Kind::Text, "A DATE or DATE_TIME field (or createdAt/updatedAt).");

/// A recent widget's order.
const RECENT_ORDER: Nested = Nested {
    name: t::RECENT_WIDGET_ORDER_INPUT,
    doc: "The order of a `recent` widget's records.",
    members: &[
        req("field", Kind::Text, "A field key, or `created_at` / `updated_at`."),
        opt("direction", Kind::Enum(t::ORDER_DIRECTION), "DESC unless given."),
    ],
};

/// One widget.
pub const WIDGET: Union = Union {
    name: t::DASHBOARD_WIDGET_INPUT,
    doc: "One widget of a dashboard: exactly one of these members.",
    shapes: &[
        Shape {
            field: "metric",
            tag: "metric",
            input: t::METRIC_WIDGET_INPUT,
            doc: "One number: a count, or a sum/avg/min/max of a NUMBER or CURRENCY field.",
            members: &[
                TITLE,
                ENTITY,
                req("function", Kind::Enum(t::WIDGET_FUNCTION), "How the records are aggregated."),
                opt("field", Kind::Text, "The NUMBER or CURRENCY field (all but COUNT)."),
                FILTER,
                PERIOD,
                DATE_FIELD,
                ID,
                PLACE,
                CHART_TYPE,
                ICON,
                COLOR,
            ],
        },
        Shape {
            field: "chart",
            tag: "chart",
            input: t::CHART_WIDGET_INPUT,
            doc: "A series: grouped by `groupBy`, or by `dateField` in `bucket`s.",
            members: &[
                TITLE,
                ENTITY,
                opt("groupBy", Kind::Text, "The field to group by (or give `dateField` and `bucket`)."),
                DATE_FIELD,
                opt("bucket", Kind::Enum(t::DATE_BUCKET), "The date bucket, with `dateField`."),
                opt(
                    "function",
                    Kind::Enum(t::WIDGET_FUNCTION),
                    "How each group is aggregated (default COUNT).",
                ),
                opt("field", Kind::Text, "The NUMBER or CURRENCY field (all but COUNT)."),
                FILTER,
                PERIOD,
                ID,
                PLACE,
                CHART_TYPE,
                ICON,
                COLOR,
            ],
        },
        Shape {
            field: "recent",
            tag: "recent",
            input: t::RECENT_WIDGET_INPUT,
            doc: "The newest records.",
            members: &[
                TITLE,
                ENTITY,
                opt("limit", Kind::Int, "How many records."),
                opt("fields", Kind::Texts, "The fields to show."),
                FILTER,
                opt("orderBy", Kind::Object(&RECENT_ORDER), "Their order (default: newest first)."),
                ID,
                PLACE,
                CHART_TYPE,
                ICON,
                COLOR,
            ],
        },
        Shape {
            field: "pipeline",
            tag: "pipeline",
            input: t::PIPELINE_WIDGET_INPUT,
            doc: "Records by stage, with counts and totals.",
            members: &[
                TITLE,
                ENTITY,
                req("stageField", Kind::Text, "The SELECT field holding the stage."),
                opt("amountField", Kind::Text, "A NUMBER or CURRENCY field to total per stage."),
                FILTER,
                ID,
                PLACE,
                CHART_TYPE,
                ICON,
                COLOR,
            ],
        },
    ],
};

/// `DashboardInput.widgets`.
const WIDGETS_DOC: &str = "The widgets as a JSON list of `{type: metric|chart|recent|pipeline, title, \
     entity, …, id, position, chartType, icon, color}` (the members of `DashboardWidgetInput`'s shapes), e.g. `[{\"type\": \"metric\", \"title\": \
     {\"en\": \"Deals\"}, \"entity\": \"deal\", \"function\": \"count\"}]`. Give this or the typed \
     `widgetList`, not both.";
/// `DashboardWidget.config`.
pub const CONFIG_DOC: &str =
    "The widget's definition as JSON, as `widgets` takes it: `{type, title, entity, …}`.";
/// `DashboardWidget.data`.
pub const DATA_DOC: &str = "Computed now, as JSON: metric `{value}`, chart `{series: [{key, value}]}`, recent \
     `{records}`, pipeline `{stages: [{stage, label, count, total}]}` (`label`: the stage's option label in the request's language); null when your role may not read the entity.";

/// The JSON names of a serializable enum's values (`this_week`).
fn serde_names<T: serde::Serialize>(all: &[T]) -> Vec<String> {
    all.iter().filter_map(|x| serde_json::to_value(x).ok()?.as_str().map(str::to_owned)).collect()
}

/// The input types and enums of the typed form.
pub fn types() -> Vec<Type> {
    let functions = serde_names(&Function::ALL);
    let periods = serde_names(&Period::ALL);
    let mut out = WIDGET.types();
    out.push(
        typed::enum_type(
            t::WIDGET_FUNCTION,
            "How a widget aggregates records.",
            functions.iter().map(String::as_str),
        )
        .into(),
    );
    out.push(
        typed::enum_type(
            t::WIDGET_PERIOD,
            "A period around now, in the tenant's time zone.",
            periods.iter().map(String::as_str),
        )
        .into(),
    );
    out
}

/// The members of `DashboardInput` in JSON or holding the widgets, documented.
pub fn input_fields() -> [InputValue; 3] {
    [
        InputValue::new("name", TypeRef::named_nn(t::JSON)).description(TEXT_DOC),
        InputValue::new("widgets", TypeRef::named(t::JSON)).description(WIDGETS_DOC),
        InputValue::new("widgetList", TypeRef::named_nn_list(t::DASHBOARD_WIDGET_INPUT))
            .description("The widgets, typed (at most 30). Give these or `widgets`, not both."),
    ]
}

/// `input` (a dashboard input as JSON) with its widgets in their JSON form under `widgets`,
/// whichever form was given, and the renames of its error paths.
pub fn with_widgets(mut input: Map<String, Value>) -> Result<(Value, typed::Renames), ApiError> {
    if typed::form(&input, "widgets", &["widgetList"], true)? == Form::Json {
        return Ok((Value::Object(input), Vec::new()));
    }
    let items = input.remove("widgetList");
    let mut errors = Vec::new();
    let widgets = WIDGET.list_to_json(
        items.as_ref().and_then(Value::as_array).map_or(&[], Vec::as_slice),
        "widgetList",
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    input.insert("widgets".into(), widgets);
    Ok((Value::Object(input), vec![("widgets".into(), "widgetList".into())]))
}
