//! The score itself, a pure function of a record's signals at an instant and the tenant's
//! weights: the base plus every weight whose signal holds, bound to 0..100, with one factor per
//! weight that counted (and one for the bound when it bit), so the factors add up to the score.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::stage_history::{MIN_SAMPLES, StageHistory};
use super::touches::Touch;
use super::weights::{Signal, Weight};

/// What the score of one record is computed from.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub created_at: DateTime<Utc>,
    /// When the newest activity about the record was logged or email about it sent.
    pub last_touch: Option<DateTime<Utc>>,
    /// Which of the two the newest was.
    pub last_touch_by: Touch,
    /// Meetings scheduled from now on.
    pub meetings_ahead: usize,
    /// Times the proposal was viewed (up to now).
    pub proposal_views: usize,
    pub stage: Option<String>,
    pub stage_since: DateTime<Utc>,
    /// How long the tenant's records stayed in `stage` (`STAGE_AGE` compares with its median).
    pub stage_history: StageHistory,
    pub amount: Option<f64>,
    /// The average amount of the tenant's won records (none won: `None`).
    pub won_average: Option<f64>,
}

/// One reason for points of a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Factor {
    pub signal: Signal,
    pub effect: i32,
    pub detail: String,
}

/// Whole days (rounded down) from `from` to `to`.
fn days(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_seconds() as f64 / 86_400.0
}

/// A length of time in its largest whole unit (`41 days`, `3 hours`, `1 minute`, `12 seconds`).
fn span(d: chrono::Duration) -> String {
    let (n, unit) = match d {
        d if d.num_days() >= 1 => (d.num_days(), "day"),
        d if d.num_hours() >= 1 => (d.num_hours(), "hour"),
        d if d.num_minutes() >= 1 => (d.num_minutes(), "minute"),
        d => (d.num_seconds().max(0), "second"),
    };
    times(usize::try_from(n).unwrap_or(0), unit)
}

/// `n thing(s)`.
fn times(n: usize, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

/// Why `w` counts for `i` at `now`, or `None` when its signal does not hold.
fn holds(w: &Weight, i: &Inputs, now: DateTime<Utc>) -> Option<String> {
    let count = |n: usize| n as f64 >= w.threshold.max(1.0);
    match w.signal {
        Signal::Base => Some(format!("every record starts at {}", w.effect)),
        Signal::NoRecentTouch => {
            let since = i.last_touch.unwrap_or(i.created_at);
            let quiet = days(since, now);
            (quiet >= w.threshold).then(|| match i.last_touch {
                Some(_) => format!("no activity or email for {} days", quiet.floor()),
                None => format!("no activity or email in the {} days since it was created", quiet.floor()),
            })
        }
        Signal::RecentActivity => {
            let t = i.last_touch?;
            let ago = days(t, now);
            (ago < w.threshold).then(|| format!("{} {:.1} days ago", i.last_touch_by.what(), ago.max(0.0)))
        }
        Signal::MeetingScheduled => {
            count(i.meetings_ahead).then(|| format!("{} scheduled", times(i.meetings_ahead, "meeting")))
        }
        Signal::ProposalViewed => count(i.proposal_views)
            .then(|| format!("the proposal was viewed {}", times(i.proposal_views, "time"))),
        Signal::StageAge => {
            let stage = i.stage.as_deref()?;
            let age = now - i.stage_since;
            match i.stage_history.usual() {
                Some(median) => (age > median).then(|| {
                    format!(
                        "in {stage} for {}; this tenant's records leave it after {} (median of {})",
                        span(age),
                        span(median),
                        i.stage_history.samples
                    )
                }),
                None => (days(i.stage_since, now) > w.threshold).then(|| {
                    format!(
                        "in {stage} for {} (more than the threshold of {} days: {} of the tenant's records have left it, {MIN_SAMPLES} are needed to compare with its history)",
                        span(age),
                        w.threshold,
                        i.stage_history.samples
                    )
                }),
            }
        }
        Signal::AmountAboveWonAverage => {
            let (amount, average) = (i.amount?, i.won_average.filter(|a| *a > 0.0)?);
            (amount > w.threshold * average).then(|| {
                format!(
                    "the amount {amount} is {:.1} times the average won amount {average:.2}",
                    amount / average
                )
            })
        }
        Signal::Clamped => None,
    }
}

/// The score of `i` at `now` under `weights`, with its factors.
pub fn score(weights: &[Weight], i: &Inputs, now: DateTime<Utc>) -> (i32, Vec<Factor>) {
    let mut factors: Vec<Factor> = weights
        .iter()
        .filter(|w| w.effect != 0 || w.signal == Signal::Base)
        .filter_map(|w| Some(Factor { signal: w.signal, effect: w.effect, detail: holds(w, i, now)? }))
        .collect();
    let sum: i32 = factors.iter().map(|f| f.effect).sum();
    let score = sum.clamp(0, 100);
    if score != sum {
        factors.push(Factor {
            signal: Signal::Clamped,
            effect: score - sum,
            detail: format!("the factors add up to {sum}; a score stays within 0..100"),
        });
    }
    (score, factors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::confidence::weights::seed;
    use chrono::Duration;

    fn quiet(now: DateTime<Utc>) -> Inputs {
        Inputs {
            created_at: now,
            last_touch: None,
            last_touch_by: Touch::Activity,
            meetings_ahead: 0,
            proposal_views: 0,
            stage: Some("Proposal".into()),
            stage_since: now,
            stage_history: StageHistory::default(),
            amount: None,
            won_average: None,
        }
    }

    fn signals(factors: &[Factor]) -> Vec<Signal> {
        factors.iter().map(|f| f.signal).collect()
    }

    #[test]
    fn a_new_record_scores_the_base() {
        let now = Utc::now();
        let (s, f) = score(&seed(), &quiet(now), now);
        assert_eq!((s, signals(&f)), (50, vec![Signal::Base]));
    }

    #[test]
    fn each_signal_adds_its_weight() {
        let now = Utc::now();
        let i = Inputs {
            last_touch: Some(now - Duration::hours(1)),
            meetings_ahead: 1,
            proposal_views: 3,
            amount: Some(400.0),
            won_average: Some(100.0),
            stage_since: now - Duration::days(40),
            ..quiet(now)
        };
        let (s, f) = score(&seed(), &i, now);
        assert_eq!(s, 50 + 5 + 15 + 20 - 10 - 5, "{f:?}");
        assert_eq!(f.iter().map(|f| f.effect).sum::<i32>(), s);
        assert!(f.iter().any(|f| f.detail == "the proposal was viewed 3 times"), "{f:?}");
    }

    #[test]
    fn silence_costs_its_weight_and_the_bound_is_a_factor() {
        let now = Utc::now();
        let i = Inputs { created_at: now - Duration::days(6), ..quiet(now) };
        let (s, f) = score(&seed(), &i, now);
        assert_eq!(s, 40);
        assert_eq!(f[1].detail, "no activity or email in the 6 days since it was created");
        let heavy = [Weight { signal: Signal::NoRecentTouch, effect: -100, threshold: 5.0 }, seed()[0]];
        let (s, f) = score(&heavy, &i, now);
        assert_eq!((s, f.iter().map(|f| f.effect).sum::<i32>()), (0, 0));
        assert_eq!(f.last().map(|f| f.signal), Some(Signal::Clamped));
    }
}
