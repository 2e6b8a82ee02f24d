//! Timestamps: UTC, millisecond precision, one text format. Truncating to milliseconds at the
//! source makes values round-trip exactly through both databases and through cursors.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::QueryResult;

use crate::{Dialect, Error, Result};

/// Now, truncated to milliseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// Instants pinned per tenant (`pin`).
static PINNED: LazyLock<RwLock<HashMap<String, DateTime<Utc>>>> = LazyLock::new(RwLock::default);

/// Pins the instant `now_for(tenant_id)` answers (`None`: the real clock again). What a
/// process embedding the engine uses to evaluate a tenant's TODAY()/NOW() formulas at a chosen
/// instant — its tests, the way `TimeScanner::pass_at` runs a time scan at one.
pub fn pin(tenant_id: &str, at: Option<DateTime<Utc>>) {
    {
        let mut pinned = PINNED.write().unwrap_or_else(PoisonError::into_inner);
        match at {
            Some(at) => pinned.insert(tenant_id.to_owned(), at.trunc_subsecs(3)),
            None => pinned.remove(tenant_id),
        };
    }
    PIN_MOVES.send_modify(|n| *n = n.wrapping_add(1));
}

/// Counts the calls of `pin`: what `pin_moves` watches.
static PIN_MOVES: LazyLock<tokio::sync::watch::Sender<u64>> =
    LazyLock::new(|| tokio::sync::watch::channel(0).0);

/// Marked changed whenever an instant is pinned or unpinned (for any tenant): a pinned clock
/// jumps rather than runs, so what waits for a tenant's time to reach an instant (a day's end)
/// also looks again when this changes.
pub fn pin_moves() -> tokio::sync::watch::Receiver<u64> {
    PIN_MOVES.subscribe()
}

/// Whether the tenant's clock is pinned (it then moves only by `pin`).
pub fn is_pinned(tenant_id: &str) -> bool {
    PINNED.read().unwrap_or_else(PoisonError::into_inner).contains_key(tenant_id)
}

/// Now for a tenant's formulas: the instant pinned for it, else `now()`.
pub fn now_for(tenant_id: &str) -> DateTime<Utc> {
    let pinned = PINNED.read().unwrap_or_else(PoisonError::into_inner);
    pinned.get(tenant_id).copied().unwrap_or_else(now)
}

/// The one text form of a timestamp: `2026-01-31T09:30:00.000Z` (sorts as text).
pub fn format(ts: &DateTime<Utc>) -> String {
    // The RFC 3339 writer, not a strftime pattern: a page formats two timestamps per record,
    // and a pattern is parsed again on every call.
    ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A timestamp as a statement value, the way the engine stores it: TIMESTAMPTZ on PostgreSQL,
/// the text of `format` on SQLite (so it compares with the engine's stored text as text).
pub fn value(d: Dialect, ts: DateTime<Utc>) -> sea_orm::Value {
    match d {
        Dialect::Postgres => ts.into(),
        Dialect::Sqlite => format(&ts).into(),
    }
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

/// PostgreSQL's ISO text of a `timestamptz` (`2026-01-31 09:30:00.123+00`: DateStyle ISO, as
/// the driver sets it; fraction of up to 9 digits and offset `±HH[:MM[:SS]]` optional), read by
/// position instead of chrono's format interpreter. `None` for any other shape (a year beyond
/// 9999 or BC, `infinity`), which callers hand to the driver's own decoder.
pub fn parse_pg(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        b.get(from..from + len)?
            .iter()
            .try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b' ') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 2)?, num(8, 2)?)?;
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut at = 19;
    let mut nanos = 0u32;
    if sep(at, b'.') {
        at += 1;
        let digits = b[at..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(at, digits)? * 10u32.pow(9 - digits as u32);
        at += digits;
    }
    let mut offset = 0i64;
    if at < b.len() {
        let sign = match b[at] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (mut secs, mut part, mut pos) = (0i64, 0, at + 1);
        while pos < b.len() && part < 3 {
            if part > 0 {
                if !sep(pos, b':') {
                    return None;
                }
                pos += 1;
            }
            secs += i64::from(num(pos, 2)?) * [3600, 60, 1][part];
            pos += 2;
            part += 1;
        }
        if part == 0 || pos != b.len() {
            return None;
        }
        offset = sign * secs;
    }
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    let local = chrono::NaiveDateTime::new(date, time);
    Some(local.and_utc() - chrono::Duration::seconds(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_text_timestamps_read_as_the_driver_reads_them() {
        for s in [
            "2026-01-31 09:30:00+00",
            "2026-01-31 09:30:00.1+00",
            "2026-01-31 09:30:00.123+00",
            "2026-01-31 09:30:00.123456+00",
            "2024-02-29 23:59:59.999999+05:30",
            "2024-02-29 00:00:00-08",
            "2026-01-31 09:30:00.123456789+00",
        ] {
            let want = chrono::DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%#z")
                .map(|d| d.with_timezone(&Utc))
                .expect(s);
            assert_eq!(parse_pg(s), Some(want), "{s}");
        }
        // Offsets of seconds (local mean time before 1900), which chrono's patterns do not read.
        let lmt = parse_pg("1890-01-01 12:00:00+00:09:21").map(|t| t.to_rfc3339());
        assert_eq!(lmt.as_deref(), Some("1890-01-01T11:50:39+00:00"));
        for s in [
            "infinity",
            "12026-01-31 09:30:00+00",
            "2026-01-31 09:30:00 BC",
            "2026-02-30 09:30:00+00",
            "2026-01-31 09:30:00.+00",
            "2026-01-31 09:30:00+0",
            "2026-01-31T09:30:00+00",
            "2026-01-31 09:30:00+00:",
        ] {
            assert_eq!(parse_pg(s), None, "{s}");
        }
    }
}
