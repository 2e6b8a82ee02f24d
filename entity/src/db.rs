//! The database handle: one pool, the SQL dialect it speaks, and how transactions begin.
//! Tenant work runs in `begin_tenant_read` / `begin_tenant_write` transactions: on PostgreSQL
//! they set `app.tenant_id` (transaction-local), which the row-level security policies check,
//! and the pool connects as the non-owner application role. SQLite write transactions start
//! with `BEGIN IMMEDIATE` so that concurrent writers queue on the busy timeout instead of
//! failing on upgrade.
//! A `ReadScope` is the one connection a whole GraphQL request reads through on PostgreSQL, and
//! `write_txn` a write transaction whose statements travel together (`pipeline`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    QueryResult, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::Result;
use crate::dialect::Dialect;
use crate::message::{driver_error, set_tenant, statement_text};
use crate::pipeline::{Pipeline, WriteTxn};
use crate::raw_pool::{Lease, RawPool};
use crate::sql_buf::uuid_literal;

/// Connections of a pool unless the caller says (`connect_pooled`).
pub const DEFAULT_POOL: u32 = 20;

/// A connected database.
#[derive(Debug, Clone)]
pub struct Db {
    pub conn: DatabaseConnection,
    pub dialect: Dialect,
    /// The raw connections (PostgreSQL) requests read through (`ReadScope`) and write through
    /// (`write_txn`).
    raw: Option<Arc<RawPool>>,
    /// The server key's sealer (`with_sealer`): writes of personal fields seal their audit
    /// values under subject keys, which it seals in turn (`runtime::personal`). A handle
    /// without one refuses such writes rather than store personal values in the clear.
    sealer: Option<Arc<crate::sealed::Sealer>>,
}

impl Db {
    /// Connects to `url` (`sqlite://…` or `postgres://…`) as the connecting user (migrations,
    /// cross-tenant system work).
    pub async fn connect(url: &str) -> Result<Db> {
        Db::connect_as(url, None).await
    }

    /// Connects, and on PostgreSQL runs every session as `role` (`SET ROLE` at connection
    /// start), so tenant traffic is subject to row-level security even when the configured
    /// user owns the tables or is a superuser.
    pub async fn connect_as(url: &str, role: Option<&str>) -> Result<Db> {
        Db::connect_pooled(url, role, DEFAULT_POOL).await
    }

    /// [`Db::connect_as`] with at most `pool` connections in SeaORM's pool and four fifths of
    /// that in the raw pool (reads through `ReadScope`, pipelined writes) on PostgreSQL.
    pub async fn connect_pooled(url: &str, role: Option<&str>, pool: u32) -> Result<Db> {
        let pool = pool.max(2);
        let dialect = if url.starts_with("postgres") {
            Dialect::Postgres
        } else if url.starts_with("sqlite") {
            Dialect::Sqlite
        } else {
            return Err(crate::Error::BadRequest(format!(
                "unsupported DATABASE_URL scheme (use sqlite:// or postgres://): {}",
                url.split(':').next().unwrap_or_default()
            )));
        };
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        match dialect {
            Dialect::Postgres => {
                // A pooled connection is checked (a round trip) only once it has been idle long
                // enough to have been dropped by the server or a proxy; by default every
                // checkout pinged first, a round trip per transaction.
                opts.max_connections(pool)
                    .min_connections(1)
                    .test_before_acquire_if_idle_for(Duration::from_secs(30));
                if let Some(role) = role.filter(|r| !r.is_empty()) {
                    let role = role.to_owned();
                    opts.map_sqlx_postgres_opts(move |o| o.options([("role", role.clone())]));
                }
            }
            Dialect::Sqlite => {
                // WAL lets readers run beside the single writer; the busy timeout makes
                // writers (also from another process, e.g. `alphery worker`) wait, not fail.
                opts.max_connections(8).min_connections(1).map_sqlx_sqlite_opts(|o| {
                    o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                        .busy_timeout(Duration::from_secs(15))
                        .foreign_keys(true)
                });
            }
        }
        let mut conn =
            Database::connect(opts).await.map_err(|e| crate::unreachable::explain(url, dialect, e))?;
        conn.set_metric_callback(|_| crate::stats::add(1));
        let raw = (dialect == Dialect::Postgres).then(|| {
            let options = conn.get_postgres_connection_pool().connect_options();
            RawPool::new((*options).clone(), usize::try_from(pool * 4 / 5).unwrap_or(16).max(1))
        });
        Ok(Db { conn, dialect, raw, sealer: None })
    }

    /// This handle, sealing personal data with `sealer` (the server key's).
    pub fn with_sealer(mut self, sealer: Arc<crate::sealed::Sealer>) -> Db {
        self.sealer = Some(sealer);
        self
    }

    /// The server key's sealer, when the handle has one.
    pub fn sealer(&self) -> Result<&crate::sealed::Sealer> {
        self.sealer.as_deref().ok_or_else(|| {
            crate::Error::Internal("this connection has no server key to seal personal data with".into())
        })
    }

    /// The SeaORM backend matching the dialect.
    pub fn backend(&self) -> DbBackend {
        self.dialect.backend()
    }

    /// Begins a transaction that reads one tenant's data: on PostgreSQL `app.tenant_id` is set
    /// for the transaction (row-level security).
    pub async fn begin_tenant_read(&self, tenant_id: &str) -> Result<DatabaseTransaction> {
        // BEGIN and its COMMIT/ROLLBACK.
        crate::stats::add(2);
        let txn = self.conn.begin().await?;
        self.set_tenant(&txn, tenant_id).await?;
        Ok(txn)
    }

    /// Begins a transaction that writes one tenant's data: as `begin_tenant_read`, and
    /// IMMEDIATE on SQLite (it takes the write lock at BEGIN, so it cannot fail to upgrade a
    /// read lock halfway).
    pub async fn begin_tenant_write(&self, tenant_id: &str) -> Result<DatabaseTransaction> {
        let txn = self.begin_write().await?;
        self.set_tenant(&txn, tenant_id).await?;
        Ok(txn)
    }

    /// Sets `app.tenant_id` for the rest of `txn` (PostgreSQL; SQLite has no row-level
    /// security).
    async fn set_tenant(&self, txn: &DatabaseTransaction, tenant_id: &str) -> Result<()> {
        if self.dialect == Dialect::Postgres {
            let stmt = sea_orm::Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true)",
                [tenant_id.into()],
            );
            txn.execute_raw(stmt).await?;
        }
        Ok(())
    }

    /// A write transaction of `tenant_id`: pipelined on a raw connection on PostgreSQL (see
    /// `pipeline`), SeaORM's IMMEDIATE one on SQLite.
    pub async fn write_txn(&self, tenant_id: &str) -> Result<WriteTxn> {
        match &self.raw {
            Some(pool) => {
                // Written into the transaction's first message as a literal.
                let tenant = uuid_literal(tenant_id, "tenant")?;
                let lease = pool.acquire().await.map_err(driver_error)?;
                Ok(WriteTxn::Pipelined(Pipeline::begin(lease, tenant)))
            }
            None => Ok(WriteTxn::Orm(self.begin_tenant_write(tenant_id).await?)),
        }
    }

    /// Begins a read-write transaction (IMMEDIATE on SQLite) without a tenant: for work that
    /// is not tenant-scoped or that sets the tenant itself.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let options = TransactionOptions {
            isolation_level: None,
            // No access mode: on PostgreSQL SeaORM sends it as a `SET TRANSACTION` of its own,
            // one more round trip per write, for what a transaction is by default anyway.
            access_mode: None,
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate)
                .filter(|_| self.dialect == Dialect::Sqlite),
        };
        crate::stats::add(2);
        Ok(self.conn.begin_with_options(options).await?)
    }

    /// Cheap liveness probe for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        self.conn.execute_unprepared("SELECT 1").await?;
        Ok(())
    }
}

/// The connection one GraphQL request reads through (PostgreSQL): taken from the raw pool
/// (`raw_pool`, which takes it back without a round trip) by the first read that needs it,
/// used by every resolver and loader of the request in turn, and given back once at the end
/// (`finish`). Each read is one simple-protocol message: the tenant's `set_config(…, true)`
/// for row-level security, then the statement, EXECUTEd with its values as literals
/// (`crate::inline`; the message first PREPAREs it when the connection has not). PostgreSQL
/// runs a message of several statements as one implicit transaction, so the tenant holds for
/// that statement and for nothing after it, and a read costs one round trip: no BEGIN, no
/// COMMIT, no Parse/Describe round trip for a text the connection has not prepared. Each read
/// sees its own snapshot, as each statement of a READ COMMITTED transaction does. Reads wait
/// for each other on the one connection, which a request's reads do anyway under DataLoader
/// batching.
///
/// Only read-only requests share one: the transport `disable`s the scope when a request
/// carries a mutation (its reads then run in transactions of their own on the main pool,
/// beside its writes), and none is made on SQLite, whose transactions cost no round trip.
pub struct ReadScope {
    db: Db,
    tenant_id: String,
    enabled: AtomicBool,
    conn: tokio::sync::Mutex<Option<Lease>>,
}

impl std::fmt::Debug for ReadScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadScope").field("tenant_id", &self.tenant_id).finish_non_exhaustive()
    }
}

/// A connection to read through: the request's shared one, or a transaction of its own.
pub enum Reader<'a> {
    Shared { conn: tokio::sync::MappedMutexGuard<'a, Lease>, tenant: &'a str },
    Own(DatabaseTransaction),
}

impl Reader<'_> {
    /// The rows of `statement`.
    pub async fn query_all(&mut self, statement: Statement) -> Result<Vec<QueryResult>> {
        match self {
            Reader::Shared { conn, tenant } => {
                let rows = shared_read(conn, tenant, &statement).await?;
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
            Reader::Own(t) => Ok(t.query_all_raw(statement).await?),
        }
    }

    /// The first row of `statement`, if any.
    pub async fn query_one(&mut self, statement: Statement) -> Result<Option<QueryResult>> {
        match self {
            Reader::Shared { conn, tenant } => {
                let rows = shared_read(conn, tenant, &statement).await?;
                Ok(rows.into_iter().next().map(QueryResult::from))
            }
            Reader::Own(t) => Ok(t.query_one_raw(statement).await?),
        }
    }

    /// Ends the read: commits a transaction of its own; a shared connection stays with the
    /// request.
    pub async fn done(self) -> Result<()> {
        if let Reader::Own(t) = self {
            t.commit().await?;
        }
        Ok(())
    }
}

/// One read on the request's connection, with `tenant` set for it.
async fn shared_read(
    conn: &mut Lease,
    tenant: &str,
    statement: &Statement,
) -> Result<Vec<sea_orm::sqlx::postgres::PgRow>> {
    crate::stats::add(1);
    let text = statement_text(conn, statement)?;
    let message = format!("{}; {text}", set_tenant(tenant));
    conn.run(message).await.map_err(driver_error)
}

impl ReadScope {
    /// A scope for one request of `tenant_id` (none on SQLite).
    pub fn new(db: &Db, tenant_id: &str) -> Option<std::sync::Arc<ReadScope>> {
        (db.dialect == Dialect::Postgres).then(|| {
            std::sync::Arc::new(ReadScope {
                db: db.clone(),
                tenant_id: tenant_id.to_owned(),
                enabled: AtomicBool::new(true),
                conn: tokio::sync::Mutex::new(None),
            })
        })
    }

    /// Stops sharing: later reads run in transactions of their own.
    pub fn disable(&self) {
        self.enabled.store(false, Ordering::Relaxed);
    }

    /// A reader for `tenant_id`: the shared connection when this scope is enabled and for
    /// the same tenant, else a transaction of its own.
    pub async fn reader<'a>(scope: Option<&'a ReadScope>, db: &Db, tenant_id: &str) -> Result<Reader<'a>> {
        match scope.filter(|s| s.enabled.load(Ordering::Relaxed) && s.tenant_id == tenant_id) {
            Some(s) => {
                // Checked once here: the id is written into each read's message as a literal.
                let tenant = uuid_literal(&s.tenant_id, "tenant")?;
                let mut guard = s.conn.lock().await;
                if guard.is_none() {
                    let pool =
                        s.db.raw.as_ref().ok_or_else(|| crate::Error::Internal("no raw pool".into()))?;
                    *guard = Some(pool.acquire().await.map_err(driver_error)?);
                }
                let conn = tokio::sync::MutexGuard::try_map(guard, Option::as_mut)
                    .map_err(|_| crate::Error::Internal("read scope without a connection".into()))?;
                Ok(Reader::Shared { conn, tenant })
            }
            None => Ok(Reader::Own(db.begin_tenant_read(tenant_id).await?)),
        }
    }

    /// Gives the request's connection back to the raw pool, if a read took one.
    pub async fn finish(&self) {
        drop(self.conn.lock().await.take());
    }
}

/// Runs `step`, a start-up migration of a SQLite file, again while it fails, for up to about three
/// seconds. Processes started together on one file (a server and its workers) migrate it at the
/// same moment, and SQLite has no lock that orders them the way PostgreSQL's migration lock
/// does: the slower one fails on what the faster one just did ("duplicate column name") and,
/// tried again once that has committed, finds it applied. A lasting failure still surfaces,
/// with its last error.
pub async fn sqlite_migration<T, E, F>(mut step: impl FnMut() -> F) -> std::result::Result<T, E>
where
    F: std::future::Future<Output = std::result::Result<T, E>>,
    E: std::fmt::Display,
{
    const ATTEMPTS: u32 = 12;
    let mut attempt = 1;
    loop {
        match step().await {
            Err(e) if attempt < ATTEMPTS => {
                tracing::debug!(error = %e, attempt, "SQLite migration failed; another process may be migrating");
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            done => return done,
        }
    }
}
