//! Per-request (or per-socket) DataLoaders, built on the `dataloader` crate: related records
//! by id, users by id (and their attributes), and reverse-relation pages by parent. Every relation in a response is
//! fetched in one statement per batch, never one query per row. The loaders do not cache, so
//! a long-lived socket always sees current data.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use dataloader::BatchFn;
use dataloader::non_cached::Loader;
use entity::ReadScope;
use entity::features::users::attributes;
use entity::runtime::meta::{EntityDef, FieldDef};
use entity::runtime::policy::Attributes;
use entity::runtime::record::Record;
use entity::runtime::store::{ListArgs, Store};

use crate::auth::service::{UserView, users_by_id};
use crate::error::ApiError;
use crate::services::{Services, Txn};

/// A batch result: the value, or the error shared by the whole batch (with its public code:
/// a bad cursor in a nested connection's arguments is the client's error, as at the root).
pub type Loaded<T> = Result<T, Arc<ApiError>>;

/// Related records by id (any entity of the tenant; callers check the entity).
pub struct RecordBatch {
    state: Services,
    tenant_id: String,
    scope: Option<Arc<ReadScope>>,
}

impl BatchFn<String, Loaded<Option<Record>>> for RecordBatch {
    async fn load(&mut self, keys: &[String]) -> HashMap<String, Loaded<Option<Record>>> {
        let store = Store::scoped(&self.state.db, &self.tenant_id, self.scope.as_deref());
        match store.get_many(keys).await {
            Ok(records) => {
                let mut by_id: HashMap<String, Record> =
                    records.into_iter().map(|r| (r.id.clone(), r)).collect();
                keys.iter().map(|k| (k.clone(), Ok(by_id.remove(k)))).collect()
            }
            Err(e) => {
                let e = Arc::new(ApiError::from(e));
                keys.iter().map(|k| (k.clone(), Err(e.clone()))).collect()
            }
        }
    }
}

/// Users by id (for `createdBy` and `owner`).
pub struct UserBatch {
    state: Services,
    tenant_id: String,
}

impl BatchFn<String, Loaded<Option<UserView>>> for UserBatch {
    async fn load(&mut self, keys: &[String]) -> HashMap<String, Loaded<Option<UserView>>> {
        match users_by_id(&self.state.db, &self.tenant_id, keys).await {
            Ok(users) => {
                let mut by_id: HashMap<String, UserView> =
                    users.into_iter().map(|u| (u.id.clone(), u)).collect();
                keys.iter().map(|k| (k.clone(), Ok(by_id.remove(k)))).collect()
            }
            Err(e) => {
                let e = Arc::new(e);
                keys.iter().map(|k| (k.clone(), Err(e.clone()))).collect()
            }
        }
    }
}

/// Users' attributes by user id (`User.attributes` of a list of users): one statement per
/// batch; a user without any has none (`{}`).
pub struct AttributeBatch {
    state: Services,
    tenant_id: String,
}

impl BatchFn<String, Loaded<Attributes>> for AttributeBatch {
    async fn load(&mut self, keys: &[String]) -> HashMap<String, Loaded<Attributes>> {
        let tenant_id = self.tenant_id.as_str();
        let found = self
            .state
            .in_tenant(tenant_id, Txn::Read, async |txn| attributes::of_users(txn, tenant_id, keys).await)
            .await;
        match found {
            Ok(mut by_id) => {
                keys.iter().map(|k| (k.clone(), Ok(by_id.remove(k).unwrap_or_default()))).collect()
            }
            Err(e) => {
                let e = Arc::new(e);
                keys.iter().map(|k| (k.clone(), Err(e.clone()))).collect()
            }
        }
    }
}

/// What a reverse-relation page is asked for: the relation and the list arguments, shared by
/// every parent in the batch.
#[derive(Debug)]
pub struct ReverseSpec {
    /// Identifies the relation and the arguments (parents with equal keys batch together).
    pub key: String,
    pub source: Arc<EntityDef>,
    pub field: FieldDef,
    pub args: ListArgs,
    pub limit: u64,
}

/// One parent's reverse-relation page request.
#[derive(Debug, Clone)]
pub struct ReverseKey {
    pub parent_id: String,
    pub spec: Arc<ReverseSpec>,
}

impl PartialEq for ReverseKey {
    fn eq(&self, other: &Self) -> bool {
        self.parent_id == other.parent_id && self.spec.key == other.spec.key
    }
}
impl Eq for ReverseKey {}
impl Hash for ReverseKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.parent_id.hash(h);
        self.spec.key.hash(h);
    }
}

/// A parent's page: records, whether more exist, and the total.
#[derive(Debug, Clone, Default)]
pub struct ReversePage {
    pub records: Vec<Record>,
    pub has_more: bool,
    pub total: i64,
}

pub struct ReverseBatch {
    state: Services,
    tenant_id: String,
    scope: Option<Arc<ReadScope>>,
}

impl BatchFn<ReverseKey, Loaded<ReversePage>> for ReverseBatch {
    async fn load(&mut self, keys: &[ReverseKey]) -> HashMap<ReverseKey, Loaded<ReversePage>> {
        let store = Store::scoped(&self.state.db, &self.tenant_id, self.scope.as_deref());
        let mut groups: HashMap<&str, (Arc<ReverseSpec>, Vec<String>)> = HashMap::new();
        for k in keys {
            groups
                .entry(&k.spec.key)
                .or_insert_with(|| (k.spec.clone(), Vec::new()))
                .1
                .push(k.parent_id.clone());
        }
        let mut out = HashMap::with_capacity(keys.len());
        for (spec, parents) in groups.into_values() {
            let result =
                store.reverse_batch(&spec.source, &spec.field, &parents, &spec.args, spec.limit).await;
            match result {
                Ok(mut pages) => {
                    for p in parents {
                        let page = pages
                            .remove(&p)
                            .map(|(records, has_more, total)| ReversePage { records, has_more, total })
                            .unwrap_or_default();
                        out.insert(ReverseKey { parent_id: p, spec: spec.clone() }, Ok(page));
                    }
                }
                Err(e) => {
                    let e = Arc::new(ApiError::from(e));
                    for p in parents {
                        out.insert(ReverseKey { parent_id: p, spec: spec.clone() }, Err(e.clone()));
                    }
                }
            }
        }
        out
    }
}

/// The loaders of one request or socket.
pub struct Loaders {
    pub records: Loader<String, Loaded<Option<Record>>, RecordBatch>,
    pub users: Loader<String, Loaded<Option<UserView>>, UserBatch>,
    pub attributes: Loader<String, Loaded<Attributes>, AttributeBatch>,
    pub reverse: Loader<ReverseKey, Loaded<ReversePage>, ReverseBatch>,
    /// The caller's row rules with `within`, by entity id, loaded once (`ctx::ready_row_filter`).
    pub rules: std::sync::Mutex<HashMap<String, Option<entity::runtime::filter::Filter>>>,
}

impl Loaders {
    /// Loaders for `tenant_id`; record reads share `scope` (the request's read connection).
    pub fn new(state: &Services, tenant_id: &str, scope: Option<Arc<ReadScope>>) -> Self {
        let tenant_id = tenant_id.to_owned();
        Loaders {
            records: Loader::new(RecordBatch {
                state: state.clone(),
                tenant_id: tenant_id.clone(),
                scope: scope.clone(),
            })
            .with_max_batch_size(500),
            users: Loader::new(UserBatch { state: state.clone(), tenant_id: tenant_id.clone() })
                .with_max_batch_size(500),
            attributes: Loader::new(AttributeBatch { state: state.clone(), tenant_id: tenant_id.clone() })
                .with_max_batch_size(500),
            reverse: Loader::new(ReverseBatch { state: state.clone(), tenant_id, scope })
                .with_max_batch_size(200),
            rules: std::sync::Mutex::default(),
        }
    }
}

/// Turns the loader's own failure into a GraphQL error (the cause is logged, not shown).
pub fn load_error(e: impl std::fmt::Display) -> async_graphql::Error {
    ApiError::Internal(format!("loader: {e}")).to_graphql()
}

/// A batch's error as the GraphQL error of each field that asked for it, with its code.
pub fn loaded_error(e: Arc<ApiError>) -> async_graphql::Error {
    e.to_graphql()
}
