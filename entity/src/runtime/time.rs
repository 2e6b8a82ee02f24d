//! Timestamps: UTC, millisecond precision, one text format. Truncating to milliseconds at the
//! source makes values round-trip exactly through both databases and through cursors.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, truncated to milliseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// The one text form of a timestamp: `2026-01-31T09:30:00.000Z` (sorts as text).
pub fn format(ts: &DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses RFC 3339 (any offset) into UTC, truncated to milliseconds.
pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc).trunc_subsecs(3))
}
