//! The schema registry: one compiled schema per tenant, metadata version and effective
//! permissions (roles with identical permissions share one), built on demand and kept in a
//! bounded LRU. A definition change bumps the tenant's metadata version, so the next request
//! misses and builds the new schema; nothing is rebuilt per request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::dynamic::Schema;
use entity::runtime::meta::TenantMeta;
use entity::runtime::policy::Permissions;

use super::access::SchemaAccess;
use super::build::{SchemaOptions, build_schema};
use super::compiled::Plans;
use crate::error::ApiError;
use crate::state::AppState;

/// A compiled tenant schema with the metadata it was built from and the plans of the
/// queries it has answered (`compiled`).
pub struct CompiledSchema {
    pub schema: Schema,
    pub meta: Arc<TenantMeta>,
    pub plans: Plans,
    sdl: OnceLock<String>,
}

impl CompiledSchema {
    pub fn new(
        meta: Arc<TenantMeta>,
        permissions: &Arc<Permissions>,
        options: &SchemaOptions,
    ) -> Result<Self, ApiError> {
        let access = Arc::new(SchemaAccess::new(meta.clone(), permissions.clone()));
        Ok(CompiledSchema {
            schema: build_schema(&access, options)?,
            meta,
            plans: Plans::new(access),
            sdl: OnceLock::new(),
        })
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

/// (tenant id, canonical permissions)
type Key = (String, String);

/// The cache.
pub struct Registry {
    entries: Mutex<HashMap<Key, Entry>>,
    clock: AtomicU64,
    capacity: usize,
    lookups: AtomicU64,
    builds: AtomicU64,
    /// Time spent building (metadata load and compile), in microseconds.
    build_micros: AtomicU64,
    options: SchemaOptions,
}

impl Registry {
    pub fn new(capacity: usize, options: SchemaOptions) -> Self {
        Registry {
            entries: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            capacity: capacity.max(1),
            lookups: AtomicU64::new(0),
            builds: AtomicU64::new(0),
            build_micros: AtomicU64::new(0),
            options,
        }
    }

    /// How many schemas were compiled since start (for metrics and tests).
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// How many requests asked for a tenant schema since start (the hit rate is
    /// `1 - builds / lookups`).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// Seconds spent building schemas since start, metadata load included.
    pub fn build_seconds(&self) -> f64 {
        self.build_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// How many schemas are cached now.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    /// Whether no schema is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Key, Entry>>, ApiError> {
        self.entries.lock().map_err(|_| ApiError::Internal("registry lock poisoned".into()))
    }

    /// The tenant's schema for `permissions` at metadata `version` or newer.
    pub async fn tenant_schema(
        &self,
        state: &AppState,
        tenant_id: &str,
        version: i64,
        permissions: &Arc<Permissions>,
    ) -> Result<Arc<CompiledSchema>, ApiError> {
        let key: Key = (tenant_id.to_owned(), permissions.canonical().to_owned());
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = self.lock()?.get_mut(&key).filter(|e| e.compiled.meta.version >= version) {
            e.last_used = tick;
            return Ok(e.compiled.clone());
        }
        let started = std::time::Instant::now();
        let meta = Arc::new(TenantMeta::load_for(&state.db, tenant_id).await.map_err(ApiError::from)?);
        let compiled = Arc::new(CompiledSchema::new(meta, permissions, &self.options)?);
        self.builds.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.build_micros.fetch_add(micros, Ordering::Relaxed);
        let mut entries = self.lock()?;
        let newer = entries.get(&key).is_some_and(|e| e.compiled.meta.version > compiled.meta.version);
        if !newer {
            entries.insert(key, Entry { compiled: compiled.clone(), last_used: tick });
        }
        if entries.len() > self.capacity
            && let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        Ok(compiled)
    }
}
