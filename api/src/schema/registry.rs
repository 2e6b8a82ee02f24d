//! The schema registry: one compiled schema per tenant and metadata version, built on demand
//! and kept in a bounded LRU. A definition change bumps the tenant's metadata version, so the
//! next request misses and builds the new schema; nothing is rebuilt per request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::dynamic::Schema;
use entity::runtime::meta::TenantMeta;

use super::build::build_tenant_schema;
use crate::error::ApiError;
use crate::state::AppState;

/// A compiled tenant schema with the metadata it was built from.
pub struct CompiledSchema {
    pub schema: Schema,
    pub meta: Arc<TenantMeta>,
    sdl: OnceLock<String>,
}

impl CompiledSchema {
    pub fn new(meta: Arc<TenantMeta>) -> Result<Self, ApiError> {
        Ok(CompiledSchema { schema: build_tenant_schema(&meta)?, meta, sdl: OnceLock::new() })
    }

    /// The SDL (computed once per compiled schema).
    pub fn sdl(&self) -> String {
        self.sdl.get_or_init(|| self.schema.sdl()).clone()
    }
}

struct Entry {
    compiled: Arc<CompiledSchema>,
    last_used: u64,
}

/// The cache.
pub struct Registry {
    entries: Mutex<HashMap<String, Entry>>,
    clock: AtomicU64,
    capacity: usize,
    builds: AtomicU64,
}

impl Registry {
    pub fn new(capacity: usize) -> Self {
        Registry {
            entries: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            capacity: capacity.max(1),
            builds: AtomicU64::new(0),
        }
    }

    /// How many schemas were compiled since start (for metrics and tests).
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// The tenant's schema at `version` or newer.
    pub async fn tenant_schema(
        &self,
        state: &AppState,
        tenant_id: &str,
        version: i64,
    ) -> Result<Arc<CompiledSchema>, ApiError> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        {
            let mut entries =
                self.entries.lock().map_err(|_| ApiError::Internal("registry lock poisoned".into()))?;
            if let Some(e) = entries.get_mut(tenant_id).filter(|e| e.compiled.meta.version >= version) {
                e.last_used = tick;
                return Ok(e.compiled.clone());
            }
        }
        let meta = Arc::new(TenantMeta::load_for(&state.db, tenant_id).await.map_err(ApiError::from)?);
        let compiled = Arc::new(CompiledSchema::new(meta)?);
        self.builds.fetch_add(1, Ordering::Relaxed);
        let mut entries =
            self.entries.lock().map_err(|_| ApiError::Internal("registry lock poisoned".into()))?;
        let newer = entries.get(tenant_id).is_some_and(|e| e.compiled.meta.version > compiled.meta.version);
        if !newer {
            entries.insert(tenant_id.to_owned(), Entry { compiled: compiled.clone(), last_used: tick });
        }
        if entries.len() > self.capacity
            && let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        Ok(compiled)
    }
}
