//! Running a write again when PostgreSQL aborted it for a serialization failure or a deadlock
//! (`Error::is_transient`): the writers lock what they share in one order (rollup parents, the
//! audit head, then stock balances), so neither should happen; if one does under load, the
//! caller gets the write done rather than an `INTERNAL`. Nothing of an aborted attempt stays.

use std::future::Future;
use std::time::Duration;

use crate::Result;

/// Attempts of one write at most.
const ATTEMPTS: u32 = 4;

/// `attempt()`, run again (after a short, growing pause) while it fails transiently.
pub(super) async fn transient<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut n = 1;
    loop {
        match attempt().await {
            Err(e) if e.is_transient() && n < ATTEMPTS => {
                tracing::warn!(attempt = n, error = %e, "write aborted by the database; running it again");
                tokio::time::sleep(Duration::from_millis(10 * u64::from(n))).await;
                n += 1;
            }
            other => return other,
        }
    }
}
