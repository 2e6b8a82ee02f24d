//! Schedule triggers: when a workflow's cron fire time (in the trigger's or the tenant's time
//! zone) passed since the last scan, it owes one run per record matching its condition, keyed
//! by that fire time — missed ticks collapse into the latest.

use chrono::{DateTime, Utc};
use entity::features::workflows::Workflow;
use entity::features::workflows::schedule::CronSchedule;
use entity::runtime::meta::TenantMeta;
use entity::{Db, Error, Result};
use serde_json::Value;

use super::records::{self, Due};

/// The runs a `schedule` trigger (`cron` in `zone`) owes for `(from, to]`; `None` when no
/// tick fell in it or the workflow's entity is gone.
pub(super) async fn due(
    db: &Db,
    w: &Workflow,
    cron: &str,
    zone: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<Due>> {
    // A schedule without a tick in the interval needs no metadata, records or write: the
    // next pass looks at a longer interval from the same start.
    let schedule = CronSchedule::parse(cron, zone).map_err(Error::BadRequest)?;
    let Some(fired) = schedule.latest_in(from, to) else { return Ok(None) };
    let meta = TenantMeta::load_for(db, &w.tenant_id).await?;
    let Some(entity) = meta.entity_by_id(&w.entity_id) else { return Ok(None) };
    let key = |id: &str, _: &Value| format!("schedule:{}:{id}", fired.timestamp());
    let due = records::matching(db, &w.tenant_id, entity, w.definition.condition.clone(), None, key).await?;
    Ok(Some(due))
}
