//! Sending one queued email (a `send_email` job) through the mailer, and recording what the
//! relay answered. A failed attempt is tried again after a backoff until the attempts run out
//! (`JobContext::retry_delay`); the email is then `dead`, for an administrator to inspect and
//! retry.

use entity::features::emails;

use crate::context::JobContext;
use crate::error::JobError;
use crate::mailer::Delivery;
use crate::queue::Job;

/// Delivers one email: only the attempt whose committed claim moves it from `queued`/`retrying`
/// to `sending` may send it, and the relay's answer is recorded right after it comes. A worker
/// that dies between the end of the message and that record leaves the claim to be taken back
/// after the lease and the email sent again: at least once, with the same Message-ID (SMTP
/// cannot tell afterwards whether the relay kept the message).
pub async fn send(ctx: &JobContext, tenant_id: &str, email_id: &str) -> Result<(), JobError> {
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let Some(email) = emails::get(&txn, tenant_id, email_id).await? else {
        txn.commit().await?;
        return Ok(());
    };
    if !emails::claim(&txn, &email).await? {
        txn.commit().await?;
        return Ok(());
    }
    txn.commit().await?;
    let outcome = ctx.mailer.send(&email).await;
    let txn = ctx.db.begin_tenant_write(tenant_id).await?;
    let attempt = email.attempts + 1;
    let retry = match outcome {
        Ok(Delivery::Sent(id)) => {
            emails::record_attempt(&txn, &email, "sent", None, Some(&id)).await?;
            None
        }
        Ok(Delivery::Held) => {
            emails::record_attempt(&txn, &email, "held", None, None).await?;
            None
        }
        // The mailer's message does not tell a relay that is down from one that refuses the
        // message, so every failed attempt counts as one that may pass.
        Err(e) => {
            let e = JobError::transient(e);
            let retry = ctx.retry_delay(&e, attempt);
            if retry.is_some() {
                tracing::info!(email = %email.id, error = %e, attempt, "email delivery failed; retrying");
                emails::record_attempt(&txn, &email, "retrying", Some(&e.message), None).await?;
            } else {
                tracing::warn!(email = %email.id, error = %e, "email delivery failed for the last time");
                emails::record_attempt(&txn, &email, "dead", Some(&e.message), None).await?;
            }
            retry
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
