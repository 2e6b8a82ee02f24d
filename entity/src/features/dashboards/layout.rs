//! Where and how a widget is drawn, for a frontend's drag-and-drop grid: its `position`
//! (`x`, `y`, `w`, `h` in grid cells), a chart type, an icon and a colour. The server only
//! keeps and checks them (it draws nothing): they sit beside a widget's definition in the
//! stored JSON (`{type, title, …, id, position, chartType, icon, color}`), and each widget has
//! an `id` a layout change names it by (`w1`, `w2`… by place when none was given).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::Widget;
use crate::FieldError;

/// Chart types a widget may name (lower case in JSON, upper case as the GraphQL enum).
pub const CHART_TYPES: [&str; 9] =
    ["bar", "line", "area", "pie", "donut", "funnel", "table", "number", "list"];

/// Named colours of the palette, besides `#rrggbb`.
pub const PALETTE: [&str; 12] =
    ["blue", "indigo", "purple", "pink", "red", "orange", "amber", "yellow", "green", "teal", "cyan", "gray"];

/// Largest coordinate or size taken (cells; a grid is a few dozen wide).
pub const MAX_CELLS: i64 = 1000;

/// Longest icon name.
const MAX_ICON: usize = 64;

/// A widget's rectangle on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
}

/// How a widget is drawn; every member optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Layout {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// The JSON members of a widget that are its layout (and its id), not its definition.
const LAYOUT_KEYS: [&str; 4] = ["position", "chartType", "icon", "color"];

impl Layout {
    /// Problems with the layout, their paths prefixed with `at`.
    pub fn check(&self, at: &str, errors: &mut Vec<FieldError>) {
        if let Some(p) = &self.position {
            for (name, v, min) in [("x", p.x, 0), ("y", p.y, 0), ("w", p.w, 1), ("h", p.h, 1)] {
                if !(min..=MAX_CELLS).contains(&v) {
                    errors.push(FieldError::new(
                        format!("{at}.position.{name}"),
                        format!("must be an integer from {min} to {MAX_CELLS}"),
                    ));
                }
            }
        }
        if let Some(c) = &self.chart_type
            && !CHART_TYPES.contains(&c.as_str())
        {
            let known = CHART_TYPES.join(", ");
            errors.push(FieldError::new(format!("{at}.chartType"), format!("must be one of {known}")));
        }
        if let Some(i) = &self.icon
            && (i.trim().is_empty() || i.chars().count() > MAX_ICON)
        {
            errors.push(FieldError::new(format!("{at}.icon"), format!("must be 1 to {MAX_ICON} characters")));
        }
        if let Some(c) = &self.color
            && !is_color(c)
        {
            let msg = format!("must be #rrggbb or one of {}", PALETTE.join(", "));
            errors.push(FieldError::new(format!("{at}.color"), msg));
        }
    }
}

/// `#rrggbb` or a palette name.
pub fn is_color(c: &str) -> bool {
    PALETTE.contains(&c)
        || c.strip_prefix('#').is_some_and(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A widget on its dashboard: its definition, its id (when one was given) and its layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub id: Option<String>,
    pub layout: Layout,
    pub widget: Widget,
}

impl Placed {
    /// The id layout changes name it by: its own, else `w<n>` by its place (1-based).
    pub fn id_at(&self, index: usize) -> String {
        self.id.clone().unwrap_or_else(|| format!("w{}", index + 1))
    }
}

impl Serialize for Placed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut m = match serde_json::to_value(&self.widget).map_err(S::Error::custom)? {
            Value::Object(m) => m,
            _ => return Err(S::Error::custom("a widget serializes to an object")),
        };
        if let Some(id) = &self.id {
            m.insert("id".into(), Value::from(id.clone()));
        }
        if let Value::Object(layout) = serde_json::to_value(&self.layout).map_err(S::Error::custom)? {
            m.extend(layout);
        }
        Value::Object(m).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Placed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Placed, D::Error> {
        use serde::de::Error;
        let mut m = Map::<String, Value>::deserialize(d)?;
        let id = match m.remove("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(D::Error::custom("a widget's `id` is a string")),
        };
        let layout: Map<String, Value> =
            LAYOUT_KEYS.iter().filter_map(|k| m.remove(*k).map(|v| ((*k).to_owned(), v))).collect();
        let layout = serde_json::from_value(Value::Object(layout)).map_err(D::Error::custom)?;
        let widget = serde_json::from_value(Value::Object(m)).map_err(D::Error::custom)?;
        Ok(Placed { id, layout, widget })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn layout_round_trips_beside_the_definition() {
        let raw = json!({"type": "metric", "title": {"en": "Deals"}, "entity": "deal", "function": "count",
                         "id": "deals", "position": {"x": 0, "y": 2, "w": 4, "h": 2}, "chartType": "number",
                         "color": "#1a2B3c"});
        let p: Placed = serde_json::from_value(raw.clone()).expect("a widget");
        assert_eq!(p.id_at(3), "deals");
        assert_eq!(p.layout.position, Some(Position { x: 0, y: 2, w: 4, h: 2 }));
        assert_eq!(serde_json::to_value(&p).expect("json"), raw);
        let mut errors = Vec::new();
        p.layout.check("widgets[0]", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn bad_layouts_are_named() {
        let layout = Layout {
            position: Some(Position { x: -1, y: 0, w: 0, h: 2 }),
            chart_type: Some("radar".into()),
            icon: Some(String::new()),
            color: Some("#12345".into()),
        };
        let mut errors = Vec::new();
        layout.check("w", &mut errors);
        let paths: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(paths, ["w.position.x", "w.position.w", "w.chartType", "w.icon", "w.color"]);
        assert!(is_color("teal") && !is_color("#gggggg"));
    }
}
