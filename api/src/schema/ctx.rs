//! What a resolver needs from the request: shared state, the caller, and the per-request
//! loaders. Each is put into the request (or socket) data by the transport layer.

use async_graphql::Context;
use entity::runtime::audit::Actor;
use entity::runtime::filter::Filter;
use entity::runtime::meta::EntityDef;

use super::loader::Loaders;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::AppState;

pub fn state<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a AppState> {
    ctx.data::<AppState>()
}

/// The caller; absent only in the public schema.
pub fn principal<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data_opt::<Principal>()
        .ok_or_else(|| ApiError::Unauthenticated("authentication required".into()).to_graphql())
}

pub fn loaders<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// Refuses callers who may not administer the tenant (definitions, users, roles, keys,
/// audit log). Their schema lacks these operations; this guards the resolvers as well.
pub fn require_admin(ctx: &Context<'_>) -> async_graphql::Result<()> {
    if principal(ctx)?.permissions.admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("this operation needs an administrator role".into()).to_graphql())
    }
}

/// The caller's row rule for `e` (scope and `where`), `None` when it sees every record.
pub fn row_filter(ctx: &Context<'_>, e: &EntityDef) -> async_graphql::Result<Option<Filter>> {
    let p = principal(ctx)?;
    Ok(p.permissions.row_filter(e, Some(&p.user_id)))
}

/// Who the audit trail names for this request.
pub fn actor(ctx: &Context<'_>) -> async_graphql::Result<Actor> {
    let p = principal(ctx)?;
    Ok(Actor {
        user_id: Some(p.user_id.clone()),
        api_key_id: p.api_key_id.clone(),
        request_id: ctx.data_opt::<crate::http::request::RequestId>().map(|r| r.0.clone()),
        ..Actor::default()
    })
}
