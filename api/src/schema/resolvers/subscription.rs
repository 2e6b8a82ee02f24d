//! `dealChanged(filter: DealFilter): DealChange!` — committed changes of this tenant's
//! records of one entity, matched in memory against the filter and the subscriber's row rule
//! (the same semantics as SQL), before and after an update: a record moving out of them is
//! `LEFT`, one moving in `ENTERED` (`live`). `changedFields` lists only fields the subscriber
//! can see.
//! Subscriptions alike are served as one group (`live`).

use std::sync::Arc;

use async_graphql::dynamic::{FieldValue, InputValue, SubscriptionField, SubscriptionFieldFuture, TypeRef};

use super::scoped;
use crate::schema::access::EntityAccess;
use crate::schema::ctx::SocketCloser;
use crate::schema::{args, ctx};

pub fn field(a: &Arc<EntityAccess>) -> SubscriptionField {
    let n = a.names();
    let i = a.index;
    SubscriptionField::new(&n.changed, TypeRef::named_nn(&n.change), move |c| {
        SubscriptionFieldFuture::new(async move {
            let (a, _) = scoped(&c, i)?;
            // A `within` rule's closure as it is now: the subscription keeps it.
            let row = ctx::ready_row_filter(&c, &a.full).await?;
            let tenant_id = &ctx::principal(&c)?.tenant_id;
            let filter = args::filter(&c, &a.view)?;
            let rx = ctx::state(&c)?.live.changes(tenant_id, a, filter, row);
            ctx::listening(&c);
            let closer = c.data_opt::<SocketCloser>().cloned();
            let stream = tokio_stream::StreamExt::map(ctx::until_gap(rx, closer), |change| {
                Ok(FieldValue::owned_any(change))
            });
            Ok(stream)
        })
    })
    .argument(InputValue::new("filter", TypeRef::named(&n.filter)))
    .description(format!("Live changes of {}.", a.full.label_plural))
}
