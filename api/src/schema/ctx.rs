//! What a resolver needs from the request: shared state, the caller, and the per-request
//! loaders. Each is put into the request (or socket) data by the transport layer.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dynamic::ResolverContext;
use entity::ReadScope;
use entity::runtime::audit::Actor;
use entity::runtime::filter::Filter;
use entity::runtime::meta::EntityDef;

use super::access::{EntityAccess, SchemaAccess};
use super::loader::Loaders;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::request::ClientIp;
use crate::rate::Action;
use crate::state::AppState;

pub fn state<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a AppState> {
    ctx.data::<AppState>()
}

/// Charges one attempt of a public sign-in `action` on each of `accounts` (`rate::account`)
/// from the client's address: refused with `RATE_LIMITED` once that budget is spent.
pub async fn attempt(ctx: &Context<'_>, action: Action, accounts: &[&str]) -> async_graphql::Result<()> {
    let ip = ctx.data_opt::<ClientIp>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0);
    state(ctx)?.limiter.attempt(action, ip, accounts).await.map_err(|e| e.to_graphql())
}

/// The caller; absent only in the public schema.
pub fn principal<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data_opt::<Principal>()
        .ok_or_else(|| ApiError::Unauthenticated("authentication required".into()).to_graphql())
}

/// The caller's tenant's definitions as the caller's role sees them. A compiled schema serves
/// every tenant with the same definitions and role, so what is the tenant's own (entity ids,
/// index slots, the metadata) is read from here, per request, never from the schema.
pub fn access<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<SchemaAccess>> {
    ctx.data::<Arc<SchemaAccess>>()
}

/// The caller's tenant's entity at `index` of its `SchemaAccess`.
pub fn entity<'a>(ctx: &Context<'a>, index: usize) -> async_graphql::Result<&'a Arc<EntityAccess>> {
    access(ctx)?.entities.get(index).ok_or_else(|| {
        ApiError::Internal(format!("no entity at {index} in the tenant's schema")).to_graphql()
    })
}

pub fn loaders<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// The request's shared read connection, if it has one.
pub fn read_scope<'a>(ctx: &Context<'a>) -> Option<&'a ReadScope> {
    ctx.data_opt::<std::sync::Arc<ReadScope>>().map(|s| &**s)
}

/// The language a `lang` argument asks for (English when absent).
pub fn lang(ctx: &ResolverContext<'_>) -> Result<String, ApiError> {
    Ok(super::args::opt_string(ctx, "lang")?.unwrap_or_else(|| "en".into()))
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

/// The caller's tenant's IANA time zone (UTC when unset or unknown).
pub async fn tenant_zone(ctx: &Context<'_>) -> async_graphql::Result<chrono_tz::Tz> {
    use sea_orm::EntityTrait;
    let (state, p) = (state(ctx)?, principal(ctx)?);
    let tenant = entity::models::tenant::Entity::find_by_id(p.tenant_id.clone())
        .one(&state.db.conn)
        .await
        .map_err(|e| ApiError::from(entity::Error::from(e)))?;
    Ok(tenant.and_then(|t| t.time_zone.parse().ok()).unwrap_or(chrono_tz::UTC))
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

/// A subscription resolver is listening for its events now: over a socket, the `ping` its
/// client sent after subscribing may be answered (`http::ws_protocol::Settling`).
pub fn listening(ctx: &Context<'_>) {
    if let Some(settle) = ctx.data_opt::<Arc<crate::http::ws_protocol::Settle>>() {
        settle.settle();
    }
}
