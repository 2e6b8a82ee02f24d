//! The tenant's calendar: periods ("today", "this week"…) and date buckets (day, week,
//! month, quarter, year) in an IANA time zone, as UTC instants — so SQL compares plain
//! timestamps while the boundaries follow the tenant's local midnight, DST included.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Today,
    ThisWeek,
    ThisMonth,
    ThisQuarter,
    ThisYear,
    All,
}

impl Period {
    pub const ALL: [Period; 6] = [
        Period::Today,
        Period::ThisWeek,
        Period::ThisMonth,
        Period::ThisQuarter,
        Period::ThisYear,
        Period::All,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

/// The instants `[start, end)` of a period around `now` in `tz` (`None`: no bound).
pub fn period_range(period: Period, now: DateTime<Utc>, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let local = now.with_timezone(&tz).date_naive();
    let (start, end) = match period {
        Period::All => return None,
        Period::Today => (local, local + Duration::days(1)),
        Period::ThisWeek => {
            let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
            (monday, monday + Duration::days(7))
        }
        Period::ThisMonth => (first_of(local.year(), local.month()), next_month(local.year(), local.month())),
        Period::ThisQuarter => {
            let q = (local.month() - 1) / 3 * 3 + 1;
            (first_of(local.year(), q), next_month(local.year(), q + 2))
        }
        Period::ThisYear => (first_of(local.year(), 1), first_of(local.year() + 1, 1)),
    };
    Some((midnight(start, tz), midnight(end, tz)))
}

fn first_of(year: i32, month: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default()
}

fn next_month(year: i32, month: u32) -> NaiveDate {
    if month == 12 { first_of(year + 1, 1) } else { first_of(year, month + 1) }
}

/// The first instant of a local day (the earliest, when midnight is skipped or repeated).
pub fn midnight(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        // A zone that skips midnight (DST at 00:00): the day starts an hour later.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// The bucket label of a local date: `2026-11-21`, `2026-W47`, `2026-11`, `2026-Q4`, `2026`.
pub fn bucket_label(date: NaiveDate, bucket: Bucket) -> String {
    match bucket {
        Bucket::Day => date.format("%Y-%m-%d").to_string(),
        Bucket::Week => {
            let w = date.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }
        Bucket::Month => date.format("%Y-%m").to_string(),
        Bucket::Quarter => format!("{}-Q{}", date.year(), (date.month() - 1) / 3 + 1),
        Bucket::Year => date.year().to_string(),
    }
}

/// The first local day of the bucket holding `day`.
pub fn bucket_start(day: NaiveDate, bucket: Bucket) -> NaiveDate {
    match bucket {
        Bucket::Day => day,
        Bucket::Week => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        Bucket::Month => first_of(day.year(), day.month()),
        Bucket::Quarter => first_of(day.year(), (day.month() - 1) / 3 * 3 + 1),
        Bucket::Year => first_of(day.year(), 1),
    }
}

/// The first local day of the bucket after the one starting at `start`.
pub fn next_bucket(start: NaiveDate, bucket: Bucket) -> NaiveDate {
    match bucket {
        Bucket::Day => start + Duration::days(1),
        Bucket::Week => start + Duration::days(7),
        Bucket::Month => next_month(start.year(), start.month()),
        Bucket::Quarter => next_month(start.year(), start.month() + 2),
        Bucket::Year => first_of(start.year() + 1, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::time;

    #[test]
    fn periods_follow_the_tenant_zone() {
        let tz: Tz = "Asia/Kolkata".parse().expect("zone");
        // 20:00 UTC on the 21st is already the 22nd in India.
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 20, 0, 0).single().expect("an instant");
        let (s, e) = period_range(Period::Today, now, tz).expect("range");
        assert_eq!(
            (time::format(&s), time::format(&e)),
            ("2026-11-21T18:30:00.000Z".into(), "2026-11-22T18:30:00.000Z".into())
        );
        let (s, _) = period_range(Period::ThisWeek, now, tz).expect("range");
        assert_eq!(time::format(&s), "2026-11-15T18:30:00.000Z");
        let (s, e) = period_range(Period::ThisQuarter, now, tz).expect("range");
        assert_eq!(
            (s.date_naive().to_string(), e.date_naive().to_string()),
            ("2026-09-30".into(), "2026-12-31".into())
        );
        assert!(period_range(Period::All, now, tz).is_none());
    }

    #[test]
    fn bucket_labels() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 21).expect("a date");
        assert_eq!(bucket_label(d, Bucket::Day), "2026-11-21");
        assert_eq!(bucket_label(d, Bucket::Week), "2026-W47");
        assert_eq!(bucket_label(d, Bucket::Month), "2026-11");
        assert_eq!(bucket_label(d, Bucket::Quarter), "2026-Q4");
        assert_eq!(bucket_label(d, Bucket::Year), "2026");
    }
}
