//! Per-request (or per-socket) DataLoaders, built on the `dataloader` crate: related records
//! by id, users by id (and their attributes), pipeline records' confidence scores by record id,
//! and reverse-relation pages by parent. Every relation in a response is fetched in one
//! statement per batch, never one query per row. The loaders do not cache, so a long-lived
//! socket always sees current data.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use dataloader::BatchFn;
use dataloader::non_cached::Loader;
use entity::ReadScope;
use entity::features::confidence::{self, Score};
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

/// `items` by the id `id_of` reads from each.
fn by_id<T>(items: Vec<T>, id_of: impl Fn(&T) -> String) -> HashMap<String, T> {
    items.into_iter().map(|x| (id_of(&x), x)).collect()
}

/// Each key's value in `found` (none when it has none), or the batch's one error for every key.
fn each_key<T, E>(keys: &[String], found: Result<HashMap<String, T>, E>) -> HashMap<String, Loaded<Option<T>>>
where
    ApiError: From<E>,
{
    match found {
        Ok(mut by_id) => keys.iter().map(|k| (k.clone(), Ok(by_id.remove(k)))).collect(),
        Err(e) => {
            let e = Arc::new(ApiError::from(e));
            keys.iter().map(|k| (k.clone(), Err(e.clone()))).collect()
        }
    }
}

/// What the batches that read through the record store share: the tenant and the request's
/// read connection.
#[derive(Clone)]
pub struct Scoped {
    state: Services,
    tenant_id: String,
    scope: Option<Arc<ReadScope>>,
}

impl Scoped {
    fn store(&self) -> Store<'_> {
        Store::scoped(&self.state.db, &self.tenant_id, self.scope.as_deref())
    }
}

/// Related records by id (any entity of the tenant; callers check the entity).
pub struct RecordBatch(Scoped);

impl BatchFn<String, Loaded<Option<Record>>> for RecordBatch {
    async fn load(&mut self, keys: &[String]) -> HashMap<String, Loaded<Option<Record>>> {
        let store = self.0.store();
        let found = store.get_many(keys).await.map(|records| by_id(records, |r| r.id.clone()));
        each_key(keys, found)
    }
}

/// Users by id (for `createdBy` and `owner`).
pub struct UserBatch {
    state: Services,
    tenant_id: String,
}

impl BatchFn<String, Loaded<Option<UserView>>> for UserBatch {
    async fn load(&mut self, keys: &[String]) -> HashMap<String, Loaded<Option<UserView>>> {
        let found = users_by_id(&self.state.db, &self.tenant_id, keys).await;
        each_key(keys, found.map(|users| by_id(users, |u| u.id.clone())))
    }
}

/// Records' current confidence scores by record id (`confidence` on the pipeline's own type):
/// one statement per batch, read as the records are (on the request's connection when it has
/// one); a record not scored yet has none.
pub struct ScoreBatch(Scoped);

impl BatchFn<String, Loaded<Option<Score>>> for ScoreBatch {
    async fn load(&mut self, keys: &[String]) -> HashMap<String, Loaded<Option<Score>>> {
        let store = self.0.store();
        let found = confidence::batch::latest_of(&store, keys).await;
        each_key(keys, found.map(|scores| by_id(scores, |s| s.record_id.clone())))
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

pub struct ReverseBatch(Scoped);

impl BatchFn<ReverseKey, Loaded<ReversePage>> for ReverseBatch {
    async fn load(&mut self, keys: &[ReverseKey]) -> HashMap<ReverseKey, Loaded<ReversePage>> {
        let store = self.0.store();
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
    pub confidence: Loader<String, Loaded<Option<Score>>, ScoreBatch>,
    pub reverse: Loader<ReverseKey, Loaded<ReversePage>, ReverseBatch>,
    /// The caller's row rules with `within`, by entity id, loaded once (`ctx::ready_row_filter`).
    pub rules: std::sync::Mutex<HashMap<String, Option<entity::runtime::filter::Filter>>>,
}

impl Loaders {
    /// Loaders for `tenant_id`; record reads share `scope` (the request's read connection).
    pub fn new(state: &Services, tenant_id: &str, scope: Option<Arc<ReadScope>>) -> Self {
        let tenant_id = tenant_id.to_owned();
        let scoped = Scoped { state: state.clone(), tenant_id: tenant_id.clone(), scope };
        Loaders {
            records: Loader::new(RecordBatch(scoped.clone())).with_max_batch_size(500),
            users: Loader::new(UserBatch { state: state.clone(), tenant_id: tenant_id.clone() })
                .with_max_batch_size(500),
            attributes: Loader::new(AttributeBatch { state: state.clone(), tenant_id })
                .with_max_batch_size(500),
            confidence: Loader::new(ScoreBatch(scoped.clone())).with_max_batch_size(500),
            reverse: Loader::new(ReverseBatch(scoped)).with_max_batch_size(200),
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
