//! What a resolver needs from the request: shared state, the caller, and the per-request
//! loaders. Each is put into the request (or socket) data by the transport layer.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use async_graphql::Context;
use entity::ReadScope;
use entity::runtime::audit::Actor;
use entity::runtime::filter::Filter;
use entity::runtime::meta::EntityDef;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::access::{EntityAccess, SchemaAccess};
use super::loader::Loaders;
use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::live::Delivery;
use crate::rate::Action;
use crate::services::Services;

/// What the transport puts into every request's data beside the caller: the request's id
/// (for logs and the audit trail) and the client's address (for rate limits).
/// The id of one request, logged with every line and returned as `x-request-id`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The address a request comes from (rate limits count per address): the connection's peer,
/// or with `TRUST_FORWARDED_FOR` the last `X-Forwarded-For` entry, the one the proxy in front
/// appended (earlier entries are whatever the client sent). In request and socket data.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Close code: a subscription fell too far behind and missed changes; reconnect, and query to
/// catch up. Not 4429: graphql-ws reserves that for "too many initialisation requests", and
/// its client gives up on it instead of reconnecting.
pub const CLOSE_TOO_SLOW: u16 = 4290;

/// Closes the socket a subscription runs on (in the socket's data).
#[derive(Clone)]
pub struct SocketCloser(pub tokio::sync::mpsc::Sender<(u16, String)>);

impl SocketCloser {
    /// Asks the socket to close with `code` (the first ask wins).
    pub fn close(&self, code: u16, reason: &str) {
        let _ = self.0.try_send((code, reason.to_owned()));
    }

    /// Closes the socket of a subscriber that missed `missed` events (`CLOSE_TOO_SLOW`): it
    /// learns that its stream has a gap and catches up by a query, instead of reading on as if
    /// nothing were lost.
    pub fn too_slow(&self, missed: u64) {
        tracing::warn!(missed, "a subscriber fell behind; closing its socket");
        self.close(CLOSE_TOO_SLOW, &format!("{missed} events missed; reconnect and catch up"));
    }
}

/// What `rx` delivers, until its first gap: a subscriber that missed events (its own lag, or
/// the fan-out's behind the bus) ends there, and its socket (`closer`, in socket data) closes
/// with `CLOSE_TOO_SLOW` — record changes and module news alike, never a silent gap.
pub fn until_gap<T: Clone + Send + 'static>(
    rx: tokio::sync::broadcast::Receiver<Delivery<T>>,
    closer: Option<SocketCloser>,
) -> impl futures_util::Stream<Item = T> + Send + 'static {
    tokio_stream::StreamExt::map_while(BroadcastStream::new(rx), move |item| match item {
        Ok(Delivery::Change(event)) => Some(event),
        Ok(Delivery::Missed(missed)) | Err(BroadcastStreamRecvError::Lagged(missed)) => {
            if let Some(closer) = &closer {
                closer.too_slow(missed);
            }
            None
        }
    })
}

/// One socket operation's place among those the socket waits on before it answers a `ping`
/// (`http::ws_protocol::Settling`): a subscription resolver settles it once it listens.
pub trait Settles: Send + Sync {
    fn settle(&self);
}

pub fn state<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Services> {
    ctx.data::<Services>()
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
    Ok(own_schema(ctx)?.access())
}

/// The caller's tenant's entity at `index` of its `SchemaAccess`.
pub fn entity<'a>(ctx: &Context<'a>, index: usize) -> async_graphql::Result<&'a Arc<EntityAccess>> {
    access(ctx)?.entities.get(index).ok_or_else(|| {
        ApiError::Internal(format!("no entity at {index} in the tenant's schema")).to_graphql()
    })
}

/// The schema the caller's operation runs on, as far as a resolver may look at it. The
/// transport puts it into the request data; the registry that holds it stands above the
/// resolvers, so they see it through this trait.
pub trait OwnSchema: Send + Sync {
    /// The tenant's definitions as the caller's role sees them (`access`).
    fn access(&self) -> &Arc<SchemaAccess>;
    /// Its SDL as the product publishes it (`tenantSchemaSdl`).
    fn sdl(&self) -> String;
}

pub fn own_schema<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<dyn OwnSchema>> {
    ctx.data::<Arc<dyn OwnSchema>>()
}

pub fn loaders<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
}

/// The request's shared read connection, if it has one.
pub fn read_scope<'a>(ctx: &Context<'a>) -> Option<&'a ReadScope> {
    ctx.data_opt::<std::sync::Arc<ReadScope>>().map(|s| &**s)
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
    Ok(p.permissions.row_filter(e, p.subject()))
}

/// The caller's row rule for `e`, ready to be evaluated in memory (`Filter::matches`): a rule
/// with `within` has its roots' descendants loaded, once per request (or socket) and entity;
/// any other costs nothing more than `row_filter`.
pub async fn ready_row_filter(ctx: &Context<'_>, e: &EntityDef) -> async_graphql::Result<Option<Filter>> {
    let row = row_filter(ctx, e)?;
    if !entity::runtime::hierarchy::needs_loading(row.as_ref()) {
        return Ok(row);
    }
    let cache = ctx.data_opt::<Loaders>().map(|l| &l.rules);
    if let Some(hit) = cache.and_then(|c| c.lock().ok().and_then(|m| m.get(&e.id).cloned())) {
        return Ok(hit);
    }
    let (state, p) = (state(ctx)?, principal(ctx)?);
    let store = entity::runtime::store::Store::scoped(&state.db, &p.tenant_id, read_scope(ctx));
    store.prepare_rule(row.as_ref()).await.map_err(|e| ApiError::from(e).to_graphql())?;
    if let Some(Ok(mut m)) = cache.map(|c| c.lock()) {
        m.insert(e.id.clone(), row.clone());
    }
    Ok(row)
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
    Ok(principal(ctx)?.actor(ctx.data_opt::<RequestId>().map(|r| r.0.clone())))
}

/// A subscription resolver is listening for its events now: over a socket, the `ping` its
/// client sent after subscribing may be answered (`http::ws_protocol::Settling`).
pub fn listening(ctx: &Context<'_>) {
    if let Some(settle) = ctx.data_opt::<Arc<dyn Settles>>() {
        settle.settle();
    }
}
