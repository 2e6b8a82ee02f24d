//! Decoding record rows. On PostgreSQL a row is read straight from the driver's buffers:
//! columns by position (every record statement selects `COLUMNS` first, in order, which is
//! checked), the `uuid` id as its hyphenated text, timestamps by `time::parse_pg`, `data`
//! parsed from its text once. Through SeaORM's getters a 50-record page spent a quarter of its
//! server CPU in a name lookup per column, chrono's format interpreter per timestamp and a
//! detour through `Json<Value>` (yardstick Q1, `perf`). This covers every PostgreSQL row, from
//! the raw pool (text results) and from SeaORM's pool (binary results) alike. SQLite rows
//! take SeaORM's getters: their timestamps are text the engine wrote.

use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use sea_orm::sqlx::postgres::{PgRow, PgValueFormat};
use sea_orm::sqlx::{Column, Row, TypeInfo, ValueRef};
use serde_json::{Map, Value};

use crate::runtime::record::Record;
use crate::runtime::record::data::RecordData;
use crate::runtime::time;
use crate::{Dialect, Error, Result};

/// The columns of a record, in the order of `super::COLUMNS`.
const NAMES: [&str; 11] = [
    "id",
    "entity_id",
    "data",
    "owner_id",
    "created_by",
    "number",
    "record_number",
    "created_at",
    "updated_at",
    "deleted_at",
    "version",
];
const ID: usize = 0;
const ENTITY_ID: usize = 1;
const DATA: usize = 2;
const OWNER_ID: usize = 3;
const CREATED_BY: usize = 4;
const NUMBER: usize = 5;
const RECORD_NUMBER: usize = 6;
const CREATED_AT: usize = 7;
const UPDATED_AT: usize = 8;
const DELETED_AT: usize = 9;
const VERSION: usize = 10;

impl Record {
    /// The record of a row that selected `COLUMNS`.
    pub(super) fn from_row(row: &QueryResult) -> Result<Record> {
        match row.try_as_pg_row() {
            Some(pg) => from_pg(pg),
            None => from_sqlite(row),
        }
    }
}

/// Where column `i` of `COLUMNS` is in `row`: at `i` when the statement selected them first
/// (all of the store's do), else wherever its name is.
fn ordinal(row: &PgRow, i: usize) -> Result<usize> {
    let name = NAMES[i];
    if row.columns().get(i).is_some_and(|c| c.name() == name) {
        return Ok(i);
    }
    row.columns()
        .iter()
        .position(|c| c.name() == name)
        .ok_or_else(|| Error::Internal(format!("record row without column {name}")))
}

fn from_pg(row: &PgRow) -> Result<Record> {
    let get = |i: usize| ordinal(row, i);
    let missing = || Error::Internal("timestamp column is null".into());
    let created_at = pg_time(row, get(CREATED_AT)?)?.ok_or_else(missing)?;
    Ok(Record {
        id: pg_id(row, get(ID)?)?,
        entity_id: row.try_get(get(ENTITY_ID)?).map_err(decode_error)?,
        data: pg_data(row, get(DATA)?)?,
        owner_id: row.try_get(get(OWNER_ID)?).map_err(decode_error)?,
        created_by: row.try_get(get(CREATED_BY)?).map_err(decode_error)?,
        number: row.try_get(get(NUMBER)?).map_err(decode_error)?,
        record_number: row.try_get(get(RECORD_NUMBER)?).map_err(decode_error)?,
        created_at,
        // Both columns are NOT NULL: NULL is a lean page's placeholder (`Columns::Lean`).
        updated_at: pg_time(row, get(UPDATED_AT)?)?.unwrap_or(created_at),
        deleted_at: pg_time(row, get(DELETED_AT)?)?,
        version: row.try_get::<Option<i64>, _>(get(VERSION)?).map_err(decode_error)?.unwrap_or(0),
    })
}

fn decode_error(e: sea_orm::sqlx::Error) -> Error {
    Error::Internal(format!("record row: {e}"))
}

/// The `uuid` column `id` (migration 28) in the form the engine stores and answers record ids
/// in: lowercase and hyphenated, which is also PostgreSQL's text form of a `uuid`. A text
/// column (as before migration 28) is read as the text it is.
fn pg_id(row: &PgRow, i: usize) -> Result<String> {
    let raw = row.try_get_raw(i).map_err(decode_error)?;
    if raw.type_info().name() != "UUID" {
        return row.try_get(i).map_err(decode_error);
    }
    let bad = |e: String| Error::Internal(format!("record id: {e}"));
    match raw.format() {
        // PostgreSQL's text of a uuid is the stored form already.
        PgValueFormat::Text => raw.as_str().map(str::to_owned).map_err(|e| bad(e.to_string())),
        PgValueFormat::Binary => {
            let bytes = raw.as_bytes().map_err(|e| bad(e.to_string()))?;
            let id = uuid::Uuid::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
            Ok(id.hyphenated().to_string())
        }
    }
}

/// A `jsonb` column: its text (or binary form: a version byte, then the text) parsed once.
fn pg_data(row: &PgRow, i: usize) -> Result<RecordData> {
    let raw = row.try_get_raw(i).map_err(decode_error)?;
    let bytes = raw.as_bytes().map_err(|e| Error::Internal(format!("record data: {e}")))?;
    let text = match raw.format() {
        PgValueFormat::Text => bytes,
        PgValueFormat::Binary => bytes.get(1..).unwrap_or_default(),
    };
    std::str::from_utf8(text)
        .ok()
        .and_then(RecordData::from_json_text)
        .ok_or_else(|| Error::Internal("record data is not a JSON object".into()))
}

/// A `timestamptz` column: its ISO text read by `time::parse_pg`, anything else (binary
/// results, years beyond 9999) by the driver.
fn pg_time(row: &PgRow, i: usize) -> Result<Option<DateTime<Utc>>> {
    let raw = row.try_get_raw(i).map_err(decode_error)?;
    if raw.is_null() {
        return Ok(None);
    }
    if raw.format() == PgValueFormat::Text
        && let Some(t) = raw.as_str().ok().and_then(time::parse_pg)
    {
        return Ok(Some(t));
    }
    row.try_get::<DateTime<Utc>, _>(i).map(Some).map_err(decode_error)
}

/// A SQLite row, through SeaORM's getters (`data` is JSON text there).
fn from_sqlite(row: &QueryResult) -> Result<Record> {
    let data: Map<String, Value> = serde_json::from_str(&row.try_get::<String>("", "data")?)?;
    let missing = || Error::Internal("timestamp column is null".into());
    let time = |col: &str| time::column(row, Dialect::Sqlite, col);
    Ok(Record {
        id: row.try_get("", "id")?,
        entity_id: row.try_get("", "entity_id")?,
        data: data.into(),
        owner_id: row.try_get("", "owner_id")?,
        created_by: row.try_get("", "created_by")?,
        number: row.try_get("", "number")?,
        record_number: row.try_get("", "record_number")?,
        created_at: time("created_at")?.ok_or_else(missing)?,
        updated_at: time("updated_at")?.ok_or_else(missing)?,
        deleted_at: time("deleted_at")?,
        version: row.try_get("", "version")?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_positions_are_those_of_the_selected_columns() {
        let selected: Vec<&str> = super::super::COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(selected, super::NAMES);
    }
}
