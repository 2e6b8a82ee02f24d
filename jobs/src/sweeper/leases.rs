//! Stale leases: work whose worker fell silent is taken back. An email or a webhook delivery
//! claimed for sending longer ago than the lease lost its worker (killed mid-send) and is
//! queued again — the lease exceeds the SMTP timeout, so a live worker is never overtaken;
//! likewise a workflow run `running` with no progress for longer than the lease continues from
//! its first unfinished action, and an import running with no batch committed for longer than
//! the lease goes on from its last committed batch.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::features::workflows as wf;
use entity::features::{emails, imports, webhooks};
use entity::{Db, Error, Result};

/// Requeues emails and webhook deliveries whose worker died mid-send (claimed longer ago
/// than `lease`) and continues runs whose worker died mid-run (no progress for longer
/// than the lease).
pub(super) async fn recover(system: &Db, db: &Db, lease: Duration, now: DateTime<Utc>) -> Result<()> {
    let lease = chrono::Duration::from_std(lease).map_err(|e| Error::Internal(e.to_string()))?;
    let cutoff = now - lease;
    for (tenant_id, id) in emails::stale_claims(&system.conn, cutoff).await? {
        let txn = db.begin_tenant_write(&tenant_id).await?;
        if emails::release_stale(&txn, &tenant_id, &id, cutoff).await? {
            tracing::warn!(email = %id, "an email's worker stopped during delivery; queued again (a second copy, with the same Message-ID, if the relay had already taken it)");
        }
        txn.commit().await?;
    }
    for (tenant_id, id) in webhooks::stale_deliveries(&system.conn, cutoff).await? {
        let txn = db.begin_tenant_write(&tenant_id).await?;
        if webhooks::requeue_delivery(&txn, &tenant_id, &id, Some(cutoff)).await? {
            tracing::warn!(delivery = %id, "a webhook delivery's worker stopped mid-send; queued again");
        }
        txn.commit().await?;
    }
    for (tenant_id, id) in wf::stale_runs(&system.conn, cutoff).await? {
        let txn = db.begin_tenant_write(&tenant_id).await?;
        if wf::requeue_run(&txn, db.dialect, &tenant_id, &id, Some(cutoff)).await? {
            tracing::warn!(run = %id, "a workflow run's worker stopped mid-run; continuing it");
        }
        txn.commit().await?;
    }
    for (tenant_id, id) in imports::stale(&system.conn, cutoff).await? {
        let txn = db.begin_tenant_write(&tenant_id).await?;
        if imports::requeue(&txn, &tenant_id, &id, cutoff).await? {
            tracing::warn!(import = %id, "an import's worker stopped mid-batch; going on from its last committed batch");
        }
        txn.commit().await?;
    }
    Ok(())
}
