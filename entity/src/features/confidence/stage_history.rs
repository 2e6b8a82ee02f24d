//! How long the tenant's records stay in a stage, from the meter's own score history: each
//! score row carries the record's stage and since when it was in it, so a stay in stage S ends
//! where the record's next row starts another `stage_since`. `STAGE_AGE` compares a record's
//! time in its stage with the median of the tenant's recent stays in it (`StageHistory`), once
//! enough records have left the stage to say what is usual; before that, with the weight's
//! fixed threshold (`score`).

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;

use crate::runtime::time;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// Stays a median needs before it stands for the tenant's history (fewer: the fixed threshold).
pub const MIN_SAMPLES: usize = 5;

/// The newest stays a median is taken over: a bounded read, and recent habits count.
const MAX_SAMPLES: u64 = 101;

/// The tenant's recent stays in one stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageHistory {
    /// Stays that ended (records that left the stage), at most `MAX_SAMPLES`.
    pub samples: usize,
    /// Their median length.
    pub median: Option<Duration>,
}

impl StageHistory {
    /// The median, when there are enough stays for it to say what is usual for the tenant.
    pub fn usual(&self) -> Option<Duration> {
        self.median.filter(|_| self.samples >= MIN_SAMPLES)
    }

    fn of(mut stays: Vec<Duration>) -> StageHistory {
        stays.sort_unstable();
        let n = stays.len();
        let median = match n {
            0 => None,
            _ if n % 2 == 1 => Some(stays[n / 2]),
            _ => Some((stays[n / 2 - 1] + stays[n / 2]) / 2),
        };
        StageHistory { samples: n, median }
    }
}

/// The newest stays (at most `MAX_SAMPLES`) of the records of pipeline entity `entity_id` in
/// stage `stage`, in one statement: each record's score rows in version order (the index
/// `confidence_scores_by_entity`), a stay ending where the next row's `stage_since` differs
/// (rows of one stay share it).
pub async fn read(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    entity_id: &str,
    stage: &str,
) -> Result<StageHistory> {
    let d = Dialect::of(conn);
    let mut q = SqlBuf::new(d);
    q.push(
        "SELECT entered, left_at FROM (SELECT stage, stage_since AS entered, \
         LEAD(stage_since) OVER (PARTITION BY record_id ORDER BY version) AS left_at \
         FROM confidence_scores WHERE tenant_id = ",
    )
    .bind(tenant_id)
    .push(" AND entity_id = ")
    .bind(entity_id)
    .push(") stays WHERE stage = ")
    .bind(stage)
    .push(" AND left_at IS NOT NULL AND left_at <> entered ORDER BY left_at DESC LIMIT ")
    .push(&MAX_SAMPLES.to_string());
    let rows = conn.query_all_raw(q.into_statement()).await?;
    let mut stays = Vec::with_capacity(rows.len());
    for row in &rows {
        let (Some(entered), Some(left)): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
            (time::column(row, d, "entered")?, time::column(row, d, "left_at")?)
        else {
            continue;
        };
        stays.push(left - entered);
    }
    Ok(StageHistory::of(stays))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_needs_enough_stays() {
        let days = |v: &[i64]| v.iter().map(|d| Duration::days(*d)).collect::<Vec<_>>();
        let few = StageHistory::of(days(&[3, 1]));
        assert_eq!((few.samples, few.median, few.usual()), (2, Some(Duration::days(2)), None));
        let enough = StageHistory::of(days(&[9, 1, 12, 3, 40]));
        assert_eq!(enough.usual(), Some(Duration::days(9)));
        assert_eq!(StageHistory::of(Vec::new()), StageHistory::default());
    }
}
