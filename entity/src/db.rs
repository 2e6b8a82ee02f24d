//! The database handle: one pool, the SQL dialect it speaks, and how transactions begin.
//! Tenant work runs in `begin_tenant` transactions: on PostgreSQL they set `app.tenant_id`
//! (transaction-local), which the row-level security policies check, and the pool connects
//! as the non-owner application role. SQLite write transactions start with `BEGIN IMMEDIATE`
//! so that concurrent writers queue on the busy timeout instead of failing on upgrade.

use std::time::Duration;

use sea_orm::{
    AccessMode, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction,
    DbBackend, SqliteTransactionMode, TransactionOptions, TransactionTrait,
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
                opts.max_connections(20).min_connections(1);
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
        let conn = Database::connect(opts).await?;
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
        let txn = if write { self.begin_write().await? } else { self.conn.begin().await? };
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
            access_mode: Some(AccessMode::ReadWrite).filter(|_| self.dialect == Dialect::Postgres),
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate)
                .filter(|_| self.dialect == Dialect::Sqlite),
        };
        Ok(self.conn.begin_with_options(options).await?)
    }

    /// Cheap liveness probe for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        self.conn.execute_unprepared("SELECT 1").await?;
        Ok(())
    }
}
