//! A rollup field's definition as plain data, as `field_defs.rollup` stores it. `meta` holds it
//! in a field's definition; the rest of `rollup_fields` resolves and maintains it. It imports
//! nothing of the definitions (`meta`), which hold it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Result;

/// The public field type of a rollup field (`FieldType` enum value in GraphQL).
pub const TYPE_NAME: &str = "ROLLUP";

/// What a rollup computes over the children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Function {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

impl Function {
    pub const ALL: [Function; 5] =
        [Function::Count, Function::Sum, Function::Min, Function::Max, Function::Avg];

    pub fn as_str(self) -> &'static str {
        match self {
            Function::Count => "COUNT",
            Function::Sum => "SUM",
            Function::Min => "MIN",
            Function::Max => "MAX",
            Function::Avg => "AVG",
        }
    }
}

/// A rollup field's definition as stored (`field_defs.rollup`): the child entity by id, its
/// RELATION field and measured field by key, the filter as given (over the child).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rollup {
    pub entity_id: String,
    pub relation: String,
    pub function: Function,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
}

impl Rollup {
    /// The stored column's value, read back.
    pub fn from_stored(v: Option<Value>) -> Result<Option<Arc<Rollup>>> {
        match v {
            Some(v) if !v.is_null() => Ok(Some(Arc::new(serde_json::from_value(v)?))),
            _ => Ok(None),
        }
    }
}
