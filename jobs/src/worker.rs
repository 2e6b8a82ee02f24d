//! The worker: runs queued jobs. `alphery serve` runs one in-process by default; `alphery
//! worker` runs only workers (and the job relay), so any number can run beside the servers.
//! Failed deliveries are retried with exponential backoff and jitter up to a maximum number of
//! attempts, then left `dead` for an administrator to inspect and retry.

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use entity::runtime::{emails, outbox};

use crate::context::{JobContext, backoff};
use crate::mailer::Delivery;
use crate::queue::{Job, Queue, Rearming};

/// How long the queue may go unpolled when idle.
const POLL: Duration = Duration::from_millis(200);

/// Runs a worker until the process stops.
pub async fn run(queue: Queue, ctx: Arc<JobContext>, name: &str) -> Result<(), String> {
    let result = match queue {
        Queue::Sqlite(s) => {
            WorkerBuilder::new(name)
                .backend(s.poll_with_strategy(Rearming::new(POLL)))
                .data(ctx)
                .build(handle)
                .run()
                .await
        }
        Queue::Postgres(s) => {
            WorkerBuilder::new(name)
                .backend(s.poll_with_strategy(Rearming::new(POLL)))
                .data(ctx)
                .build(handle)
                .run()
                .await
        }
        // Redis storage wakes its workers itself (a signal list), no poll strategy needed.
        Queue::Redis(s) => WorkerBuilder::new(name).backend(s).data(ctx).build(handle).run().await,
    };
    result.map_err(|e| e.to_string())
}

/// Runs one job, timing it by kind.
async fn handle(job: Job, ctx: Data<Arc<JobContext>>) -> Result<(), BoxDynError> {
    let kind = job.kind();
    let started = std::time::Instant::now();
    let (result, wrote) = outbox::tracked(run_job(job, &ctx)).await;
    if wrote {
        ctx.peers.committed();
    }
    ctx.metrics.observe(kind, started.elapsed());
    result
}

async fn run_job(job: Job, ctx: &JobContext) -> Result<(), BoxDynError> {
    match job {
        Job::SendEmail { tenant_id, email_id } => send_email(ctx, &tenant_id, &email_id).await,
        Job::RecordChanged { trigger_key, event } => crate::workflows::on_change(ctx, &trigger_key, &event)
            .await
            .map_err(|e| Box::new(e) as BoxDynError),
        Job::RunWorkflow { tenant_id, workflow_id, record_id, run_id, payload } => {
            crate::workflows::run_manual(ctx, &tenant_id, &workflow_id, &record_id, &run_id, payload.as_ref())
                .await
                .map_err(|e| Box::new(e) as BoxDynError)
        }
        Job::ResumeWorkflow { tenant_id, run_id, position, attempts } => {
            crate::workflows::resume(ctx, &tenant_id, &run_id, position, attempts)
                .await
                .map_err(|e| Box::new(e) as BoxDynError)
        }
        Job::ConvergeIndexSlot { tenant_id, entity_id, slot } => {
            entity::runtime::indexes::run_job(&ctx.db, &tenant_id, &entity_id, &slot)
                .await
                .map_err(|e| Box::new(e) as BoxDynError)
        }
        Job::DeliverWebhook { tenant_id, delivery_id } => {
            crate::webhooks::deliver(ctx, &tenant_id, &delivery_id)
                .await
                .map_err(|e| Box::new(e) as BoxDynError)
        }
    }
}

/// Delivers one email: only the attempt whose committed claim moves it from `queued`/`retrying`
/// to `sending` may send it, and the relay's answer is recorded right after it comes. A worker
/// that dies between the end of the message and that record leaves the claim to be taken back
/// after the lease and the email sent again: at least once, with the same Message-ID (SMTP
/// cannot tell afterwards whether the relay kept the message).
async fn send_email(ctx: &JobContext, tenant_id: &str, email_id: &str) -> Result<(), BoxDynError> {
    let d = ctx.db.dialect;
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let Some(email) = emails::get(&txn, d, tenant_id, email_id).await? else {
        txn.commit().await?;
        return Ok(());
    };
    if !emails::claim(&txn, d, &email).await? {
        txn.commit().await?;
        return Ok(());
    }
    txn.commit().await?;
    let outcome = ctx.mailer.send(&email).await;
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let retry = match &outcome {
        Ok(Delivery::Sent(id)) => {
            emails::record_attempt(&txn, d, &email, "sent", None, Some(id)).await?;
            None
        }
        Ok(Delivery::Held) => {
            emails::record_attempt(&txn, d, &email, "held", None, None).await?;
            None
        }
        Err(e) if email.attempts + 1 >= ctx.max_attempts => {
            tracing::warn!(email = %email.id, error = %e, "email delivery failed for the last time");
            emails::record_attempt(&txn, d, &email, "dead", Some(e), None).await?;
            None
        }
        Err(e) => {
            tracing::info!(email = %email.id, error = %e, attempt = email.attempts + 1, "email delivery failed; retrying");
            emails::record_attempt(&txn, d, &email, "retrying", Some(e), None).await?;
            Some(backoff(ctx.retry_base, email.attempts + 1))
        }
    };
    txn.commit().await?;
    if let Some(delay) = retry {
        ctx.queue
            .push(
                Job::SendEmail { tenant_id: tenant_id.to_owned(), email_id: email_id.to_owned() },
                Some(delay),
            )
            .await?;
    }
    Ok(())
}
