//! `focusChanged(date)`: the caller's Daily Focus pushed again whenever it changes. It hears
//! the changes of every entity its rules read, under the caller's row rule (a record leaving
//! it counts too); a burst of changes is gathered for `DEBOUNCE` and the list recomputed once,
//! and pushed only when its missions or their records differ from the last one it pushed (or
//! found when it started) — a change to a record no mission counts pushes nothing.
//!
//! Without a `date` it follows today in the caller's time zone (the one it started with): it
//! wakes at their midnight — on the tenant's clock, which a pinned clock (`time::pin`) moves
//! by jumps, so it also looks again whenever one is pinned — and pushes the new day's list if
//! it differs. With a `date` it keeps that day.
//!
//! Its rules are those of the definitions it started with: `setFocusRules` bumps the metadata
//! version, which ends every socket of the tenant with 4205 (`schema changed; reconnect`), as
//! any definition change does; subscribing again evaluates (and listens to the entities of)
//! the new rules.

use std::collections::HashSet;
use std::time::Duration;

use async_graphql::dynamic::{FieldValue, SubscriptionField, SubscriptionFieldFuture, TypeRef};
use entity::runtime::naming::focus::{fields as f, types as t};
use entity::runtime::store::Store;
use entity::runtime::time;
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
            // Watched from before the first list, so a clock pinned meanwhile is not missed.
            let moves = time::pin_moves();
            // The list as it stands when the subscription starts: what a first push must differ from.
            let first = asker.focus(&Store::new(&asker.state.db, &p.tenant_id)).await?;
            ctx::listening(&c);
            let changes = futures_util::stream::select_all(feeds);
            let pushes = futures_util::stream::unfold(
                (changes, first, asker, moves),
                |(mut changes, last, mut asker, mut moves)| async move {
                    loop {
                        let midnight = asker.until_midnight();
                        let day_ends = async move {
                            match midnight {
                                Some(wait) => tokio::time::sleep(wait).await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            // A change, a delivery missed or a lag: each means the list may have moved.
                            change = changes.next() => {
                                change?;
                                tokio::time::sleep(DEBOUNCE).await;
                                while let Some(Some(_)) = changes.next().now_or_never() {}
                                asker.roll();
                            }
                            // The day may have turned (on the clock, or on a clock pinned anew):
                            // recomputed only if it did.
                            () = day_ends => if !asker.roll() { continue },
                            moved = moves.changed() => {
                                moved.ok()?;
                                if !asker.roll() {
                                    continue;
                                }
                            }
                        }
                        let store = Store::new(&asker.state.db, &asker.principal.tenant_id);
                        match asker.focus(&store).await {
                            Ok(now) if same(&now, &last) => continue,
                            Ok(now) => {
                                let next = (changes, now.clone(), asker, moves);
                                return Some((Ok(FieldValue::owned_any(now)), next));
                            }
                            Err(e) => return Some((Err(e.into()), (changes, last, asker, moves))),
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
         at most about three times a second. Without `date` it follows today in your time zone: at \
         your midnight the new day's list is pushed if it differs. A change of the rules \
         (`setFocusRules`) ends the socket with 4205 (`schema changed; reconnect`), like any \
         definition change: subscribe again to get the list from the new rules.",
    )
}
