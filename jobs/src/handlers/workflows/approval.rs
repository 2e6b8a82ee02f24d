//! The `submit_for_approval` action: the triggering record enters the approval flow of its
//! entity's active policy of that name (a leave request submitted as it is created), in the
//! step's transaction, so the request, its notifications and the step's log row commit
//! together or not at all.

use entity::Db;
use entity::features::approvals::{self, flow};
use entity::runtime::audit::Actor;
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::record::Record;
use sea_orm::DatabaseTransaction;

use crate::error::JobError;

/// Submits `record` under the policy named `name`; a missing or inactive policy fails the step
/// for good (retrying would not make one).
pub(super) async fn submit(
    txn: &DatabaseTransaction,
    db: &Db,
    meta: &TenantMeta,
    entity: &EntityDef,
    record: &Record,
    name: &str,
    actor: &Actor,
) -> Result<(), JobError> {
    let tenant_id = meta.tenant_id.as_str();
    let policy = approvals::policies(txn, tenant_id, Some(&entity.id))
        .await?
        .into_iter()
        .find(|p| p.name == name && p.active)
        .ok_or_else(|| {
            JobError::permanent(format!(
                "`{}` has no active approval policy named `{name}`",
                entity.name_singular
            ))
        })?;
    let scope = flow::Scope { db, tenant_id, meta, entity, policy: &policy, actor };
    flow::submit_in(txn, &scope, record).await?;
    Ok(())
}
