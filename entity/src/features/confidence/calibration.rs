//! Calibration: how often the tenant's records won, per band of the score they had before
//! they closed — each closed record's last score while it was still open (its history), so a
//! band's win rate says what a score in it has meant for this tenant.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::Result;
use crate::models::confidence_score as row;

/// A closed record: its last open score and whether it was won.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    pub record_id: String,
    pub score: i32,
    pub won: bool,
}

/// One band of scores `[from, to]` (whole points) and the records that closed from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub from: i32,
    pub to: i32,
    pub won: usize,
    pub lost: usize,
}

impl Band {
    pub fn records(&self) -> usize {
        self.won + self.lost
    }

    /// Won over closed (`None` when none closed from the band).
    pub fn win_rate(&self) -> Option<f64> {
        (self.records() > 0).then(|| self.won as f64 / self.records() as f64)
    }
}

/// The closed records of pipeline entity `entity_id` with a score from before they closed.
pub async fn closed(conn: &impl ConnectionTrait, tenant_id: &str, entity_id: &str) -> Result<Vec<Closed>> {
    let rows = row::Entity::find()
        .filter(row::Column::TenantId.eq(tenant_id))
        .filter(row::Column::EntityId.eq(entity_id))
        .order_by_asc(row::Column::RecordId)
        .order_by_asc(row::Column::Version)
        .all(conn)
        .await?;
    let mut out = Vec::new();
    for versions in rows.chunk_by(|a, b| a.record_id == b.record_id) {
        let Some(last) = versions.iter().find(|r| r.latest) else { continue };
        let Some(outcome) = last.outcome.as_deref() else { continue };
        if let Some(open) = versions.iter().rev().find(|r| r.outcome.is_none()) {
            out.push(Closed { record_id: last.record_id.clone(), score: open.score, won: outcome == "won" });
        }
    }
    Ok(out)
}

/// `closed` counted into `n` equal bands of 0..100 (the last one takes 100).
pub fn bands(closed: &[Closed], n: u32) -> Vec<Band> {
    let n = n.clamp(1, 100) as i32;
    let mut out: Vec<Band> =
        (0..n).map(|i| Band { from: i * 100 / n, to: (i + 1) * 100 / n - 1, won: 0, lost: 0 }).collect();
    if let Some(last) = out.last_mut() {
        last.to = 100;
    }
    for c in closed {
        if let Some(b) = out.iter_mut().find(|b| (b.from..=b.to).contains(&c.score)) {
            if c.won { b.won += 1 } else { b.lost += 1 }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_records_count_in_the_band_of_their_last_open_score() {
        let c = |score, won| Closed { record_id: String::new(), score, won };
        let b = bands(&[c(85, true), c(90, true), c(81, false), c(20, false), c(100, true)], 5);
        assert_eq!((b[0].from, b[0].to, b[4].from, b[4].to), (0, 19, 80, 100));
        assert_eq!((b[4].won, b[4].lost, b[1].lost), (3, 1, 1));
        assert_eq!(b[4].win_rate(), Some(0.75));
        assert_eq!(b[2].win_rate(), None);
    }
}
