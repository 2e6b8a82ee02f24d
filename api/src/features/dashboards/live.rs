//! `dashboardChanged(id)`: the dashboard pushed again when records under its widgets change,
//! its widget data recomputed for the subscriber by the same resolvers as `dashboard(id)`
//! (their role's permissions and row rules). A subscriber hears of the changes of each widget
//! entity it may read, under its row rule (a record leaving it counts: the figures move); a
//! burst of changes is pushed once, `DEBOUNCE` after its first, so a busy entity costs each
//! subscriber at most one recomputation per `DEBOUNCE`.

use std::collections::HashSet;
use std::future::ready;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dynamic::{FieldValue, InputValue, SubscriptionField, SubscriptionFieldFuture, TypeRef};
use entity::runtime::naming::{fields as f, types as t};
use futures_util::{FutureExt, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::{BoardView, visible_board};
use crate::error::ApiError;
use crate::schema::{args, ctx, i18n};

/// How long a burst of changes is gathered before the dashboard is pushed once.
const DEBOUNCE: Duration = Duration::from_millis(500);

pub fn subscription() -> SubscriptionField {
    SubscriptionField::new(f::DASHBOARD_CHANGED, TypeRef::named_nn(t::DASHBOARD), |c| {
        SubscriptionFieldFuture::new(async move {
            let (state, p) = (ctx::state(&c)?.clone(), ctx::principal(&c)?.clone());
            let id = args::string(&c, "id")?;
            let board = visible_board(&state, &p, &id)
                .await?
                .ok_or_else(|| ApiError::NotFound("dashboard".into()))?;
            let access = ctx::access(&c)?;
            let mut entities = HashSet::new();
            let mut feeds = Vec::new();
            for w in &board.spec.widgets {
                let readable =
                    access.meta.entity_by_name(w.widget.entity()).and_then(|e| access.entity(&e.id));
                let Some(a) = readable.filter(|a| entities.insert(a.full.id.clone())) else { continue };
                let row = ctx::row_filter(&c, &a.full)?;
                feeds.push(BroadcastStream::new(state.live.changes(&p.tenant_id, a, None, row)));
            }
            // The socket's language, fixed for its life like the rest of its request data.
            let langs = i18n::languages(&c).await?;
            ctx::listening(&c);
            let changes = futures_util::stream::select_all(feeds);
            let pushes = futures_util::stream::unfold(changes, |mut changes| async move {
                // A change, a delivery missed or a lag: each means the figures may have moved.
                let _change = changes.next().await?;
                tokio::time::sleep(DEBOUNCE).await;
                // What came meanwhile is in this push.
                while let Some(Some(_)) = changes.next().now_or_never() {}
                Some(((), changes))
            });
            let stream = pushes
                .then(move |()| {
                    let (state, p, id) = (state.clone(), p.clone(), id.clone());
                    async move { visible_board(&state, &p, &id).await }
                })
                .filter_map(move |shown| {
                    ready(
                        shown
                            .map(|b| {
                                b.map(|b| {
                                    FieldValue::owned_any(BoardView {
                                        board: Arc::new(b),
                                        langs: langs.clone(),
                                    })
                                })
                            })
                            .map_err(async_graphql::Error::from)
                            .transpose(),
                    )
                });
            Ok(stream)
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .description(
        "A dashboard you may see, pushed with its widget data recomputed for you when records under its \
         widgets change (at most twice a second).",
    )
}
