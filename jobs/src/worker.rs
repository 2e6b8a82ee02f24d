//! The worker: runs queued jobs. `alphery serve` runs one in-process by default; `alphery
//! worker` runs only workers (and the job relay), so any number can run beside the servers.
//! It hands each job to its handler (`handlers`) and times it (`metrics`); the handlers retry
//! failed work with exponential backoff and jitter up to a maximum number of attempts, then
//! leave it `dead` for an administrator to inspect and retry.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use entity::runtime::outbox;

use crate::context::JobContext;
use crate::error::JobError;
use crate::handlers::{confidence, email, imports, memory, webhooks, workflows};
use crate::queue::{Job, Queue, Rearming};

/// How long the queue may go unpolled when idle.
const POLL: Duration = Duration::from_millis(200);

/// Runs a worker until the process stops.
pub async fn run(queue: Queue, ctx: Arc<JobContext>, name: &str) -> Result<(), String> {
    // One builder for every storage; a macro, as the storages are different types and the
    // bounds a generic function would need are apalis's long internal ones.
    macro_rules! work {
        ($backend:expr) => {
            WorkerBuilder::new(name).backend($backend).data(ctx).build(handle).run().await
        };
    }
    let result = match queue {
        Queue::Sqlite(s) => work!(s.poll_with_strategy(Rearming::new(POLL))),
        Queue::Postgres(s) => work!(s.poll_with_strategy(Rearming::new(POLL))),
        // Redis storage wakes its workers itself (a signal list), no poll strategy needed.
        Queue::Redis(s) => work!(s),
    };
    result.map_err(|e| e.to_string())
}

/// Runs one job, timing it by kind. A handler records what became of its email, delivery or
/// run itself (retry or dead, `JobContext::retry_delay`); an error that reaches here is one
/// it could not record (the database failed under it, say) and goes to apalis as the job's
/// result.
async fn handle(job: Job, ctx: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    let kind = job.kind();
    let started = std::time::Instant::now();
    let (result, wrote) = outbox::tracked(run_job(job, &ctx)).await;
    if wrote {
        ctx.peers.committed();
    }
    ctx.metrics.observe(kind, started.elapsed());
    result.map_err(BoxDynError::from)
}

/// Hands a job to its handler.
async fn run_job(job: Job, ctx: &JobContext) -> Result<(), JobError> {
    match job {
        Job::SendEmail { tenant_id, email_id } => email::send(ctx, &tenant_id, &email_id).await,
        Job::RecordChanged { trigger_key, event } => workflows::on_change(ctx, &trigger_key, &event).await,
        Job::RunWorkflow { tenant_id, workflow_id, record_id, run_id, payload } => {
            workflows::run_manual(ctx, &tenant_id, &workflow_id, &record_id, &run_id, payload.as_ref()).await
        }
        Job::ResumeWorkflow { tenant_id, run_id, position, attempts } => {
            workflows::resume(ctx, &tenant_id, &run_id, position, attempts).await
        }
        Job::ConvergeIndexSlot { tenant_id, entity_id, slot } => {
            Ok(entity::runtime::indexes::run_job(&ctx.db, &tenant_id, &entity_id, &slot).await?)
        }
        Job::BuildSearch { tenant_id, entity_id } => {
            Ok(entity::runtime::search::run_job(&ctx.db, &tenant_id, &entity_id).await?)
        }
        Job::DeliverWebhook { tenant_id, delivery_id } => {
            webhooks::deliver(ctx, &tenant_id, &delivery_id).await
        }
        Job::RunExport { tenant_id, export_id } => {
            let (exports, blobs) = (&ctx.data_dir, &*ctx.blobs);
            Ok(entity::features::exports::jobs::run_job(&ctx.db, exports, blobs, &tenant_id, &export_id)
                .await?)
        }
        Job::RunImport { tenant_id, import_id } => imports::run(ctx, &tenant_id, &import_id).await,
        Job::RefreshMemory { tenant_id, entity_id, record_id } => {
            memory::refresh(ctx, &tenant_id, &entity_id, &record_id).await
        }
        Job::StockBelowReorder { tenant_id, trigger_key, alert } => {
            workflows::on_stock_alert(ctx, &tenant_id, &trigger_key, &alert).await
        }
        Job::RefreshConfidence { tenant_id, record_id } => {
            confidence::refresh(ctx, &tenant_id, &record_id).await
        }
        Job::BackfillConfidence { tenant_id, after } => confidence::backfill(ctx, &tenant_id, after).await,
    }
}
