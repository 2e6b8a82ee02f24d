//! The transport's state: the shared services that resolvers get, and what only the HTTP layer
//! uses — the schema registry, the public schema and the process metrics.

use std::sync::Arc;

use super::metrics::Metrics;
use super::registry::Registry;
use crate::services::Services;

/// What every request handler shares (cheap to clone: everything inside is reference-counted).
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    /// Handed to resolvers through the request data.
    pub services: Services,
    pub registry: Registry,
    /// Process metrics (`/metrics`).
    pub metrics: Metrics,
    /// The schema of requests without a credential (built once).
    pub public_schema: async_graphql::dynamic::Schema,
}

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0.services
    }
}

impl AppState {
    pub fn registry(&self) -> &Registry {
        &self.0.registry
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn public_schema(&self) -> &async_graphql::dynamic::Schema {
        &self.0.public_schema
    }
}
