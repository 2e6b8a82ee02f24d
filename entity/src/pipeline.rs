//! Write transactions whose statements travel together. Through SeaORM every statement of a
//! write is a round trip: BEGIN, the tenant's `set_config`, each check, the write, COMMIT. On
//! PostgreSQL a `Pipeline` runs the same transaction on a raw connection (`raw_pool`) and sends
//! a statement only when its rows are needed: BEGIN and `set_config` ride in the message of the
//! first query, a statement whose result is not read (`Exec::execute`) waits for the next
//! message, and COMMIT rides with the last write. A create whose INSERT checks its relations
//! itself is then one message; each look-up a write must read first (an update's current
//! record, a unique value) adds one. A deferred statement's error surfaces on the
//! message that carries it — at the latest the commit's — and the transaction is then rolled
//! back whole, as any failed statement's is.
//!
//! Store code runs on any `Exec`: a `Pipeline`, a `WriteTxn` or a SeaORM transaction of a
//! caller that writes more in it.

use std::future::Future;

use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult, Statement};

use crate::Result;
use crate::message::{driver_error, set_tenant, statement_text};
use crate::raw_pool::Lease;

/// What store code needs of a transaction.
pub trait Exec: Sync {
    /// The rows of `statement`.
    fn query_all(&self, statement: Statement) -> impl Future<Output = Result<Vec<QueryResult>>> + Send;

    /// The first row of `statement`, if any.
    fn query_one(&self, statement: Statement) -> impl Future<Output = Result<Option<QueryResult>>> + Send {
        async move { Ok(self.query_all(statement).await?.into_iter().next()) }
    }

    /// Runs `statement`, whose rows are not needed. A pipeline sends it with its next message,
    /// so its error may surface there instead.
    fn execute(&self, statement: Statement) -> impl Future<Output = Result<()>> + Send;
}

impl<C: ConnectionTrait> Exec for C {
    async fn query_all(&self, statement: Statement) -> Result<Vec<QueryResult>> {
        Ok(self.query_all_raw(statement).await?)
    }

    async fn query_one(&self, statement: Statement) -> Result<Option<QueryResult>> {
        Ok(self.query_one_raw(statement).await?)
    }

    async fn execute(&self, statement: Statement) -> Result<()> {
        self.execute_raw(statement).await?;
        Ok(())
    }
}

/// A PostgreSQL write transaction of one tenant on a raw connection.
pub struct Pipeline {
    state: tokio::sync::Mutex<State>,
}

struct State {
    lease: Lease,
    /// BEGIN and the tenant's `set_config`, sent ahead of the first message.
    prelude: String,
    /// Deferred statements, sent ahead of the next one.
    pending: String,
    /// BEGIN has been sent: the transaction must be ended by a message.
    open: bool,
    /// A message failed: the connection's state is unknown (it is closed when given back).
    broken: bool,
}

impl Pipeline {
    /// Begins (lazily) a transaction of `tenant` — an id already checked to be a literal-safe
    /// uuid — on `lease`.
    pub(crate) fn begin(lease: Lease, tenant: &str) -> Pipeline {
        let prelude = format!("BEGIN; {}; ", set_tenant(tenant));
        let state = State { lease, prelude, pending: String::new(), open: false, broken: false };
        Pipeline { state: tokio::sync::Mutex::new(state) }
    }

    /// Sends what is pending followed by `tail` and returns the rows of the last statement.
    /// Unless `tail` ends the transaction, the connection is held until a later one does.
    async fn send(state: &mut State, tail: &str, ends: bool) -> Result<Vec<QueryResult>> {
        if state.broken {
            return Err(crate::Error::Internal("a statement of this transaction failed".into()));
        }
        crate::stats::add(1);
        let mut message = if state.open { String::new() } else { std::mem::take(&mut state.prelude) };
        message.push_str(&state.pending);
        state.pending.clear();
        message.push_str(tail);
        let rows = state.lease.run(message).await;
        state.open = true;
        match rows {
            Ok(rows) => {
                if !ends {
                    state.lease.hold();
                }
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
            Err(e) => {
                state.broken = true;
                Err(driver_error(e))
            }
        }
    }

    /// Commits: sends the deferred writes with COMMIT (nothing when nothing was written).
    pub async fn commit(self) -> Result<()> {
        let mut state = self.state.into_inner();
        if state.open || !state.pending.is_empty() {
            Self::send(&mut state, "COMMIT", true).await?;
        }
        Ok(())
    }

    /// Rolls back. A connection whose transaction could not be ended is closed, which ends it.
    pub async fn rollback(self) {
        let mut state = self.state.into_inner();
        // Statements never sent may have recorded names the connection has not prepared
        // (`Lease::prepared`): such a connection is closed, not reused.
        let unsent = !state.pending.is_empty();
        if state.open && !state.broken {
            state.pending.clear();
            // Failing here leaves the connection marked held: it is closed, not reused.
            let _ = Self::send(&mut state, "ROLLBACK", true).await;
        }
        if unsent {
            state.lease.hold();
        }
    }
}

impl Exec for Pipeline {
    async fn query_all(&self, statement: Statement) -> Result<Vec<QueryResult>> {
        let mut state = self.state.lock().await;
        let text = statement_text(&mut state.lease, &statement)?;
        Self::send(&mut state, &text, false).await
    }

    async fn execute(&self, statement: Statement) -> Result<()> {
        let mut state = self.state.lock().await;
        let text = statement_text(&mut state.lease, &statement)?;
        state.pending.push_str(&text);
        state.pending.push_str("; ");
        Ok(())
    }
}

/// A write transaction: pipelined on PostgreSQL, SeaORM's on SQLite (whose statements cost
/// no round trip).
pub enum WriteTxn {
    Pipelined(Pipeline),
    Orm(DatabaseTransaction),
}

impl WriteTxn {
    /// Commits.
    pub async fn commit(self) -> Result<()> {
        match self {
            WriteTxn::Pipelined(p) => p.commit().await,
            WriteTxn::Orm(t) => Ok(t.commit().await?),
        }
    }

    /// Rolls back.
    pub async fn rollback(self) {
        match self {
            WriteTxn::Pipelined(p) => p.rollback().await,
            // Dropping it rolls it back, also when ROLLBACK fails.
            WriteTxn::Orm(t) => drop(t.rollback().await),
        }
    }

    /// Commits when `result` is a success and rolls back when it is not, returning it.
    pub async fn finish<T>(self, result: Result<T>) -> Result<T> {
        match result {
            Ok(v) => {
                self.commit().await?;
                Ok(v)
            }
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }
}

impl Exec for WriteTxn {
    async fn query_all(&self, statement: Statement) -> Result<Vec<QueryResult>> {
        match self {
            WriteTxn::Pipelined(p) => p.query_all(statement).await,
            WriteTxn::Orm(t) => Exec::query_all(t, statement).await,
        }
    }

    async fn execute(&self, statement: Statement) -> Result<()> {
        match self {
            WriteTxn::Pipelined(p) => p.execute(statement).await,
            WriteTxn::Orm(t) => Exec::execute(t, statement).await,
        }
    }
}
