//! The schema registry: a tenant's schema for a role, built on demand and kept within a memory
//! budget. A definition change bumps the tenant's metadata version, so the next request misses
//! and builds anew; nothing is rebuilt per request. Switching a module bumps it too, and the
//! schema is built from the definitions that are switched on (`TenantMeta::switched_on`), which
//! is what the shape is taken of.
//!
//! What is kept has two parts. The compiled schema (types, resolvers, introspection, query
//! plans: about 1.5 MB for the ten entities of the hospital template) is the same for every
//! tenant and role of one *shape* (`shape`: the definitions without their ids, and the
//! permissions), so it is built once per shape and shared: 10,000 tenants signed up from one
//! template hold one. Per (tenant, role) there is only the tenant's own `SchemaAccess` (its
//! metadata and the role's views of it), which the resolvers read from the request.
//!
//! The budget (`SCHEMA_CACHE_MB`) counts both, by what each took from the allocator while it
//! was built (`alloc::measure`); past it, the least recently used tenant entries go, and a
//! shared schema goes with the last entry that used it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::dynamic::Schema;
use entity::runtime::meta::TenantMeta;
use entity::runtime::policy::Permissions;

use crate::alloc::measure;
use crate::error::ApiError;
use crate::schema::access::SchemaAccess;
use crate::schema::build::{SchemaOptions, build_schema};
use crate::schema::compiled::Plans;
use crate::schema::ctx::OwnSchema;
use crate::schema::feature::Features;
use crate::schema::shape::{self, Shape};
use entity::Db;

/// What tenants and roles of one shape share: the schema and the plans of the queries it has
/// answered (`compiled`).
pub struct SharedSchema {
    pub schema: Schema,
    pub plans: Plans,
    sdl: OnceLock<String>,
    /// Heap bytes it took when built.
    pub bytes: usize,
}

impl SharedSchema {
    fn build(access: &SchemaAccess, options: &SchemaOptions, features: Features) -> Result<Self, ApiError> {
        let (built, bytes) = measure(|| -> Result<_, ApiError> {
            Ok((build_schema(access, options, features)?, Plans::new(access)))
        });
        let (schema, plans) = built?;
        Ok(SharedSchema { schema, plans, sdl: OnceLock::new(), bytes })
    }
}

/// A tenant's schema for a role: its own view of its definitions, and the compiled schema of
/// its shape.
pub struct CompiledSchema {
    /// Put into every request's data: the resolvers read the tenant's entities from it.
    pub access: Arc<SchemaAccess>,
    pub shared: Arc<SharedSchema>,
    /// Heap bytes of the tenant's own part (its metadata and views).
    pub bytes: usize,
}

impl CompiledSchema {
    /// The tenant's metadata the schema was built from.
    pub fn meta(&self) -> &Arc<TenantMeta> {
        &self.access.meta
    }
}

impl OwnSchema for CompiledSchema {
    fn access(&self) -> &Arc<SchemaAccess> {
        &self.access
    }

    /// The SDL (computed once per shape).
    fn sdl(&self) -> String {
        self.shared.sdl.get_or_init(|| crate::schema::build::sdl(&self.shared.schema)).clone()
    }
}

/// The tenant's own part, weighed: a copy of its metadata made here (the loaded one was built
/// across awaits, where nothing can weigh it) and the role's views of it.
fn own_part(meta: &TenantMeta, permissions: &Arc<Permissions>) -> (Arc<SchemaAccess>, usize) {
    measure(|| {
        let entities = meta.entities.iter().map(|e| Arc::new((**e).clone())).collect();
        let mut copy = TenantMeta::new(meta.tenant_id.clone(), meta.version, entities)
            .with_crm(Arc::new((*meta.crm).clone()))
            .with_focus(Arc::new((*meta.focus).clone()));
        // The tenant's zone too (`dailyFocus` falls back to it).
        copy.time_zone = meta.time_zone;
        let copy = Arc::new(copy);
        Arc::new(SchemaAccess::new(copy, permissions.clone()))
    })
}

struct Entry {
    compiled: Arc<CompiledSchema>,
    last_used: u64,
}

/// (tenant id, canonical permissions)
type Key = (String, String);

#[derive(Default)]
struct Cache {
    tenants: HashMap<Key, Entry>,
    shapes: HashMap<Shape, Arc<SharedSchema>>,
    /// Bytes of the tenant parts held.
    tenant_bytes: usize,
    /// Bytes of the compiled schemas held.
    shape_bytes: usize,
}

/// What the cache holds now (`/metrics`, the scale benchmark).
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Tenant schemas (tenant and role).
    pub entries: usize,
    /// Distinct compiled schemas.
    pub shapes: usize,
    pub tenant_bytes: usize,
    pub shape_bytes: usize,
}

impl Cache {
    fn insert(&mut self, key: Key, entry: Entry) {
        self.tenant_bytes += entry.compiled.bytes;
        if let Some(old) = self.tenants.insert(key, entry) {
            self.tenant_bytes = self.tenant_bytes.saturating_sub(old.compiled.bytes);
        }
    }

    /// Drops least recently used tenant entries until the cache is within `budget` (keeping
    /// at least the newest), then every shared schema no entry and no request uses.
    fn shrink(&mut self, budget: usize) {
        while self.tenant_bytes + self.shape_bytes > budget && self.tenants.len() > 1 {
            let Some(oldest) = self.tenants.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(gone) = self.tenants.remove(&oldest) {
                self.tenant_bytes = self.tenant_bytes.saturating_sub(gone.compiled.bytes);
            }
            self.sweep();
        }
    }

    /// Forgets shared schemas only the cache holds (a request still running keeps its own).
    fn sweep(&mut self) {
        let mut freed = 0;
        self.shapes.retain(|_, s| {
            let used = Arc::strong_count(s) > 1;
            if !used {
                freed += s.bytes;
            }
            used
        });
        self.shape_bytes = self.shape_bytes.saturating_sub(freed);
    }
}

/// The cache.
pub struct Registry {
    cache: Mutex<Cache>,
    clock: AtomicU64,
    budget: usize,
    lookups: AtomicU64,
    builds: AtomicU64,
    /// Of the builds, those that compiled a schema (the others found their shape compiled).
    compiles: AtomicU64,
    /// Time spent building (metadata load and compile), in microseconds.
    build_micros: AtomicU64,
    options: SchemaOptions,
    /// What the schemas are built with besides the platform and the entities.
    features: Features,
}

impl Registry {
    /// A registry keeping at most `budget_bytes` of schemas (at least the latest one), built
    /// with `options` and `features`.
    pub fn new(budget_bytes: usize, options: SchemaOptions, features: Features) -> Self {
        Registry {
            cache: Mutex::new(Cache::default()),
            clock: AtomicU64::new(0),
            budget: budget_bytes,
            lookups: AtomicU64::new(0),
            builds: AtomicU64::new(0),
            compiles: AtomicU64::new(0),
            build_micros: AtomicU64::new(0),
            options,
            features,
        }
    }

    /// How many tenant schemas were built since start (for metrics and tests).
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// How many of the builds compiled a schema (the rest shared one of their shape).
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
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

    /// What the cache holds now.
    pub fn usage(&self) -> Usage {
        self.cache
            .lock()
            .map(|c| Usage {
                entries: c.tenants.len(),
                shapes: c.shapes.len(),
                tenant_bytes: c.tenant_bytes,
                shape_bytes: c.shape_bytes,
            })
            .unwrap_or_default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Cache>, ApiError> {
        self.cache.lock().map_err(|_| ApiError::Internal("registry lock poisoned".into()))
    }

    /// The tenant's schema for `permissions` at metadata `version` or newer.
    pub async fn tenant_schema(
        &self,
        db: &Db,
        tenant_id: &str,
        version: i64,
        permissions: &Arc<Permissions>,
    ) -> Result<Arc<CompiledSchema>, ApiError> {
        let key: Key = (tenant_id.to_owned(), permissions.canonical().to_owned());
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if let Some(e) = self.lock()?.tenants.get_mut(&key).filter(|e| e.compiled.meta().version >= version) {
            e.last_used = tick;
            return Ok(e.compiled.clone());
        }
        let started = std::time::Instant::now();
        // Entities their modules switched off are not part of the API (nor of the shape).
        let meta = TenantMeta::load_for(db, tenant_id).await.map_err(ApiError::from)?.switched_on();
        let shape = shape::of(&meta, permissions);
        let (access, bytes) = own_part(&meta, permissions);
        let known = self.lock()?.shapes.get(&shape).cloned();
        let shared = match known {
            Some(shared) => shared,
            None => {
                let shared = Arc::new(SharedSchema::build(&access, &self.options, self.features)?);
                self.compiles.fetch_add(1, Ordering::Relaxed);
                let mut cache = self.lock()?;
                // Another request may have compiled the shape meanwhile: keep one.
                let kept = cache.shapes.entry(shape).or_insert_with(|| shared.clone()).clone();
                if Arc::ptr_eq(&kept, &shared) {
                    cache.shape_bytes += shared.bytes;
                }
                kept
            }
        };
        let compiled = Arc::new(CompiledSchema { access, shared, bytes });
        self.builds.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.build_micros.fetch_add(micros, Ordering::Relaxed);
        let mut cache = self.lock()?;
        let newer =
            cache.tenants.get(&key).is_some_and(|e| e.compiled.meta().version > compiled.meta().version);
        if !newer {
            cache.insert(key, Entry { compiled: compiled.clone(), last_used: tick });
        }
        cache.shrink(self.budget);
        // A definition change leaves the old shape to nobody.
        cache.sweep();
        Ok(compiled)
    }
}
