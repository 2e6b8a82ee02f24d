//! The confidence signals and a tenant's weights for them. A weight is a signal, the points it
//! adds (or, negative, takes) when it holds, and the threshold that decides when it holds; the
//! seed weights are `seed`. Stored per tenant as one JSON document (`confidence_weights`),
//! whose presence turns the meter on (`stored`); a tenant's stored weights override the seed
//! signal by signal.

use sea_orm::{ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};

use crate::models::confidence_weight;
use crate::runtime::time;
use crate::{Error, FieldError, Result};

/// What moves a pipeline record's confidence score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Signal {
    /// The score every record starts from (its effect).
    Base,
    /// No activity (calls, emails, meetings, notes) for `threshold` days.
    NoRecentTouch,
    /// An activity logged within the last `threshold` days.
    RecentActivity,
    /// At least `threshold` meetings scheduled from now on.
    MeetingScheduled,
    /// The proposal viewed at least `threshold` times.
    ProposalViewed,
    /// In its current stage longer than the tenant's median stay in it (`stage_history`), or,
    /// with too little history, for more than `threshold` days.
    StageAge,
    /// An amount above `threshold` times the average of the tenant's won records.
    AmountAboveWonAverage,
    /// Not a weight: the points the 0..100 bound took off (or added), so the factors add up.
    Clamped,
}

impl Signal {
    /// Every signal a weight may be set for, in the order weights are listed.
    pub const WEIGHTED: [Signal; 7] = [
        Signal::Base,
        Signal::NoRecentTouch,
        Signal::RecentActivity,
        Signal::MeetingScheduled,
        Signal::ProposalViewed,
        Signal::StageAge,
        Signal::AmountAboveWonAverage,
    ];

    /// The name clients see (the GraphQL enum value).
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Base => "BASE",
            Signal::NoRecentTouch => "NO_RECENT_TOUCH",
            Signal::RecentActivity => "RECENT_ACTIVITY",
            Signal::MeetingScheduled => "MEETING_SCHEDULED",
            Signal::ProposalViewed => "PROPOSAL_VIEWED",
            Signal::StageAge => "STAGE_AGE",
            Signal::AmountAboveWonAverage => "AMOUNT_ABOVE_WON_AVERAGE",
            Signal::Clamped => "CLAMPED",
        }
    }

    /// The signal named `s` (its GraphQL enum value).
    pub fn parse(s: &str) -> Option<Signal> {
        Signal::WEIGHTED.into_iter().chain([Signal::Clamped]).find(|x| x.as_str() == s)
    }

    /// What the signal is and what its threshold means (the enum value's description).
    pub fn about(self) -> &'static str {
        match self {
            Signal::Base => {
                "The score every record starts from: the weight's effect (its threshold is unused)."
            }
            Signal::NoRecentTouch => {
                "No activity or email logged about the record for `threshold` days (counted from its creation when it has none)."
            }
            Signal::RecentActivity => {
                "An activity or email logged about the record within the last `threshold` days."
            }
            Signal::MeetingScheduled => {
                "At least `threshold` meetings (activities whose type is `Meeting`) scheduled from now on."
            }
            Signal::ProposalViewed => {
                "The proposal viewed at least `threshold` times (`recordConfidenceSignal` with PROPOSAL_VIEWED)."
            }
            Signal::StageAge => {
                "In its current stage for longer than this tenant's records usually stay in it (the median of the recent stays, once at least 5 records have left it), else for more than `threshold` days."
            }
            Signal::AmountAboveWonAverage => {
                "An amount (the pipeline's first CURRENCY field) above `threshold` times the average of the tenant's won records."
            }
            Signal::Clamped => {
                "Not a weight: the points the 0..100 bound took off or added, so the factors add up to the score."
            }
        }
    }
}

/// One weight: the points `signal` is worth when it holds, as `threshold` decides.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Weight {
    pub signal: Signal,
    pub effect: i32,
    pub threshold: f64,
}

/// The seed weights (a tenant that set none has these): no email or activity for 5 days −10,
/// the proposal opened 3 times +20, a meeting scheduled +15, on a base of 50.
pub fn seed() -> Vec<Weight> {
    let w = |signal, effect, threshold| Weight { signal, effect, threshold };
    vec![
        w(Signal::Base, 50, 0.0),
        w(Signal::NoRecentTouch, -10, 5.0),
        w(Signal::RecentActivity, 5, 2.0),
        w(Signal::MeetingScheduled, 15, 1.0),
        w(Signal::ProposalViewed, 20, 3.0),
        w(Signal::StageAge, -10, 30.0),
        w(Signal::AmountAboveWonAverage, -5, 1.5),
    ]
}

/// `over` laid over `base`, signal by signal, in `Signal::WEIGHTED`'s order.
fn merged(base: Vec<Weight>, over: &[Weight]) -> Vec<Weight> {
    base.into_iter().map(|w| over.iter().find(|o| o.signal == w.signal).copied().unwrap_or(w)).collect()
}

/// The weights the tenant set (merged over the seed), or `None` when it never set any (the
/// meter is off). One SELECT: read with its definitions (`TenantMeta::confidence`), so that
/// only such a tenant's pipeline and activity changes go to the job relay and rescoring reads
/// no weights of its own.
pub async fn stored(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Option<Vec<Weight>>> {
    let Some(row) = confidence_weight::Entity::find_by_id(tenant_id.to_owned()).one(conn).await? else {
        return Ok(None);
    };
    let set: Vec<Weight> = serde_json::from_value(row.weights).unwrap_or_else(|e| {
        // A document this version cannot read counts as none set: the seed scores on.
        tracing::warn!(tenant = %tenant_id, problem = %e, "stored confidence weights do not parse");
        Vec::new()
    });
    Ok(Some(merged(seed(), &set)))
}

/// The tenant's weights: the seed, with what the tenant set over it.
pub async fn load(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Vec<Weight>> {
    Ok(stored(conn, tenant_id).await?.unwrap_or_else(seed))
}

/// Checks weights as given (`weights[i].field` names a bad one): each signal once, a weight
/// for a weighted signal, an effect within −100..100 (the base 0..100), a threshold ≥ 0.
pub fn validate(given: &[Weight]) -> Result<()> {
    let mut errors = Vec::new();
    for (i, w) in given.iter().enumerate() {
        let at = |f: &str| format!("weights[{i}].{f}");
        if !Signal::WEIGHTED.contains(&w.signal) {
            errors.push(FieldError::new(
                at("signal"),
                format!("{} is not a weighted signal", w.signal.as_str()),
            ));
        }
        if given[..i].iter().any(|o| o.signal == w.signal) {
            errors.push(FieldError::new(at("signal"), format!("{} is given twice", w.signal.as_str())));
        }
        let range = if w.signal == Signal::Base { 0..=100 } else { -100..=100 };
        if !range.contains(&w.effect) {
            errors.push(FieldError::new(
                at("effect"),
                format!("between {} and {}", range.start(), range.end()),
            ));
        }
        if !w.threshold.is_finite() || w.threshold < 0.0 {
            errors.push(FieldError::new(at("threshold"), "0 or more"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(Error::Validation(errors)) }
}

/// Sets the given weights (checked first) over the tenant's current ones, in the caller's
/// transaction, turning the meter on (the metadata version is bumped, so every instance marks
/// the pipeline and activity entities `scored`); returns the tenant's weights after. What
/// callers use is `super::set_weights`, which also rescores the open records.
pub async fn save(
    conn: &impl ConnectionTrait,
    d: crate::Dialect,
    tenant_id: &str,
    given: &[Weight],
) -> Result<Vec<Weight>> {
    validate(given)?;
    let weights = merged(load(conn, tenant_id).await?, given);
    confidence_weight::Entity::delete_by_id(tenant_id.to_owned()).exec(conn).await?;
    let row = confidence_weight::ActiveModel {
        tenant_id: sea_orm::Set(tenant_id.to_owned()),
        weights: sea_orm::Set(serde_json::to_value(&weights)?),
        updated_at: sea_orm::Set(time::now()),
    };
    confidence_weight::Entity::insert(row).exec_without_returning(conn).await?;
    crate::runtime::signals::metadata_changed(conn, d, tenant_id).await?;
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_weights_override_the_seed_signal_by_signal() {
        let given = [Weight { signal: Signal::MeetingScheduled, effect: 25, threshold: 2.0 }];
        let w = merged(seed(), &given);
        assert_eq!(w.len(), Signal::WEIGHTED.len());
        assert_eq!(w[3], given[0]);
        assert_eq!(w[0], seed()[0]);
    }

    #[test]
    fn bad_weights_name_their_fields() {
        let bad = [
            Weight { signal: Signal::Base, effect: 150, threshold: 0.0 },
            Weight { signal: Signal::Base, effect: 10, threshold: -1.0 },
            Weight { signal: Signal::Clamped, effect: 1, threshold: 0.0 },
        ];
        let Err(Error::Validation(errors)) = validate(&bad) else { panic!("accepted") };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["weights[0].effect", "weights[1].signal", "weights[1].threshold", "weights[2].signal"]
        );
    }
}
