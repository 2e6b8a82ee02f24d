//! What a resolver needs from the request: shared state, the caller, and the per-request
//! loaders. Each is put into the request (or socket) data by the transport layer.

use async_graphql::Context;

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

/// Refuses callers who may not change definitions.
pub fn require_definer(ctx: &Context<'_>) -> async_graphql::Result<()> {
    if principal(ctx)?.can_define() {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only owners and admins may change entity definitions".into()).to_graphql())
    }
}
