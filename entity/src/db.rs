//! The database handle: one pool, the SQL dialect it speaks, and how transactions begin.
//! Tenant work runs in `begin_tenant` transactions: on PostgreSQL they set `app.tenant_id`
//! (transaction-local), which the row-level security policies check, and the pool connects
//! as the non-owner application role. SQLite write transactions start with `BEGIN IMMEDIATE`
//! so that concurrent writers queue on the busy timeout instead of failing on upgrade.
//! A `ReadScope` is the one read transaction a whole GraphQL request shares on PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    QueryResult, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::Result;

/// The two SQL dialects the engine compiles to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connected database.
#[derive(Debug, Clone)]
pub struct Db {
    pub conn: DatabaseConnection,
    pub dialect: Dialect,
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
                opts.max_connections(20)
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
        let mut conn = Database::connect(opts).await?;
        conn.set_metric_callback(|_| crate::stats::add(1));
        Ok(Db { conn, dialect })
    }

    /// The SeaORM backend matching the dialect.
    pub fn backend(&self) -> DbBackend {
        match self.dialect {
            Dialect::Sqlite => DbBackend::Sqlite,
            Dialect::Postgres => DbBackend::Postgres,
        }
    }

    /// Begins a transaction for one tenant's work: on PostgreSQL `app.tenant_id` is set for
    /// the transaction (row-level security); `write` makes it IMMEDIATE on SQLite.
    pub async fn begin_tenant(&self, tenant_id: &str, write: bool) -> Result<DatabaseTransaction> {
        let txn = if write {
            self.begin_write().await?
        } else {
            // BEGIN and its COMMIT/ROLLBACK.
            crate::stats::add(2);
            self.conn.begin().await?
        };
        if self.dialect == Dialect::Postgres {
            let stmt = sea_orm::Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true)",
                [tenant_id.into()],
            );
            txn.execute_raw(stmt).await?;
        }
        Ok(txn)
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

/// The read transaction one GraphQL request shares (PostgreSQL): begun, with the tenant set
/// for row-level security, by the first read that needs it; used by every resolver and loader
/// of the request in turn; ended once at the end (`finish`). A request so costs one round
/// trip to begin (BEGIN and the tenant's `set_config` sent as one message) and none to end,
/// however many reads it makes, instead of three round trips around each. Reads wait
/// for each other on the one connection, which a request's reads do anyway under DataLoader
/// batching. It is a sqlx transaction of its own on SeaORM's pool, because SeaORM begins a
/// transaction with a bare BEGIN only; dropped unfinished, sqlx rolls it back before the
/// connection serves anyone else.
///
/// Only read-only requests share one: the transport `disable`s the scope when a request
/// carries a mutation (an idle transaction holding `records` open would block the DDL of a
/// definition change in the same request), and none is made on SQLite, whose transactions
/// cost no round trip and whose snapshot would hide a request's own writes from its reads.
pub struct ReadScope {
    db: Db,
    tenant_id: String,
    enabled: AtomicBool,
    txn: tokio::sync::Mutex<Option<PgTransaction>>,
}

type PgTransaction = sea_orm::sqlx::Transaction<'static, sea_orm::sqlx::Postgres>;

impl std::fmt::Debug for ReadScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadScope").field("tenant_id", &self.tenant_id).finish_non_exhaustive()
    }
}

/// A connection to read through: the request's shared transaction, or one of its own.
pub enum Reader<'a> {
    Shared(tokio::sync::MappedMutexGuard<'a, PgTransaction>),
    Own(DatabaseTransaction),
}

/// A driver error as SeaORM reports it, so that it maps to the same public error.
fn driver_error(e: sea_orm::sqlx::Error) -> crate::Error {
    crate::Error::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(std::sync::Arc::new(e))))
}

impl Reader<'_> {
    /// The rows of `statement`.
    pub async fn query_all(&mut self, statement: Statement) -> Result<Vec<QueryResult>> {
        match self {
            Reader::Shared(t) => {
                crate::stats::add(1);
                let rows = bound(&statement).fetch_all(&mut ***t).await.map_err(driver_error)?;
                Ok(rows.into_iter().map(QueryResult::from).collect())
            }
            Reader::Own(t) => Ok(t.query_all_raw(statement).await?),
        }
    }

    /// The first row of `statement`, if any.
    pub async fn query_one(&mut self, statement: Statement) -> Result<Option<QueryResult>> {
        match self {
            Reader::Shared(t) => {
                crate::stats::add(1);
                let row = bound(&statement).fetch_optional(&mut ***t).await.map_err(driver_error)?;
                Ok(row.map(QueryResult::from))
            }
            Reader::Own(t) => Ok(t.query_one_raw(statement).await?),
        }
    }

    /// Ends the read: commits a transaction of its own; a shared one stays open for the rest
    /// of the request.
    pub async fn done(self) -> Result<()> {
        if let Reader::Own(t) = self {
            t.commit().await?;
        }
        Ok(())
    }
}

/// `statement` with its values bound as SeaORM binds them.
fn bound(
    statement: &Statement,
) -> sea_orm::sqlx::query::Query<'_, sea_orm::sqlx::Postgres, sea_query_sqlx::SqlxValues> {
    let values = statement.values.clone().unwrap_or(sea_orm::Values(Vec::new()));
    sea_orm::sqlx::query_with(
        sea_orm::sqlx::AssertSqlSafe(statement.sql.as_str()),
        sea_query_sqlx::SqlxValues(values),
    )
}

impl ReadScope {
    /// A scope for one request of `tenant_id` (none on SQLite).
    pub fn new(db: &Db, tenant_id: &str) -> Option<std::sync::Arc<ReadScope>> {
        (db.dialect == Dialect::Postgres).then(|| {
            std::sync::Arc::new(ReadScope {
                db: db.clone(),
                tenant_id: tenant_id.to_owned(),
                enabled: AtomicBool::new(true),
                txn: tokio::sync::Mutex::new(None),
            })
        })
    }

    /// Stops sharing: later reads run in transactions of their own.
    pub fn disable(&self) {
        self.enabled.store(false, Ordering::Relaxed);
    }

    /// Begins the shared transaction: BEGIN and the tenant in one message. The tenant id is
    /// written as a literal (a simple-protocol message takes no parameters).
    async fn begin(&self) -> Result<PgTransaction> {
        let id = crate::runtime::sql::uuid_literal(&self.tenant_id, "tenant")?;
        let begin = format!("BEGIN; SELECT set_config('app.tenant_id', '{id}', true)");
        // BEGIN and the ROLLBACK that ends it (`finish`), as statements.
        crate::stats::add(2);
        self.db
            .conn
            .get_postgres_connection_pool()
            .begin_with(sea_orm::sqlx::AssertSqlSafe(begin))
            .await
            .map_err(driver_error)
    }

    /// A reader for `tenant_id`: the shared transaction when this scope is enabled and for
    /// the same tenant, else a transaction of its own.
    pub async fn reader<'a>(scope: Option<&'a ReadScope>, db: &Db, tenant_id: &str) -> Result<Reader<'a>> {
        match scope.filter(|s| s.enabled.load(Ordering::Relaxed) && s.tenant_id == tenant_id) {
            Some(s) => {
                let mut guard = s.txn.lock().await;
                if guard.is_none() {
                    *guard = Some(s.begin().await?);
                }
                let guard = tokio::sync::MutexGuard::try_map(guard, Option::as_mut)
                    .map_err(|_| crate::Error::Internal("read scope without a transaction".into()))?;
                Ok(Reader::Shared(guard))
            }
            None => Ok(Reader::Own(db.begin_tenant(tenant_id, false).await?)),
        }
    }

    /// Ends the shared transaction, if one was begun. It only read, so it ends with the
    /// ROLLBACK sqlx queues when a transaction is dropped: that goes out with the check the
    /// pool makes of every connection it takes back (a round trip it makes anyway), where a
    /// COMMIT would cost a round trip of its own.
    pub async fn finish(&self) {
        drop(self.txn.lock().await.take());
    }
}
