//! Decoding record rows. On PostgreSQL a row is read straight from the driver's buffers:
//! columns by position (every record statement selects `COLUMNS` first, in order, which is
//! checked), timestamps by `time::parse_pg`, `data` parsed from its text once. Through
//! SeaORM's getters a 50-record page spent a quarter of its server CPU in a name lookup per
//! column, chrono's format interpreter per timestamp and a detour through `Json<Value>`
//! (yardstick Q1, `perf`). SQLite rows take the getters: their statements cost no network
//! and their timestamps are text the engine wrote.

use chrono::{DateTime, Utc};
use sea_orm::QueryResult;
use sea_orm::sqlx::postgres::{PgRow, PgValueFormat};
use sea_orm::sqlx::{Column, Row, ValueRef};
use serde_json::{Map, Value};

use super::Record;
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
    pub(super) fn from_row(row: &QueryResult, d: Dialect) -> Result<Record> {
        match (d, row.try_as_pg_row()) {
            (Dialect::Postgres, Some(pg)) => from_pg(pg),
            _ => from_getters(row, d),
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
    Ok(Record {
        id: row.try_get(get(ID)?).map_err(decode_error)?,
        entity_id: row.try_get(get(ENTITY_ID)?).map_err(decode_error)?,
        data: pg_data(row, get(DATA)?)?,
        owner_id: row.try_get(get(OWNER_ID)?).map_err(decode_error)?,
        created_by: row.try_get(get(CREATED_BY)?).map_err(decode_error)?,
        number: row.try_get(get(NUMBER)?).map_err(decode_error)?,
        record_number: row.try_get(get(RECORD_NUMBER)?).map_err(decode_error)?,
        created_at: pg_time(row, get(CREATED_AT)?)?.ok_or_else(missing)?,
        updated_at: pg_time(row, get(UPDATED_AT)?)?.ok_or_else(missing)?,
        deleted_at: pg_time(row, get(DELETED_AT)?)?,
        version: row.try_get(get(VERSION)?).map_err(decode_error)?,
    })
}

fn decode_error(e: sea_orm::sqlx::Error) -> Error {
    Error::Internal(format!("record row: {e}"))
}

/// A `jsonb` column: its text (or binary form: a version byte, then the text) parsed once.
fn pg_data(row: &PgRow, i: usize) -> Result<Map<String, Value>> {
    let raw = row.try_get_raw(i).map_err(decode_error)?;
    let bytes = raw.as_bytes().map_err(|e| Error::Internal(format!("record data: {e}")))?;
    let text = match raw.format() {
        PgValueFormat::Text => bytes,
        PgValueFormat::Binary => bytes.get(1..).unwrap_or_default(),
    };
    serde_json::from_slice::<Map<String, Value>>(text)
        .map_err(|e| Error::Internal(format!("record data is not a JSON object: {e}")))
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

/// The record through SeaORM's getters (SQLite, and any row not from the raw driver).
fn from_getters(row: &QueryResult, d: Dialect) -> Result<Record> {
    let data = match d {
        Dialect::Postgres => row.try_get::<Value>("", "data")?,
        Dialect::Sqlite => serde_json::from_str(&row.try_get::<String>("", "data")?)?,
    };
    let Value::Object(data) = data else {
        return Err(Error::Internal("record data is not an object".into()));
    };
    let missing = || Error::Internal("timestamp column is null".into());
    Ok(Record {
        id: row.try_get("", "id")?,
        entity_id: row.try_get("", "entity_id")?,
        data,
        owner_id: row.try_get("", "owner_id")?,
        created_by: row.try_get("", "created_by")?,
        number: row.try_get("", "number")?,
        record_number: row.try_get("", "record_number")?,
        created_at: time::column(row, d, "created_at")?.ok_or_else(missing)?,
        updated_at: time::column(row, d, "updated_at")?.ok_or_else(missing)?,
        deleted_at: time::column(row, d, "deleted_at")?,
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
