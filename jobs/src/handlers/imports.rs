//! Running a CSV import (`Job::RunImport`): batch after batch from the import's committed
//! cursor (`entity::features::imports::run`), waking the tailers after each so that its
//! progress and its records' changes reach subscribers while it runs. A batch that failed on
//! the database is tried again with backoff; after the last attempt, or on an error no attempt
//! can mend, the import ends as failed with the reason. A worker killed mid-import leaves it
//! running with a stale heartbeat: the sweeper queues it again (`sweeper::leases`) and the next
//! worker goes on after the last committed batch.

use std::path::{Path, PathBuf};
use std::time::Duration;

use entity::features::imports::run;

use crate::context::JobContext;
use crate::error::JobError;

/// The pause between two batches.
const BREATH: Duration = Duration::from_millis(100);

/// Where import `import_id` of `tenant_id` keeps its file under the data folder.
pub fn path(data_dir: &Path, tenant_id: &str, import_id: &str) -> PathBuf {
    data_dir.join("imports").join(tenant_id).join(format!("{import_id}.csv"))
}

/// Runs import `import_id` to its end (or until another worker or a cancel takes it over).
pub async fn run(ctx: &JobContext, tenant_id: &str, import_id: &str) -> Result<(), JobError> {
    let Some(mut row) = run::start(&ctx.db, tenant_id, import_id).await? else { return Ok(()) };
    ctx.peers.committed();
    let file = path(&ctx.data_dir, tenant_id, import_id);
    let mut attempt = 0;
    loop {
        match run::batch(&ctx.db, &file, &row, ctx.import_batch.max(1)).await {
            Ok(next) => {
                attempt = 0;
                ctx.peers.committed();
                match next {
                    Some(next) => row = next,
                    None => return Ok(()),
                }
                // A breath between batches: SQLite's other writers (requests, the queue's
                // poller) get the write lock rather than wait out the whole import.
                tokio::time::sleep(BREATH).await;
            }
            Err(e) => {
                attempt += 1;
                let error = JobError::from(e);
                match ctx.retry_delay(&error, attempt) {
                    Some(delay) => {
                        tracing::warn!(import = %import_id, error = %error, attempt, "an import batch failed; trying it again");
                        tokio::time::sleep(delay).await;
                        // Read afresh: a cancel or another worker may have moved it meanwhile.
                        match run::reload(&ctx.db, tenant_id, import_id).await {
                            Ok(Some(fresh)) => row = fresh,
                            Ok(None) => return Ok(()),
                            Err(e) => {
                                tracing::warn!(import = %import_id, error = %e, "re-reading an import failed")
                            }
                        }
                    }
                    None => {
                        run::fail(&ctx.db, tenant_id, import_id, &error.message).await?;
                        ctx.peers.committed();
                        return Ok(());
                    }
                }
            }
        }
    }
}
