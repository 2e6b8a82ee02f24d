//! `dealChanged(filter: DealFilter): DealChange!` — committed changes of this tenant's
//! records of one entity, matched in memory against the filter (same semantics as SQL).

use std::sync::Arc;

use async_graphql::dynamic::{FieldValue, InputValue, SubscriptionField, SubscriptionFieldFuture, TypeRef};
use entity::runtime::meta::EntityDef;
use entity::runtime::naming::EntityNames;
use futures_util::StreamExt;
use jobs::BusEvent;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::schema::values::ChangeValue;
use crate::schema::{args, ctx};

pub fn field(e: &Arc<EntityDef>) -> SubscriptionField {
    let n = EntityNames::new(&e.name_singular, &e.name_plural);
    let entity = e.clone();
    SubscriptionField::new(&n.changed, TypeRef::named_nn(&n.change), move |c| {
        let e = entity.clone();
        SubscriptionFieldFuture::new(async move {
            let tenant_id = ctx::principal(&c)?.tenant_id.clone();
            let filter = args::filter(&c, &e)?;
            let rx = ctx::state(&c)?.bus.subscribe();
            let stream = BroadcastStream::new(rx).filter_map(move |item| {
                let out = match item {
                    Ok(BusEvent::Record(ev)) if ev.tenant_id == tenant_id && ev.entity_id == e.id => {
                        let keep = filter.as_ref().is_none_or(|f| f.matches(&ev.record));
                        keep.then(|| {
                            Ok(FieldValue::owned_any(ChangeValue {
                                kind: ev.kind,
                                record: ev.record.clone(),
                                changed_fields: ev.changed_fields.clone(),
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
    .description(format!("Live changes of {}.", e.label_plural))
}
