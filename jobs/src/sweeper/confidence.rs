//! The nightly confidence pass: open pipeline records whose newest score is a day old (at the
//! chosen `now`) are scored again as of `now`, so time alone — days without an activity, a
//! stage growing old, a meeting passing — moves a score. Records are scored directly (each in
//! its own transaction), not through the queue: scoring writes only the meter's table.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, Utc};
use entity::features::confidence;
use entity::runtime::meta::TenantMeta;
use entity::{Db, Result};

/// Scores the due records of every tenant, or only `tenant`, as of `now`. `system` finds them
/// across tenants; `db` (row-level security) reads and writes each tenant's.
pub async fn nightly(system: &Db, db: &Db, now: DateTime<Utc>, tenant: Option<&str>) -> Result<()> {
    let mut metas: HashMap<String, Option<TenantMeta>> = HashMap::new();
    for (tenant_id, record_id) in confidence::due(&system.conn, now, tenant).await? {
        let meta = match metas.entry(tenant_id.clone()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(TenantMeta::load_for(db, &tenant_id).await.ok()),
        };
        let Some(meta) = meta else { continue };
        if let Err(e) = confidence::refresh(db, meta, &record_id, now).await {
            tracing::warn!(tenant = %tenant_id, record = %record_id, error = %e, "nightly confidence score failed");
        }
    }
    Ok(())
}
