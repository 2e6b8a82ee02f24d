//! Refreshing a record's Customer Memory (`Job::RefreshMemory`), queued by the relay when a
//! related note or activity is created, updated or deleted: the long-text values of the
//! record's related records are read, the salient sentences extracted offline, and — when the
//! tenant has an AI provider — the model asked for a summary of those facts (its citations are
//! the facts sent). The next version is stored in one transaction. A model that fails or a
//! spent budget leaves the version without a summary: the offline facts never wait on it.

use entity::features::memory::{self, Citation, extract};
use entity::runtime::audit::Actor;
use entity::runtime::meta::TenantMeta;
use entity::runtime::store::Store;

use crate::ai::{self, Ask};
use crate::context::JobContext;
use crate::error::JobError;

/// What the model is told to do with the facts.
const SYSTEM: &str = "You summarise what a business knows about a customer. Use only the numbered facts \
                      given; write two or three sentences, and cite facts by their number in brackets.";

/// Refreshes the memory of record `record_id` of entity `entity_id`.
pub async fn refresh(
    ctx: &JobContext,
    tenant_id: &str,
    entity_id: &str,
    record_id: &str,
) -> Result<(), JobError> {
    let meta = TenantMeta::load_for(&ctx.db, tenant_id).await?;
    let Some(target) = meta.entity_by_id(entity_id) else { return Ok(()) };
    // A record that is gone (or deleted) keeps the memory it had.
    if Store::new(&ctx.db, tenant_id).get(target, record_id, None).await?.is_none() {
        return Ok(());
    }
    let sources = memory::gather(&ctx.db, &meta, tenant_id, target, record_id).await?;
    let facts = extract::extract(&sources, entity::runtime::time::now(), extract::TOP_K);
    let summary = if facts.is_empty() || ai::provider(&ctx.db, tenant_id).await?.is_none() {
        None
    } else {
        let prompt: String =
            facts.iter().enumerate().map(|(i, f)| format!("[{}] {}\n", i + 1, f.text)).collect();
        let actor = Actor::system();
        let ask = Ask {
            tenant_id,
            actor: &actor,
            feature: "memory",
            system: SYSTEM,
            prompt: &prompt,
            personal: &[],
        };
        match ai::complete(&ctx.db, &ctx.webhook_allow, &ask).await {
            Ok(answer) => Some((answer.text, facts.iter().map(Citation::from).collect())),
            Err(e) => {
                tracing::warn!(tenant_id, record_id, error = %e, "customer memory kept without a model summary");
                None
            }
        }
    };
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    memory::save(&txn, tenant_id, entity_id, record_id, &facts, summary).await?;
    txn.commit().await?;
    Ok(())
}
