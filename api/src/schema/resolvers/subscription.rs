//! `dealChanged(filter: DealFilter): DealChange!` — committed changes of this tenant's
//! records of one entity, matched in memory against the filter and the subscriber's row rule
//! (the same semantics as SQL). `changedFields` lists only fields the subscriber can see.

use std::sync::Arc;

use async_graphql::dynamic::{FieldValue, InputValue, SubscriptionField, SubscriptionFieldFuture, TypeRef};
use entity::runtime::naming::EntityNames;
use futures_util::StreamExt;
use jobs::BusEvent;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::schema::access::EntityAccess;
use crate::schema::values::ChangeValue;
use crate::schema::{args, ctx};

pub fn field(a: &Arc<EntityAccess>) -> SubscriptionField {
    let n = EntityNames::new(&a.full.name_singular, &a.full.name_plural);
    let label = a.full.label_plural.clone();
    let i = a.index;
    SubscriptionField::new(&n.changed, TypeRef::named_nn(&n.change), move |c| {
        SubscriptionFieldFuture::new(async move {
            let a = ctx::entity(&c, i)?.clone();
            let tenant_id = ctx::principal(&c)?.tenant_id.clone();
            let filter = args::filter(&c, &a.view)?;
            let row = ctx::row_filter(&c, &a.full)?;
            let rx = ctx::state(&c)?.bus.subscribe();
            let stream = BroadcastStream::new(rx).filter_map(move |item| {
                let out = match item {
                    Ok(BusEvent::Record(ev)) if ev.tenant_id == tenant_id && ev.entity_id == a.full.id => {
                        let keep = [&filter, &row].into_iter().flatten().all(|f| f.matches(&ev.record));
                        keep.then(|| {
                            let visible =
                                |name: &String| name == "owner" || a.view.field_by_graphql(name).is_some();
                            Ok(FieldValue::owned_any(ChangeValue {
                                kind: ev.kind,
                                record: ev.record.clone(),
                                changed_fields: ev
                                    .changed_fields
                                    .iter()
                                    .filter(|f| visible(f))
                                    .cloned()
                                    .collect(),
                            }))
                        })
                    }
                    Err(BroadcastStreamRecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "subscriber lagged behind the event bus");
                        None
                    }
                    _ => None,
                };
                std::future::ready(out)
            });
            Ok(stream)
        })
    })
    .argument(InputValue::new("filter", TypeRef::named(&n.filter)))
    .description(format!("Live changes of {label}."))
}
