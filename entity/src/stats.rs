//! Per-request statement accounting: how many round trips to the database one request costs.
//! A request runs inside `counted`; every statement the pool executes while it runs (SeaORM's
//! metric callback, installed by `Db::connect_as`) and every transaction begun through `Db`
//! (its BEGIN and its COMMIT/ROLLBACK) add to the request's counter; a read through the
//! request's shared connection (`db::ReadScope`) is one message, the tenant with the statement,
//! and counts once. Work outside a request
//! (workers, the outbox tailer) is not counted. The count is exact as long as the request's
//! statements run in its own task, which holds for GraphQL execution (resolvers and loaders
//! are polled by the request's future, never spawned).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

tokio::task_local! {
    static STATEMENTS: Arc<AtomicU32>;
}

/// A request's statement counter.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU32>);

impl Counter {
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Runs `f`, counting its statements into `counter`.
pub async fn counted<F: Future>(counter: &Counter, f: F) -> F::Output {
    STATEMENTS.scope(counter.0.clone(), f).await
}

/// Adds `n` round trips to the current request, if any.
pub fn add(n: u32) {
    let _ = STATEMENTS.try_with(|c| c.fetch_add(n, Ordering::Relaxed));
}
