//! How a stored field value is shown to clients: the one map from field type to output form
//! (`show_as`), and a value in that form borrowed from the record (`Shown`). The GraphQL
//! executor, compiled reads and exports (CSV, JSON Lines) all write values through it.

use super::meta::{FieldType, Stored};

/// A stored value as its field's declared type shows it, borrowed from the record: the one
/// map from field type to output, which the executor (`api`'s `values::output`), compiled
/// reads and exports (`Shown::write`) all use.
#[derive(Debug)]
pub enum Shown<'a> {
    Float(f64),
    Bool(bool),
    Str(&'a str),
    Strings(Vec<&'a str>),
    Json(&'a serde_json::Value),
}

/// How a field type shows its stored values: the one map from field type to output form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowAs {
    Float,
    Bool,
    Strings,
    Json,
    /// The stored string as it is.
    Str,
}

/// The output form of field type `ty`: lists and JSON as such, the rest as they are stored
/// (`FieldType::stored_as`, the one map from type to storage).
pub fn show_as(ty: FieldType) -> ShowAs {
    match (ty, ty.stored_as()) {
        (FieldType::MultiSelect, _) => ShowAs::Strings,
        (FieldType::File | FieldType::Json, _) => ShowAs::Json,
        // Pitfall: a NUMBER stored as an integer must still come out as a Float.
        (_, Stored::Float) => ShowAs::Float,
        (_, Stored::Bool) => ShowAs::Bool,
        // A decimal stays a string (exact); timestamps and dates are strings.
        (_, Stored::Decimal | Stored::Timestamp | Stored::Text) => ShowAs::Str,
    }
}

/// How a field of type `ty` shows stored value `v` (`None`: null, or a value not of the type).
pub fn shown(ty: FieldType, v: &serde_json::Value) -> Option<Shown<'_>> {
    if v.is_null() {
        return None;
    }
    Some(match show_as(ty) {
        ShowAs::Float => Shown::Float(v.as_f64()?),
        ShowAs::Bool => Shown::Bool(v.as_bool()?),
        ShowAs::Strings => Shown::Strings(v.as_array()?.iter().filter_map(|s| s.as_str()).collect()),
        ShowAs::Json => Shown::Json(v),
        ShowAs::Str => Shown::Str(v.as_str()?),
    })
}

impl Shown<'_> {
    /// Written as JSON, exactly as the executor serializes `into_value`.
    pub fn write(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        match self {
            Shown::Float(x) => serde_json::to_writer(out, x),
            Shown::Bool(b) => serde_json::to_writer(out, b),
            Shown::Str(s) => serde_json::to_writer(out, s),
            Shown::Strings(items) => serde_json::to_writer(out, items),
            Shown::Json(v) => serde_json::to_writer(out, v),
        }
    }
}
