//! The placeholders of a Daily Focus rule's filter, replaced per caller and day before the
//! filter is parsed (so SQL sees plain values):
//! - `$today`, `$today+N`, `$today-N`: the day asked for (`dailyFocus(date)`, by default today
//!   in the caller's time zone), N days later or earlier, as a DATE (`2026-12-10`);
//! - `$startOfDay`, `$startOfDay+N`, `$startOfDay-N`: the first instant of that day (N days
//!   on) in the caller's time zone, as a DATETIME in UTC — "due today" on a DATETIME field is
//!   `{"gte": "$startOfDay", "lt": "$startOfDay+1"}`;
//! - `$now`: the day asked for at the caller's current time of day, as a DATETIME;
//! - `$me` (or `$currentUser`, as in role rules): the caller's user id.
//!
//! Any other string that starts with `$` is refused when a rule is stored, so a mistyped
//! placeholder is an error, never a literal that matches nothing.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::runtime::time;

/// The most days a placeholder may shift (ten years).
const MAX_DAYS: u64 = 3660;

/// What the placeholders stand for: one caller on one day.
#[derive(Debug, Clone)]
pub struct Clock {
    /// The day asked for, in `zone`.
    pub date: NaiveDate,
    /// The caller's time zone (their profile's, else the tenant's).
    pub zone: Tz,
    /// The real instant now.
    pub now: DateTime<Utc>,
    pub user_id: String,
}

impl Clock {
    /// Today in `zone` at `now`.
    pub fn today(zone: Tz, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&zone).date_naive()
    }

    /// What `s` stands for: `Ok(None)` when `s` is no placeholder, an error naming `s` when it
    /// looks like one (`$…`) but is not.
    pub fn resolve(&self, s: &str) -> Result<Option<Value>, String> {
        let Some(name) = s.strip_prefix('$') else { return Ok(None) };
        let unknown = || format!("unknown placeholder `{s}` ($today, $startOfDay, each ±N days, $now, $me)");
        if name == "me" || name == "currentUser" {
            return Ok(Some(Value::String(self.user_id.clone())));
        }
        if name == "now" {
            let at = self.date.and_time(self.now.with_timezone(&self.zone).time());
            return Ok(Some(Value::String(time::format(&self.instant(at)))));
        }
        let (base, days) = match name.find(['+', '-']) {
            Some(i) => {
                let n: i64 = name[i..].parse().map_err(|_| unknown())?;
                (&name[..i], n)
            }
            None => (name, 0),
        };
        if days.unsigned_abs() > MAX_DAYS {
            return Err(format!("`{s}` shifts more than {MAX_DAYS} days"));
        }
        let day = shift(self.date, days).ok_or_else(unknown)?;
        match base {
            "today" => Ok(Some(Value::String(day.format("%Y-%m-%d").to_string()))),
            "startOfDay" => {
                Ok(Some(Value::String(time::format(&self.instant(day.and_time(NaiveTime::MIN))))))
            }
            _ => Err(unknown()),
        }
    }

    /// The UTC instant of local time `at` in the zone.
    fn instant(&self, at: chrono::NaiveDateTime) -> DateTime<Utc> {
        instant(self.zone, at)
    }

    /// The first instant of the day after `now`'s in `zone`: when "today" there turns.
    pub fn next_midnight(zone: Tz, now: DateTime<Utc>) -> DateTime<Utc> {
        let tomorrow = shift(Self::today(zone, now), 1).unwrap_or(NaiveDate::MAX);
        instant(zone, tomorrow.and_time(NaiveTime::MIN))
    }

    /// `filter` with every placeholder replaced; the first unknown one is the error.
    pub fn substitute(&self, filter: &Value) -> Result<Value, String> {
        Ok(match filter {
            Value::String(s) => self.resolve(s)?.unwrap_or_else(|| filter.clone()),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.substitute(v)).collect::<Result<_, _>>()?)
            }
            Value::Object(m) => Value::Object(
                m.iter().map(|(k, v)| Ok((k.clone(), self.substitute(v)?))).collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
}

/// The UTC instant of local time `at` in `zone` (the earlier one when a clock change repeats
/// it, the first after the gap when a clock change skips it).
fn instant(zone: Tz, at: chrono::NaiveDateTime) -> DateTime<Utc> {
    zone.from_local_datetime(&at)
        .earliest()
        .or_else(|| zone.from_local_datetime(&(at + chrono::Duration::hours(1))).earliest())
        .map_or_else(|| at.and_utc(), |t| t.with_timezone(&Utc))
}

fn shift(day: NaiveDate, days: i64) -> Option<NaiveDate> {
    if days >= 0 {
        day.checked_add_days(Days::new(days.unsigned_abs()))
    } else {
        day.checked_sub_days(Days::new(days.unsigned_abs()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn clock(zone: Tz) -> Clock {
        Clock {
            date: NaiveDate::from_ymd_opt(2030, 3, 10).expect("a date"),
            zone,
            now: "2030-03-09T21:15:00Z".parse().expect("an instant"),
            user_id: "u1".into(),
        }
    }

    #[test]
    fn placeholders_stand_for_the_day_in_the_callers_zone() {
        let c = clock(chrono_tz::Asia::Kolkata);
        let f = json!({"and": [{"due": {"gte": "$startOfDay", "lt": "$startOfDay+1"}},
                                {"close": {"lt": "$today", "gte": "$today-7"}},
                                {"owner": {"eq": "$me"}}, {"at": {"lte": "$now"}}, {"name": {"eq": "plain"}}]});
        let out = c.substitute(&f).expect("substitutes");
        assert_eq!(
            out,
            json!({"and": [{"due": {"gte": "2030-03-09T18:30:00.000Z", "lt": "2030-03-10T18:30:00.000Z"}},
                           {"close": {"lt": "2030-03-10", "gte": "2030-03-03"}},
                           {"owner": {"eq": "u1"}}, {"at": {"lte": "2030-03-09T21:15:00.000Z"}},
                           {"name": {"eq": "plain"}}]})
        );
    }

    #[test]
    fn the_next_midnight_is_the_callers() {
        let now: DateTime<Utc> = "2030-03-09T21:15:00Z".parse().expect("an instant");
        let kolkata = Clock::next_midnight(chrono_tz::Asia::Kolkata, now);
        assert_eq!(kolkata, "2030-03-10T18:30:00Z".parse::<DateTime<Utc>>().expect("an instant"));
        let utc = Clock::next_midnight(chrono_tz::UTC, now);
        assert_eq!(utc, "2030-03-10T00:00:00Z".parse::<DateTime<Utc>>().expect("an instant"));
    }

    #[test]
    fn a_mistyped_placeholder_is_an_error() {
        let c = clock(chrono_tz::UTC);
        for bad in ["$tody", "$today+x", "$today+99999", "$startOfDay*2", "$"] {
            assert!(c.substitute(&json!({"x": {"eq": bad}})).is_err(), "{bad}");
        }
    }
}
