//! Timestamps: UTC, millisecond precision, one text format. Truncating to milliseconds at the
//! source makes values round-trip exactly through both databases and through cursors.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::QueryResult;

use crate::{Dialect, Error, Result};

/// Now, truncated to milliseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// The one text form of a timestamp: `2026-01-31T09:30:00.000Z` (sorts as text).
pub fn format(ts: &DateTime<Utc>) -> String {
    // The RFC 3339 writer, not a strftime pattern: a page formats two timestamps per record,
    // and a pattern is parsed again on every call.
    ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parses RFC 3339 (any offset) into UTC, truncated to milliseconds.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc).trunc_subsecs(3))
}

/// Reads a nullable timestamp column: TIMESTAMPTZ on PostgreSQL; on SQLite the text written
/// either by the engine (`format`) or by SeaORM models (RFC 3339, or `YYYY-MM-DD HH:MM:SS+00:00`).
pub fn column(row: &QueryResult, d: Dialect, col: &str) -> Result<Option<DateTime<Utc>>> {
    match d {
        Dialect::Postgres => Ok(row.try_get::<Option<DateTime<Utc>>>("", col)?),
        Dialect::Sqlite => match row.try_get::<Option<String>>("", col)? {
            None => Ok(None),
            Some(s) => parse(&s)
                .or_else(|| {
                    chrono::NaiveDateTime::parse_from_str(&s, "%Y-%m-%d %H:%M:%S%.f%:z")
                        .ok()
                        .map(|n| n.and_utc())
                })
                .map(Some)
                .ok_or_else(|| Error::Internal(format!("bad timestamp {s:?} in {col}"))),
        },
    }
}
