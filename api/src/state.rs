//! Process-wide state shared by every request: configuration, database, event bus, outbox
//! dispatcher, token keys, the credential cache, the rate limiter and the schema registry.

use std::sync::Arc;

use entity::Db;
use jobs::{Dispatcher, EventBus};

use crate::auth::tokens::JwtKeys;
use crate::config::Config;
use crate::schema::registry::Registry;

/// Shared state (cheap to clone: everything inside is reference-counted).
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub config: Config,
    /// Tenant traffic (on PostgreSQL: the application role, under row-level security).
    pub db: Db,
    /// The migrating user: cross-tenant system work (the outbox dispatcher).
    pub system_db: Db,
    pub bus: EventBus,
    /// The bus fanned out to subscriptions and sockets (`live`).
    pub live: Arc<crate::live::Live>,
    pub dispatcher: Dispatcher,
    pub keys: JwtKeys,
    pub registry: Registry,
    /// Authenticated credentials (see `auth::cache`).
    pub auth_cache: crate::auth::cache::AuthCache,
    /// Rate-limit budgets (see `rate`).
    pub limiter: crate::rate::Limiter,
    /// Process metrics (`/metrics`).
    pub metrics: crate::http::metrics::Metrics,
    /// The schema of requests without a credential (built once).
    pub public_schema: async_graphql::dynamic::Schema,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
