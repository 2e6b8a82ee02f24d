//! Configuring the stock engine (`runtime::stock`) for a tenant: an entity's stock
//! configuration checked against the tenant's definitions, stored in `entity_defs.stock` with
//! an audit entry, and the metadata version bumped so every instance loads it with the
//! definitions (`configureStock`, and the `stock` part of a template).

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel};
use serde::Deserialize;
use serde_json::json;

use crate::models::entity_def;
use crate::runtime::audit::{self, Actor};
use crate::runtime::meta::TenantMeta;
use crate::runtime::signals;
use crate::runtime::stock::{self, def::StockConfig};
use crate::{Dialect, Error, Result};

/// One entity's configuration in a template's `stock` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockSpec {
    /// The entity (`nameSingular`).
    pub entity: String,
    pub config: StockConfig,
}

/// Sets (or, with `None`, clears) the stock configuration of `entity_name`, inside `txn` (a
/// template configures its entities in the transaction that defines them).
pub async fn configure_in(
    txn: &DatabaseTransaction,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    entity_name: &str,
    config: Option<StockConfig>,
) -> Result<()> {
    let meta = TenantMeta::load(txn, tenant_id).await?;
    let e = meta.entity_named(entity_name)?;
    let config = config.map(|c| stock::normalized(e, c));
    if let Some(c) = &config {
        stock::check(&meta, e, c)?;
    }
    let stored = config.as_ref().map(serde_json::to_value).transpose()?;
    let row = entity_def::Entity::find_by_id(e.id.clone())
        .one(txn)
        .await?
        .ok_or_else(|| Error::NotFound(format!("entity `{entity_name}`")))?;
    let mut am = row.into_active_model();
    am.stock = Set(stored.clone());
    am.update(txn).await?;
    signals::metadata_changed(txn, d, tenant_id).await?;
    let changes = json!({ "stock": stored });
    let entry =
        audit::Entry { action: "entity.stock", object_type: "entity", object_id: Some(&e.id), changes };
    audit::append(txn, d, tenant_id, actor, &entry).await
}
