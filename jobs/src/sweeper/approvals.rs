//! Approval SLAs: a request still pending when its stage's SLA has passed is escalated, once
//! (`entity::features::approvals::flow::escalate` says to whom and marks it).

use chrono::{DateTime, Utc};
use entity::features::approvals::{self, flow, flow::Scope};
use entity::runtime::audit::Actor;
use entity::runtime::meta::TenantMeta;
use entity::runtime::store::Store;
use entity::{Db, Result};

/// Escalates approval requests whose stage passed its SLA by `now`.
pub(super) async fn escalate(system: &Db, db: &Db, now: DateTime<Utc>, tenant: Option<&str>) -> Result<()> {
    let actor = Actor::system();
    for req in approvals::overdue(&system.conn, now, tenant).await? {
        let meta = TenantMeta::load_for(db, &req.tenant_id).await?;
        let txn = db.begin_tenant_read(&req.tenant_id).await?;
        let policy = approvals::policy(&txn, &req.tenant_id, &req.policy_id).await?;
        txn.commit().await?;
        let (Some(policy), Some(entity)) = (policy, meta.entity_by_id(&req.entity_id)) else { continue };
        let Some(record) = Store::new(db, &req.tenant_id).get(entity, &req.record_id, None).await? else {
            continue;
        };
        let scope =
            Scope { db, tenant_id: &req.tenant_id, meta: &meta, entity, policy: &policy, actor: &actor };
        match flow::escalate(&scope, &req, &record).await {
            Ok(true) => tracing::info!(request = %req.id, "approval escalated after its SLA"),
            Ok(false) => {}
            Err(e) => tracing::warn!(request = %req.id, error = %e, "approval escalation failed"),
        }
    }
    Ok(())
}
