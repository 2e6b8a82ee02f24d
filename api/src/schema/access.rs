//! A role's view of the tenant's metadata: which entities it may read, which fields it sees
//! and which it may write, and which operations it may run. The schema builder generates
//! types from these views (so a `none` field or an unreadable entity is simply absent), and
//! the resolvers parse arguments against them.

use std::collections::HashMap;
use std::sync::Arc;

use entity::runtime::meta::{EntityDef, FieldDef, ReverseRelation, TenantMeta};
use entity::runtime::naming::EntityNames;
use entity::runtime::policy::{Action, FieldAccess, Permissions};

/// One readable entity as a role sees it.
#[derive(Debug)]
pub struct EntityAccess {
    /// The whole definition (writes validate against it; row rules parse against it).
    pub full: Arc<EntityDef>,
    /// Only the fields the role may read (and relations whose target it may read).
    pub view: Arc<EntityDef>,
    /// The fields the role may write.
    pub writable: Arc<EntityDef>,
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    /// Its position in `SchemaAccess::entities`. A compiled schema is shared by every tenant
    /// whose definitions and role read the same (see `registry`), so its resolvers keep this
    /// position, never the entity: each request finds its own tenant's entity there.
    pub index: usize,
}

impl EntityAccess {
    /// Its GraphQL names, from the full definition (a role's view never renames a type).
    pub fn names(&self) -> EntityNames {
        EntityNames::new(&self.full.name_singular, &self.full.name_plural)
    }
}

/// A role's view of all entities.
pub struct SchemaAccess {
    pub meta: Arc<TenantMeta>,
    pub permissions: Arc<Permissions>,
    pub entities: Vec<Arc<EntityAccess>>,
    by_id: HashMap<String, usize>,
}

/// `e` with only the fields `keep` keeps: `e` itself when that is all of them.
fn narrowed(e: &Arc<EntityDef>, keep: impl Fn(&FieldDef) -> bool) -> Arc<EntityDef> {
    if e.fields.iter().all(&keep) {
        return e.clone();
    }
    let mut narrow = (**e).clone();
    narrow.fields.retain(keep);
    Arc::new(narrow)
}

impl SchemaAccess {
    pub fn new(meta: Arc<TenantMeta>, permissions: Arc<Permissions>) -> Self {
        let readable = |e: &EntityDef| permissions.can(e, Action::Read);
        let mut entities = Vec::new();
        for e in meta.entities.iter().filter(|e| readable(e)) {
            let visible = |f: &FieldDef| permissions.reads_field(&meta, e, f);
            // A view that keeps every field is the definition itself, shared, not a copy:
            // the owner's and most roles' views cost nothing per tenant.
            let view = narrowed(e, visible);
            // A computed field (ROLLUP, FORMULA) is read-only for everyone.
            let writable =
                narrowed(&view, |f| !f.is_computed() && permissions.field(e, f) == FieldAccess::Write);
            entities.push(Arc::new(EntityAccess {
                full: e.clone(),
                view,
                writable,
                create: permissions.can(e, Action::Create),
                update: permissions.can(e, Action::Update),
                delete: permissions.can(e, Action::Delete),
                index: entities.len(),
            }));
        }
        let by_id = entities.iter().enumerate().map(|(i, a)| (a.full.id.clone(), i)).collect();
        SchemaAccess { meta, permissions, entities, by_id }
    }

    pub fn entity(&self, id: &str) -> Option<&Arc<EntityAccess>> {
        self.by_id.get(id).map(|&i| &self.entities[i])
    }

    /// The reverse relations shown on `target`: named from the full metadata (so names do not
    /// shift with a role's view), kept only when the role sees the source and its field.
    pub fn reverse_relations(&self, target_id: &str) -> Vec<(ReverseRelation, Arc<EntityAccess>)> {
        self.meta
            .reverse_relations(target_id)
            .into_iter()
            .filter_map(|r| {
                let source = self.entity(&r.source.id)?.clone();
                source.view.field_by_key(r.field.key.as_str())?;
                Some((r, source))
            })
            .collect()
    }
}
