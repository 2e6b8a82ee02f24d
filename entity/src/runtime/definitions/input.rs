//! What a definition change is asked with: the GraphQL inputs of shared/API.md as the engine
//! takes them (`EntityInput`, `FieldInput` and their update forms), before validation turns them
//! into metadata (`validate`).

use serde::Deserialize;
use serde_json::Value;

/// `EntityInput` of shared/API.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityInput {
    pub name_singular: String,
    pub name_plural: String,
    pub label_singular: String,
    pub label_plural: String,
    pub icon: Option<String>,
    pub record_number_prefix: Option<String>,
    /// Translations: language code → `{singular, plural}`.
    pub labels: Option<Value>,
    pub fields: Option<Vec<FieldInput>>,
}

/// `UpdateEntityInput`: labels, icon and prefix (names never change: clients depend on them).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateEntityInput {
    pub label_singular: Option<String>,
    pub label_plural: Option<String>,
    pub icon: Option<String>,
    pub record_number_prefix: Option<String>,
    pub labels: Option<Value>,
}

/// `FieldInput` of shared/API.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldInput {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    pub indexed: Option<bool>,
    /// Holds personal data (`runtime::personal`).
    pub personal: Option<bool>,
    /// A RELATION linking a record to its parent in the tenant's hierarchy (`runtime::hierarchy`).
    pub hierarchy: Option<bool>,
    /// Found by full-text search (`runtime::search`).
    pub searchable: Option<bool>,
    /// `@mentions` in its text notify the users they name (`runtime::mentions`).
    pub mentions: Option<bool>,
    pub options: Option<Vec<String>>,
    pub related_entity: Option<String>,
    pub relation_kind: Option<String>,
    pub default: Option<Value>,
    pub validation: Option<Value>,
    pub labels: Option<Value>,
    /// A SELECT field's lifecycle (`runtime::lifecycle::Lifecycle` as JSON).
    pub lifecycle: Option<Value>,
    /// Translations of the options: option → language code → label.
    pub option_labels: Option<Value>,
    /// A ROLLUP field's definition (`rollup_fields::define`).
    pub rollup: Option<Value>,
    /// A FORMULA field's `{expression, resultType}`.
    pub formula: Option<Value>,
}

/// `UpdateFieldInput`: everything but key, type and relation target.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateFieldInput {
    pub label: Option<String>,
    pub required: Option<bool>,
    pub unique: Option<bool>,
    pub indexed: Option<bool>,
    pub personal: Option<bool>,
    /// Marking or unmarking a hierarchy link rebuilds the tenant's closure.
    pub hierarchy: Option<bool>,
    /// Turning it on back-fills the entries of existing records; off removes them.
    pub searchable: Option<bool>,
    /// Turns `@mentions` on or off.
    pub mentions: Option<bool>,
    pub options: Option<Vec<String>>,
    pub default: Option<Value>,
    pub validation: Option<Value>,
    pub labels: Option<Value>,
    pub option_labels: Option<Value>,
    /// A FORMULA field's new `{expression, resultType}` (`computed::edit`).
    pub formula: Option<Value>,
    /// A ROLLUP field's new definition, recomputed for every parent (`computed::edit`).
    pub rollup: Option<Value>,
    /// The new lifecycle; `Some(null)` removes it, absent keeps it.
    #[serde(default, deserialize_with = "present")]
    pub lifecycle: Option<Value>,
}

/// A member given, even as `null` (`Some(Value::Null)`), as opposed to absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}
