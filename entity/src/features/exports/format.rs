//! How an export writes its rows: CSV (RFC 4180: a header line, every cell quoted when it
//! holds a comma, quote or line break, quotes doubled, CRLF line ends) or JSON Lines (one JSON
//! object per record). Values are shown as the GraphQL API shows them (`runtime::show`, the
//! one map from field type to output); in CSV a string is the cell itself and any other value
//! its JSON text.

use crate::runtime::meta::FieldDef;
use crate::runtime::record::Record;
use crate::runtime::show::{Shown, shown};
use crate::runtime::time;
use crate::{Error, Result};

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Jsonl,
}

impl Format {
    /// The `format` argument (`csv` or `jsonl`).
    pub fn parse(text: &str) -> Result<Format> {
        match text.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            _ => Err(Error::BadRequest(format!("unknown export format `{text}` (csv or jsonl)"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    /// The file's extension.
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/jsonl; charset=utf-8",
        }
    }

    /// The first bytes of the file: CSV's header line (JSON Lines has none).
    pub fn header(self, columns: &[Column]) -> Vec<u8> {
        match self {
            Format::Csv => {
                let mut out = Vec::new();
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    csv_cell(&mut out, c.name());
                }
                out.extend_from_slice(b"\r\n");
                out
            }
            Format::Jsonl => Vec::new(),
        }
    }

    /// Appends record `r`'s line.
    pub fn row(self, columns: &[Column], r: &Record, out: &mut Vec<u8>) -> Result<()> {
        match self {
            Format::Csv => {
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    match c.value(r) {
                        None => {}
                        Some(Cell::Text(s) | Cell::Value(Shown::Str(s))) => csv_cell(out, s),
                        Some(Cell::Time(t)) => csv_cell(out, &t),
                        Some(Cell::Value(other)) => {
                            let mut text = Vec::new();
                            other.write(&mut text).map_err(internal)?;
                            csv_cell(out, &String::from_utf8_lossy(&text));
                        }
                    }
                }
                out.extend_from_slice(b"\r\n");
            }
            Format::Jsonl => {
                out.push(b'{');
                for (i, c) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    serde_json::to_writer(&mut *out, c.name()).map_err(internal)?;
                    out.push(b':');
                    match c.value(r) {
                        None => out.extend_from_slice(b"null"),
                        Some(Cell::Text(s)) => serde_json::to_writer(&mut *out, s).map_err(internal)?,
                        Some(Cell::Time(t)) => serde_json::to_writer(&mut *out, &t).map_err(internal)?,
                        Some(Cell::Value(v)) => v.write(out).map_err(internal)?,
                    }
                }
                out.extend_from_slice(b"}\n");
            }
        }
        Ok(())
    }
}

fn internal(e: serde_json::Error) -> Error {
    Error::Internal(format!("writing an export row: {e}"))
}

/// One CSV cell, quoted when it must be.
fn csv_cell(out: &mut Vec<u8>, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// A column of an export: a system field or one the caller may read.
#[derive(Debug, Clone)]
pub enum Column {
    Id,
    RecordNumber,
    CreatedAt,
    UpdatedAt,
    Owner,
    Field(Box<FieldDef>),
}

impl Column {
    /// The system columns every export offers, before the entity's own fields.
    pub const SYSTEM: [Column; 5] =
        [Column::Id, Column::RecordNumber, Column::CreatedAt, Column::UpdatedAt, Column::Owner];

    /// Its name: the GraphQL field name (`owner` holds the owner's user id).
    pub fn name(&self) -> &str {
        match self {
            Column::Id => "id",
            Column::RecordNumber => "recordNumber",
            Column::CreatedAt => "createdAt",
            Column::UpdatedAt => "updatedAt",
            Column::Owner => "owner",
            Column::Field(f) => &f.graphql_name,
        }
    }

    fn value<'r>(&self, r: &'r Record) -> Option<Cell<'r>> {
        match self {
            Column::Id => Some(Cell::Text(&r.id)),
            Column::RecordNumber => r.record_number.as_deref().map(Cell::Text),
            Column::CreatedAt => Some(Cell::Time(time::format(&r.created_at))),
            Column::UpdatedAt => Some(Cell::Time(time::format(&r.updated_at))),
            Column::Owner => r.owner_id.as_deref().map(Cell::Text),
            Column::Field(f) => shown(f.ty, r.data.get(f.key.as_str())?).map(Cell::Value),
        }
    }
}

/// A column's value in one record: a system column's text, or a field's value as shown.
enum Cell<'r> {
    Text(&'r str),
    Time(String),
    Value(Shown<'r>),
}
