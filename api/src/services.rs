//! What resolvers and services share, process-wide: configuration, the databases, the event bus
//! and its live fan-out, the outbox dispatcher, token keys, the credential cache and the rate
//! limiter. A leaf of the crate: it knows nothing of HTTP or of the schema registry, which the
//! transport holds beside it (`http::state::AppState`), so everything below the transport can
//! take `&Services` without reaching back up.

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
    /// Authenticated credentials (see `auth::cache`).
    pub auth_cache: AuthCache,
    /// Rate-limit budgets (see `rate`).
    pub limiter: Limiter,
}

impl Services {
    pub fn new(inner: Inner) -> Self {
        Services(Arc::new(inner))
    }

    /// What `read` reads, in one transaction that reads tenant `tenant_id`'s data (row-level
    /// security on PostgreSQL), committed once `read` succeeds; rolled back when it fails.
    pub async fn tenant_read<T, E>(
        &self,
        tenant_id: &str,
        read: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, E>,
    ) -> Result<T, ApiError>
    where
        ApiError: From<E>,
    {
        committed(self.db.begin_tenant_read(tenant_id).await?, read).await
    }

    /// What `write` returns, in one transaction that writes tenant `tenant_id`'s data
    /// (`Db::begin_tenant_write`), committed once `write` succeeds; rolled back when it fails.
    pub async fn tenant_write<T, E>(
        &self,
        tenant_id: &str,
        write: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, E>,
    ) -> Result<T, ApiError>
    where
        ApiError: From<E>,
    {
        committed(self.db.begin_tenant_write(tenant_id).await?, write).await
    }
}

/// `work` in `txn`, committed when it succeeds (dropping `txn` on failure rolls it back).
async fn committed<T, E>(
    txn: DatabaseTransaction,
    work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, E>,
) -> Result<T, ApiError>
where
    ApiError: From<E>,
{
    let value = work(&txn).await?;
    txn.commit().await?;
    Ok(value)
}

impl std::ops::Deref for Services {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
