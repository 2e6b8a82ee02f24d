//! Cron schedules of workflow triggers, evaluated in a time zone: which fire time (if any) fell
//! in a scanned interval. Expressions are standard five-field cron (`minute hour day month
//! weekday`, names such as `MON-FRI` allowed) or six fields with seconds first.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// A parsed schedule in its time zone.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    schedule: cron::Schedule,
    tz: Tz,
}

impl CronSchedule {
    /// Parses `expr` for the IANA zone `tz`; the error says which part is wrong.
    pub fn parse(expr: &str, tz: &str) -> Result<CronSchedule, String> {
        let fields = expr.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expr}"),
            6 => expr.to_owned(),
            _ => return Err(format!("a cron expression has 5 fields (or 6 with seconds), not {fields}")),
        };
        let schedule =
            cron::Schedule::from_str(&full).map_err(|e| format!("invalid cron expression: {e}"))?;
        let tz = Tz::from_str(tz).map_err(|_| format!("unknown time zone `{tz}`"))?;
        Ok(CronSchedule { schedule, tz })
    }

    /// The last fire time in `(from, to]`, if any. Several missed fires (the server was down)
    /// collapse into the latest one: a schedule catches up once, not once per missed tick.
    pub fn latest_in(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule
            .after(&from.with_timezone(&self.tz))
            .map(|t| t.with_timezone(&Utc))
            .take_while(|t| *t <= to)
            .last()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("valid time")
    }

    #[test]
    fn weekday_mornings_fire_at_nine_in_the_tenants_zone() {
        // 09:00 in Kolkata (UTC+05:30) is 03:30 UTC.
        let s = CronSchedule::parse("0 9 * * MON-FRI", "Asia/Kolkata").expect("parses");
        let monday = utc(2026, 11, 23, 0, 0);
        assert_eq!(s.latest_in(monday, utc(2026, 11, 23, 3, 29)), None);
        assert_eq!(s.latest_in(monday, utc(2026, 11, 23, 3, 30)), Some(utc(2026, 11, 23, 3, 30)));
        // Saturday and Sunday do not fire.
        assert_eq!(s.latest_in(utc(2026, 11, 28, 0, 0), utc(2026, 11, 29, 23, 0)), None);
    }

    #[test]
    fn missed_fires_collapse_into_the_latest() {
        let s = CronSchedule::parse("0 * * * *", "UTC").expect("parses");
        assert_eq!(s.latest_in(utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 5, 30)), Some(utc(2026, 1, 1, 5, 0)));
    }

    #[test]
    fn daylight_saving_keeps_local_time() {
        // New York: 09:00 is 14:00 UTC in winter and 13:00 UTC in summer.
        let s = CronSchedule::parse("0 9 * * *", "America/New_York").expect("parses");
        assert_eq!(
            s.latest_in(utc(2026, 1, 15, 0, 0), utc(2026, 1, 15, 23, 0)),
            Some(utc(2026, 1, 15, 14, 0))
        );
        assert_eq!(
            s.latest_in(utc(2026, 7, 15, 0, 0), utc(2026, 7, 15, 23, 0)),
            Some(utc(2026, 7, 15, 13, 0))
        );
    }

    #[test]
    fn bad_expressions_and_zones_are_refused() {
        assert!(CronSchedule::parse("* * *", "UTC").expect_err("refused").contains("5 fields"));
        assert!(CronSchedule::parse("99 * * * *", "UTC").expect_err("refused").contains("invalid cron"));
        assert!(CronSchedule::parse("0 9 * * *", "Mars/Olympus").expect_err("refused").contains("time zone"));
    }
}
