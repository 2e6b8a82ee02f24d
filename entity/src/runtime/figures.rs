//! What an aggregate is asked and what it answers, shared by the two ways of answering it — the
//! scan of records (`aggregate`) and the rollup cells (`rollups`): the figures asked of numeric
//! fields (`Figures`), one group's row (`AggregateRow`), and the exact decimal arithmetic both
//! apply (a field's scale, an average from an exact sum).

use serde_json::{Map, Value};

use super::meta::{EntityDef, FieldDef, FieldType};
use super::value::{DEFAULT_SCALE, Decimal};

/// One group's figures. Numeric maps are keyed by GraphQL field name.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    /// Group values keyed by GraphQL field name (empty without `groupBy`).
    pub group: Map<String, Value>,
    pub count: i64,
    pub sum: Map<String, Value>,
    pub avg: Map<String, Value>,
    pub min: Map<String, Value>,
    pub max: Map<String, Value>,
}

/// A figure of a numeric field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    Sum,
    Avg,
    Min,
    Max,
}

impl Figure {
    pub const ALL: [Figure; 4] = [Figure::Sum, Figure::Avg, Figure::Min, Figure::Max];

    /// The GraphQL name of the figure (`sum`, `avg`, `min`, `max`).
    pub fn name(self) -> &'static str {
        match self {
            Figure::Sum => "sum",
            Figure::Avg => "avg",
            Figure::Min => "min",
            Figure::Max => "max",
        }
    }
}

/// Which figures of which numeric fields (by GraphQL name) a caller asks for: only these are
/// computed, so counting groups over a large entity does not also scan for every field's
/// minimum and maximum.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Field → the figures asked of it (a bit per `Figure`).
    asked: std::collections::HashMap<String, u8>,
}

impl Figures {
    /// Every figure of every numeric field of `e`.
    pub fn all(e: &EntityDef) -> Figures {
        let mut out = Figures::default();
        for f in numeric_fields(e) {
            for fig in Figure::ALL {
                out.ask(fig, &f.graphql_name);
            }
        }
        out
    }

    pub fn ask(&mut self, figure: Figure, field: &str) {
        *self.asked.entry(field.to_owned()).or_default() |= 1 << figure as u8;
    }

    pub fn wants(&self, figure: Figure, field: &str) -> bool {
        self.asked.get(field).is_some_and(|bits| bits & (1 << figure as u8) != 0)
    }
}

/// The fields aggregates compute figures for.
pub fn numeric_fields(e: &EntityDef) -> Vec<&FieldDef> {
    e.fields.iter().filter(|f| matches!(f.ty, FieldType::Number | FieldType::Currency)).collect()
}

pub(crate) fn scale(f: &FieldDef) -> u32 {
    f.validation.scale.unwrap_or(DEFAULT_SCALE)
}

/// `sum / count`, rounded half away from zero to the field's scale.
pub fn decimal_avg(sum: &Value, count: i64, f: &FieldDef) -> Value {
    let Some(sum) = sum.as_str().and_then(Decimal::parse) else { return Value::Null };
    if count == 0 {
        return Value::Null;
    }
    let target = scale(f);
    let at = if sum.scale >= target {
        sum
    } else {
        Decimal { units: sum.units * 10i128.pow(target - sum.scale), scale: target }
    };
    let divisor = i128::from(count) * 10i128.pow(at.scale - target);
    let (q, r) = (at.units / divisor, at.units % divisor);
    let rounded = if 2 * r.abs() >= divisor { q + at.units.signum() } else { q };
    Value::from(Decimal { units: rounded, scale: target }.to_string_at(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money() -> FieldDef {
        let mut f = crate::runtime::definitions::blank_field();
        f.ty = FieldType::Currency;
        f
    }

    #[test]
    fn decimal_averages_round_half_away_from_zero() {
        let f = money();
        assert_eq!(decimal_avg(&Value::from("10.00"), 3, &f), Value::from("3.33"));
        assert_eq!(decimal_avg(&Value::from("0.05"), 2, &f), Value::from("0.03"));
        assert_eq!(decimal_avg(&Value::from("-0.05"), 2, &f), Value::from("-0.03"));
        assert_eq!(decimal_avg(&Value::from("1999.90"), 1, &f), Value::from("1999.90"));
        assert_eq!(decimal_avg(&Value::from("5"), 0, &f), Value::Null);
    }
}
