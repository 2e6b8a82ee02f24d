//! A score as a reader may see it. A score is computed from the whole record, but its words
//! and stage must not tell a reader what the role's field rules hide from them: a role that may
//! not read the pipeline's stage field sees no stage, outcome or stage name in the stage-age
//! factor, and one that may not read the amount sees no amounts in the amount factor. The
//! points stay (they are the server's judgement, not a field's value), so the factors still
//! add up to the score.

use super::Score;
use super::weights::Signal;
use crate::runtime::meta::{EntityDef, FieldType};

/// Which of the pipeline's fields the meter's words speak of a reader may not read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hidden {
    pub stage: bool,
    pub amount: bool,
}

impl Hidden {
    /// For a reader whose view of pipeline entity `full` is `view` (its readable fields), the
    /// stage being the SELECT `stage_field` and the amount the first CURRENCY field, as the
    /// meter reads them (`gather::Pipeline`).
    pub fn of(full: &EntityDef, view: &EntityDef, stage_field: &str) -> Hidden {
        let hidden = |key: Option<&str>| key.is_some_and(|k| view.field_by_key(k).is_none());
        let amount = full.fields.iter().find(|f| f.ty == FieldType::Currency).map(|f| f.key.as_str());
        Hidden { stage: hidden(Some(stage_field)), amount: hidden(amount) }
    }
}

impl Score {
    /// This score as a reader from whom `hidden` is hidden sees it.
    pub fn as_read(mut self, hidden: Hidden) -> Score {
        if hidden.stage {
            self.stage = None;
            self.outcome = None;
        }
        for f in &mut self.factors {
            match f.signal {
                Signal::StageAge if hidden.stage => {
                    f.detail = "in its stage for longer than usual".to_owned()
                }
                Signal::AmountAboveWonAverage if hidden.amount => {
                    f.detail = "the amount is well above the average won amount".to_owned();
                }
                _ => {}
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::features::confidence::Factor;

    fn score() -> Score {
        let factor = |signal, detail: &str| Factor { signal, effect: -5, detail: detail.to_owned() };
        Score {
            entity_id: "e".into(),
            record_id: "r".into(),
            version: 1,
            score: 40,
            factors: vec![
                factor(Signal::StageAge, "in Proposal for 41 days"),
                factor(
                    Signal::AmountAboveWonAverage,
                    "the amount 90000 is 3.0 times the average won amount 30000.00",
                ),
            ],
            stage: Some("Proposal".into()),
            stage_since: Utc::now(),
            outcome: None,
            computed_at: Utc::now(),
        }
    }

    #[test]
    fn hidden_fields_leave_no_words_and_keep_the_points() {
        let all = score().as_read(Hidden::default());
        assert_eq!(all.factors, score().factors);
        let seen = score().as_read(Hidden { stage: true, amount: true });
        assert_eq!(seen.stage, None);
        assert!(seen.factors.iter().all(|f| !f.detail.contains("Proposal") && !f.detail.contains("90000")));
        assert_eq!(seen.factors.iter().map(|f| f.effect).sum::<i32>(), -10);
    }
}
