//! Subscriptions to a module's news (workflow runs, approval requests, audit entries, emails,
//! webhook deliveries, dead jobs): the events of the subscriber's tenant only (`Live::news`:
//! another tenant's never reach the stream), picked by kind, then each shown as the subscriber
//! may see it — or dropped — in the order they committed. A subscriber that falls behind its
//! tenant's news ends, and its socket closes with `CLOSE_TOO_SLOW`, as a record subscriber's
//! does: a gap is never silent.

use std::future::{Future, ready};

use async_graphql::Context;
use async_graphql::dynamic::FieldValue;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use jobs::BusEvent;

use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::schema::ctx::{self, SocketCloser};
use crate::services::Services;

/// The news of the caller's tenant that `pick` takes, each turned by `show` into what the
/// caller receives (`None`: nothing, e.g. a record the caller may not read).
pub fn stream<'a, T, Fut>(
    c: &Context<'a>,
    pick: impl Fn(&BusEvent) -> Option<T> + Send + 'static,
    show: impl Fn(Services, Principal, T) -> Fut + Send + 'static,
) -> async_graphql::Result<BoxStream<'a, async_graphql::Result<FieldValue<'a>>>>
where
    T: Send + 'static,
    Fut: Future<Output = Result<Option<FieldValue<'static>>, ApiError>> + Send + 'static,
{
    let state = ctx::state(c)?.clone();
    let p = ctx::principal(c)?.clone();
    let rx = state.live.news(&p.tenant_id);
    ctx::listening(c);
    let closer = c.data_opt::<SocketCloser>().cloned();
    let news = ctx::until_gap(rx, closer);
    Ok(news
        .filter_map(move |event| ready(pick(&event)))
        .then(move |t| show(state.clone(), p.clone(), t))
        .filter_map(|shown| ready(shown.map_err(async_graphql::Error::from).transpose()))
        .map(|shown| shown.map(|v: FieldValue<'static>| -> FieldValue<'a> { v }))
        .boxed())
}
