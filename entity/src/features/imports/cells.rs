//! One CSV cell as the GraphQL input of its field, per field type (one exhaustive map): the
//! store's create and update then validate it like any input (`value::apply_input`). What a
//! cell may hold:
//!
//! - TEXT, TEXTAREA, EMAIL, PHONE, URL, SELECT: the text itself; DATE `YYYY-MM-DD`; DATETIME
//!   RFC 3339; CURRENCY a decimal (`1999.90`); NUMBER a number (`12.5`, `-3`, `1e3`);
//! - BOOLEAN `true`/`false`, `yes`/`no`, `1`/`0` (any case);
//! - MULTI_SELECT options separated by `;` (`red; blue`);
//! - RELATION the target record's id (a UUID), its record number (`PAT-000042`), or
//!   `<field>=<value>` for a unique field of the target (`email=ada@example.com`);
//! - FILE a URL, or the file object as JSON (`{"url": …, "name": …}`); JSON any JSON text.
//!
//! An empty cell is no input: a create takes the field's default, an update leaves it as it is.

use serde_json::{Map, Value};

use crate::runtime::meta::{FieldDef, FieldType};
use crate::runtime::value;

/// What a cell holds for its field.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing (an empty cell).
    Empty,
    /// The field's input value.
    Value(Value),
    /// A relation's target, to look up.
    Target(Target),
}

/// How a RELATION cell names its target record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// By id (already in its stored form).
    Id(String),
    /// By record number (`PAT-000042`).
    Number(String),
    /// By a unique field of the target: its key (or name, or label) and the value.
    Unique { field: String, value: String },
}

/// The input `cell` gives field `f`, or why it cannot be one.
pub fn parse(f: &FieldDef, cell: &str) -> Result<Cell, String> {
    if cell.trim().is_empty() {
        return Ok(Cell::Empty);
    }
    let text = || Value::String(cell.to_owned());
    let trimmed = cell.trim();
    Ok(Cell::Value(match f.ty {
        FieldType::Text | FieldType::Textarea => text(),
        FieldType::Email
        | FieldType::Phone
        | FieldType::Url
        | FieldType::Select
        | FieldType::Date
        | FieldType::Datetime
        | FieldType::Currency
        | FieldType::Uid => Value::String(trimmed.to_owned()),
        FieldType::Number => {
            let n: f64 = trimmed.parse().map_err(|_| "must be a number".to_owned())?;
            serde_json::Number::from_f64(n).map(Value::Number).ok_or("must be a finite number")?
        }
        FieldType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => return Err("must be true or false (or yes/no, 1/0)".into()),
        },
        FieldType::MultiSelect => Value::Array(
            trimmed
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
        FieldType::Relation => return Ok(Cell::Target(target(trimmed))),
        FieldType::File => {
            if trimmed.starts_with('{') {
                serde_json::from_str(trimmed)
                    .map_err(|_| "must be a URL or a file object in JSON".to_owned())?
            } else {
                let mut file = Map::new();
                file.insert("url".into(), Value::String(trimmed.to_owned()));
                Value::Object(file)
            }
        }
        FieldType::Json => serde_json::from_str(trimmed).map_err(|e| format!("must be JSON: {e}"))?,
    }))
}

/// How a RELATION cell names its target (`Target`).
fn target(cell: &str) -> Target {
    if let Some(id) = value::record_id(cell) {
        return Target::Id(id);
    }
    match cell.split_once('=') {
        Some((field, value)) if !field.trim().is_empty() => {
            Target::Unique { field: field.trim().to_owned(), value: value.trim().to_owned() }
        }
        _ => Target::Number(cell.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_cells_name_their_target_three_ways() {
        let id = "6F9619FF-8B86-D011-B42D-00CF4FC964FF";
        assert_eq!(target(id), Target::Id(id.to_lowercase()));
        assert_eq!(target("PAT-000042"), Target::Number("PAT-000042".into()));
        assert_eq!(
            target("email = ada@example.com"),
            Target::Unique { field: "email".into(), value: "ada@example.com".into() }
        );
    }
}
