//! `focusChanged(date)`: the caller's Daily Focus pushed again whenever it changes. It hears
//! the changes of every entity its rules read, under the caller's row rule (a record leaving
//! it counts too); a burst of changes is gathered for `DEBOUNCE` and the list recomputed once,
//! and pushed only when its missions or their records differ from the last one it pushed (or
//! found when it started) — a change to a record no mission counts pushes nothing.

use std::collections::HashSet;
use std::time::Duration;

use async_graphql::dynamic::{FieldValue, SubscriptionField, SubscriptionFieldFuture, TypeRef};
use entity::runtime::naming::focus::{fields as f, types as t};
use entity::runtime::store::Store;
use futures_util::{FutureExt, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::daily::{Asker, Focus, date_argument};
use crate::schema::ctx;

/// How long a burst of changes is gathered before the list is recomputed once.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// Whether two lists show the same: the same missions with the same records (a filter holding
/// `$now` differs from one computation to the next without the list changing).
fn same(a: &Focus, b: &Focus) -> bool {
    a.items.len() == b.items.len()
        && a.items.iter().zip(&b.items).all(|(x, y)| {
            (&x.rule_id, &x.title, &x.badge, x.count, &x.records)
                == (&y.rule_id, &y.title, &y.badge, y.count, &y.records)
        })
}

pub(super) fn subscription() -> SubscriptionField {
    SubscriptionField::new(f::FOCUS_CHANGED, TypeRef::named_nn(t::DAILY_FOCUS), |c| {
        SubscriptionFieldFuture::new(async move {
            let asker = Asker::of(&c)?;
            let p = &asker.principal;
            let mut entities = HashSet::new();
            // Never ends of itself: a caller whose rules read nothing yet keeps a quiet subscription.
            let mut feeds = vec![futures_util::stream::pending::<()>().boxed()];
            for s in asker.scoped() {
                let Some(a) = asker.access.entities.iter().find(|a| a.full.name_singular == s.rule.entity)
                else {
                    continue;
                };
                if entities.insert(a.full.id.clone()) {
                    let row = ctx::ready_row_filter(&c, &a.full).await?;
                    let rx = asker.state.live.changes(&p.tenant_id, a, None, row);
                    feeds.push(BroadcastStream::new(rx).map(|_| ()).boxed());
                }
            }
            // The list as it stands when the subscription starts: what a first push must differ from.
            let first = asker.focus(&Store::new(&asker.state.db, &p.tenant_id)).await?;
            ctx::listening(&c);
            let changes = futures_util::stream::select_all(feeds);
            let pushes = futures_util::stream::unfold(
                (changes, first, asker),
                |(mut changes, last, asker)| async move {
                    loop {
                        // A change, a delivery missed or a lag: each means the list may have moved.
                        changes.next().await?;
                        tokio::time::sleep(DEBOUNCE).await;
                        while let Some(Some(_)) = changes.next().now_or_never() {}
                        let store = Store::new(&asker.state.db, &asker.principal.tenant_id);
                        match asker.focus(&store).await {
                            Ok(now) if same(&now, &last) => continue,
                            Ok(now) => {
                                return Some((Ok(FieldValue::owned_any(now.clone())), (changes, now, asker)));
                            }
                            Err(e) => return Some((Err(e.into()), (changes, last, asker))),
                        }
                    }
                },
            );
            Ok(pushes)
        })
    })
    .argument(date_argument())
    .description(
        "Your Daily Focus, pushed again whenever it changes (a record entering or leaving a mission), \
         at most about three times a second.",
    )
}
