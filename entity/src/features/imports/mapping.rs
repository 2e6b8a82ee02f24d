//! Which column of the file fills which field. Given no mapping, each header names its field by
//! key, then GraphQL name, then label (each compared without regard to case); headers that name
//! no field the caller may write are left out. An explicit mapping pairs a header with a field
//! (by the same names), and every pair must hold.

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::runtime::meta::{EntityDef, FieldDef};

/// One mapped column, as the import stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The column's index in the file.
    pub column: usize,
    /// Its header.
    pub header: String,
    /// The field's key.
    pub field: String,
}

/// One pair of an explicit mapping: a header and a field.
#[derive(Debug, Clone, Deserialize)]
pub struct Requested {
    pub column: String,
    pub field: String,
}

/// The field `name` names among `fields`: by key, then GraphQL name, then label.
pub fn field_named<'e>(fields: &'e [FieldDef], name: &str) -> Option<&'e FieldDef> {
    let name = name.trim();
    let by = |get: fn(&FieldDef) -> &str| fields.iter().find(|f| get(f).eq_ignore_ascii_case(name));
    by(|f| f.key.as_str()).or_else(|| by(|f| f.graphql_name.as_str())).or_else(|| by(|f| f.label.as_str()))
}

/// The columns of a file with `headers` that fill fields of `writable` (the fields the caller
/// may write), from `requested` or the headers. Errors name `mapping` (a pair that does not
/// hold) or `file` (no column fills a field).
pub fn resolve(
    headers: &[String],
    requested: Option<&[Requested]>,
    writable: &EntityDef,
) -> Result<Vec<Column>, Vec<FieldError>> {
    let mut columns: Vec<Column> = Vec::new();
    let mut errors = Vec::new();
    let column_of = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name.trim()));
    match requested {
        Some(pairs) => {
            for p in pairs {
                let Some(column) = column_of(&p.column) else {
                    errors.push(FieldError::new("mapping", format!("the file has no column `{}`", p.column)));
                    continue;
                };
                let Some(f) = field_named(&writable.fields, &p.field) else {
                    let message =
                        format!("`{}` is no field of {} you may write", p.field, writable.label_singular);
                    errors.push(FieldError::new("mapping", message));
                    continue;
                };
                columns.push(Column { column, header: headers[column].clone(), field: f.key.to_string() });
            }
        }
        None => {
            for (column, header) in headers.iter().enumerate() {
                if let Some(f) = field_named(&writable.fields, header) {
                    columns.push(Column { column, header: header.clone(), field: f.key.to_string() });
                }
            }
        }
    }
    for (i, c) in columns.iter().enumerate() {
        if columns[..i].iter().any(|o| o.field == c.field) {
            errors.push(FieldError::new("mapping", format!("field `{}` is filled by two columns", c.field)));
        }
    }
    if columns.is_empty() && errors.is_empty() {
        let message =
            format!("no column of the file names a field of {} you may write", writable.label_singular);
        errors.push(FieldError::new("file", message));
    }
    if errors.is_empty() { Ok(columns) } else { Err(errors) }
}
