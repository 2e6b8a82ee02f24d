//! Resolvers, one file per operation: get by id (`find_one`), connections (`find_many`),
//! `create`, `update`, `delete` (soft delete and restore), their bulk forms (`bulk`), relations both ways (`relation`),
//! users on records (`user`) and live changes (`subscription`).

pub mod aggregate;
pub mod bulk;
pub mod create;
pub mod delete;
pub mod find_many;
pub mod find_one;
pub mod relation;
pub mod subscription;
pub mod update;
pub mod user;

use std::sync::Arc;

use async_graphql::dynamic::ResolverContext;
use entity::runtime::audit::Actor;
use entity::runtime::filter::Filter;
use entity::runtime::meta::TenantMeta;
use entity::runtime::policy::Action;
use entity::runtime::record::Record;
use entity::runtime::store::{Caller, Store, WriteRequest};
use serde_json::{Map, Value};

use super::access::EntityAccess;
use super::ctx;
use crate::error::ApiError;

/// The caller's tenant-scoped store (its reads through the request's read connection).
pub fn store<'a>(c: &'a ResolverContext<'_>) -> async_graphql::Result<Store<'a>> {
    Ok(Store::scoped(&ctx::state(c)?.db, &ctx::principal(c)?.tenant_id, ctx::read_scope(c)))
}

/// Where every resolver of an entity starts: the entity at `index` as this request's tenant
/// has it (a compiled schema is shared, so never the one it was built from), and the caller's
/// row rule on it (`None`: every record).
pub fn scoped<'a>(
    c: &ResolverContext<'a>,
    index: usize,
) -> async_graphql::Result<(&'a Arc<EntityAccess>, Option<Filter>)> {
    let a = ctx::entity(c, index)?;
    Ok((a, ctx::row_filter(c, &a.full)?))
}

/// The live record `id` of the entity named `name` (its `nameSingular`) as the caller reads
/// it, with the caller's view of the entity: `NOT_FOUND` when the role may not read the entity
/// or the record is outside its row rule, as for one that does not exist. For operations that
/// name a record by entity and id (`aiComplete`'s context, `customerMemory`).
pub async fn readable<'a>(
    c: &ResolverContext<'a>,
    name: &str,
    id: &str,
) -> Result<(&'a Arc<EntityAccess>, Record), ApiError> {
    let access = ctx::access(c)?;
    let a = access
        .entities
        .iter()
        .find(|a| a.full.name_singular == name)
        .ok_or_else(|| ApiError::NotFound(format!("entity `{name}`")))?;
    let row = ctx::row_filter(c, &a.full)?;
    let record =
        store(c)?.get(&a.full, id, row.as_ref()).await?.ok_or_else(|| ApiError::NotFound(name.to_owned()))?;
    Ok((a, record))
}

/// What a write (`create`, `update`, `delete`/`restore`) needs besides its arguments: the
/// tenant's metadata (writes validate relations against it), the entity, and who writes under
/// which row rule.
pub struct Write<'a> {
    pub meta: &'a TenantMeta,
    pub entity: &'a Arc<EntityAccess>,
    row: Option<Filter>,
    /// The read rule, when the action has a scope of its own (`Permissions::narrows`).
    read: Option<Option<Filter>>,
    actor: Actor,
}

impl<'a> Write<'a> {
    /// The write of `action` on the entity at `index` for this request's caller, within the
    /// read rule and the action's own (`Permissions::write_rule`).
    pub fn of(c: &ResolverContext<'a>, index: usize, action: Action) -> async_graphql::Result<Self> {
        Write::on(c, ctx::entity(c, index)?, action)
    }

    /// The write of `action` on `entity` (the caller's view of one of the tenant's entities),
    /// as `of`: for operations that write an entity they find by its part (`moveDeal`).
    pub fn on(
        c: &ResolverContext<'a>,
        entity: &'a Arc<EntityAccess>,
        action: Action,
    ) -> async_graphql::Result<Self> {
        let meta = &ctx::access(c)?.meta;
        let read = ctx::row_filter(c, &entity.full)?;
        let p = ctx::principal(c)?;
        let (row, read) = if p.permissions.narrows(&entity.full, action) {
            (p.permissions.write_rule(&entity.full, p.subject(), action), Some(read))
        } else {
            (read, None)
        };
        Ok(Write { meta, entity, row, read, actor: ctx::actor(c)? })
    }

    /// A write by id refused as NOT_FOUND: FORBIDDEN instead when the caller can read the
    /// record but its action's own scope leaves it out (ids outside the read rule stay
    /// NOT_FOUND, so they cannot be probed). The extra read happens on that path only.
    pub async fn refused(&self, store: &Store<'_>, id: &str, e: entity::Error) -> async_graphql::Error {
        if let (entity::Error::NotFound(_), Some(read)) = (&e, &self.read)
            && let Ok(Some(_)) = store.get(&self.entity.full, id, read.as_ref()).await
        {
            let no = format!("your role may not change this {}", self.entity.full.label_singular);
            return crate::error::gql(entity::Error::Forbidden(no));
        }
        crate::error::gql(e)
    }

    /// The caller's read rule on the entity (what the caller sees of it, `None`: every
    /// record), which the write's own rule (`caller`) may narrow.
    pub fn read_rule(&self) -> Option<&Filter> {
        match &self.read {
            Some(read) => read.as_ref(),
            None => self.row.as_ref(),
        }
    }

    /// The rule the write must stay within (`Permissions::write_rule`), for a write the store
    /// is handed as part of a larger one (`convertLead`).
    pub fn rule(&self) -> Option<Filter> {
        self.row.clone()
    }

    /// The caller as the store checks it.
    pub fn caller(&self) -> Caller<'_> {
        Caller { actor: &self.actor, row: self.row.as_ref() }
    }

    /// A create or update of `input` (and the `owner` to set) as the store takes it.
    pub fn request<'r>(&'r self, input: &'r Map<String, Value>, owner: Option<&'r str>) -> WriteRequest<'r> {
        WriteRequest { meta: self.meta, entity: &self.entity.full, input, owner, caller: self.caller() }
    }
}
