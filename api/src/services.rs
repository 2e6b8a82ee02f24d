//! What resolvers and services share, process-wide: configuration, the databases, the event bus
//! and its live fan-out, the outbox dispatcher, token keys, the credential cache, the rate
//! limiter and the file store. A leaf of the crate: it knows nothing of HTTP or of the schema
//! registry, which the transport holds beside it (`http::state::AppState`), so everything below
//! the transport can take `&Services` without reaching back up.

use std::sync::Arc;

use entity::Db;
use jobs::{Dispatcher, EventBus};
use sea_orm::DatabaseTransaction;

use crate::auth::cache::AuthCache;
use crate::auth::tokens::JwtKeys;
use crate::config::Config;
use crate::error::ApiError;
use crate::live::Live;
use crate::rate::Limiter;
use crate::storage::FileStore;

/// Shared services (cheap to clone: one reference count).
#[derive(Clone)]
pub struct Services(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// Tenant traffic (on PostgreSQL: the application role, under row-level security).
    pub db: Db,
    /// The migrating user: cross-tenant system work (the outbox dispatcher).
    pub system_db: Db,
    pub bus: EventBus,
    /// The bus fanned out to subscriptions and sockets (`live`).
    pub live: Arc<Live>,
    pub dispatcher: Dispatcher,
    pub keys: JwtKeys,
    /// Seals secrets kept at rest (TOTP secrets) with the server key.
    pub sealer: Arc<entity::sealed::Sealer>,
    /// Authenticated credentials (see `auth::cache`).
    pub auth_cache: AuthCache,
    /// Rate-limit budgets (see `rate`).
    pub limiter: Limiter,
    /// Where uploaded files' bytes are kept (`storage`: a local directory or an S3 bucket).
    pub files: Arc<dyn FileStore>,
}

impl Services {
    pub fn new(inner: Inner) -> Self {
        Services(Arc::new(inner))
    }

    /// What `work` returns, in one transaction on tenant `tenant_id`'s data (row-level
    /// security on PostgreSQL) that begins as `txn` says, committed once `work` succeeds and
    /// rolled back (dropped) when it fails.
    pub async fn in_tenant<T, E>(
        &self,
        tenant_id: &str,
        txn: Txn,
        work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, E>,
    ) -> Result<T, ApiError>
    where
        ApiError: From<E>,
    {
        let txn = match txn {
            Txn::Read => self.db.begin_tenant_read(tenant_id).await?,
            Txn::Write => self.db.begin_tenant_write(tenant_id).await?,
        };
        let value = work(&txn).await?;
        txn.commit().await?;
        Ok(value)
    }
}

/// How `Services::in_tenant` begins its transaction.
#[derive(Debug, Clone, Copy)]
pub enum Txn {
    /// `Db::begin_tenant_read`.
    Read,
    /// `Db::begin_tenant_write` (IMMEDIATE on SQLite).
    Write,
}

impl std::ops::Deref for Services {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
