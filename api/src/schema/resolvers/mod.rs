//! Resolvers, one file per operation: get by id (`find_one`), connections (`find_many`),
//! `create`, `update`, `delete` (soft delete and restore), relations both ways (`relation`),
//! users on records (`user`) and live changes (`subscription`).

pub mod aggregate;
pub mod create;
pub mod delete;
pub mod find_many;
pub mod find_one;
pub mod relation;
pub mod subscription;
pub mod update;
pub mod user;

use async_graphql::dynamic::ResolverContext;
use entity::runtime::store::Store;

use super::ctx;

/// The caller's tenant-scoped store (its reads through the request's read connection).
pub fn store<'a>(c: &'a ResolverContext<'_>) -> async_graphql::Result<Store<'a>> {
    Ok(Store::scoped(&ctx::state(c)?.db, &ctx::principal(c)?.tenant_id, ctx::read_scope(c)))
}
