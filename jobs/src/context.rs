//! What every job handler is given: the databases, the queue, the mailer, the retry policy and
//! where to report. It lives apart from the worker so that handlers depend on it alone: the
//! worker dispatches to the handlers, and a handler that reached back into the worker for its
//! context would close an import circle.

use std::sync::Arc;
use std::time::Duration;

use entity::Db;

use crate::error::JobError;
use crate::mailer::Mailer;
use crate::queue::Queue;

/// What job handlers need.
pub struct JobContext {
    /// Tenant traffic (row-level security applies on PostgreSQL).
    pub db: Db,
    pub queue: Queue,
    pub mailer: Mailer,
    /// Delivery attempts before an email is `dead`.
    pub max_attempts: i32,
    /// Backoff before retry n is `base × 2^(n-1)` plus up to `base` of jitter.
    pub retry_base: Duration,
    /// Internal hosts webhooks may reach anyway (`WEBHOOK_ALLOW_HOSTS`).
    pub webhook_allow: Vec<String>,
    /// How long each job took (`/metrics` of the `serve` process the worker runs in).
    pub metrics: Arc<crate::metrics::JobMetrics>,
    /// Woken after a job that wrote to the outbox (a workflow's record change, a parked run):
    /// the tailers and relays of this and the other instances read it now.
    pub peers: crate::peers::Peers,
    /// The data folder: export jobs write their files under its `exports/`, imports' files are
    /// under `imports/` (`handlers::imports::path`).
    pub data_dir: std::path::PathBuf,
    /// Rows of an import written per transaction.
    pub import_batch: usize,
    /// The uploaded files' bytes, which the tenant's archive holds (the API's file store).
    pub blobs: Arc<dyn entity::features::exports::tenant::Blobs>,
}

impl JobContext {
    /// After a job's attempt number `attempt` (1 for the first) failed with `error`: how long
    /// to wait before the next attempt, or `None` when there is none — the error is permanent,
    /// or this was the last of `max_attempts`. Every handler asks here, so emails, webhook
    /// deliveries and workflow runs retry alike.
    pub fn retry_delay(&self, error: &JobError, attempt: i32) -> Option<Duration> {
        (error.retryable && attempt < self.max_attempts).then(|| backoff(self.retry_base, attempt))
    }
}

/// `base × 2^(attempt-1)` (capped at an hour) plus up to `base` of jitter.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    let exp =
        base.saturating_mul(1u32 << attempt.clamp(1, 16).saturating_sub(1)).min(Duration::from_secs(3600));
    let jitter_ms = u64::from(uuid::Uuid::new_v4().as_u128() as u16) % (base.as_millis().max(1) as u64);
    exp + Duration::from_millis(jitter_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let base = Duration::from_millis(100);
        for attempt in 1..6 {
            let d = backoff(base, attempt);
            let floor = base * (1 << (attempt - 1));
            assert!(d >= floor && d < floor + base, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(Duration::from_secs(60), 40) <= Duration::from_secs(3660));
    }
}
