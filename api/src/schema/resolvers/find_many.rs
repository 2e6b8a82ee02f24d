//! `deals(filter, orderBy, first, after, last, before, search): DealConnection!` — one SQL
//! statement per page (the caller's row rule ANDed in), plus a COUNT only when `totalCount`
//! is selected.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use entity::runtime::naming::EntityNames;

use super::store;
use crate::error::gql;
use crate::schema::access::EntityAccess;
use crate::schema::values::{ConnectionValue, PageInfoValue};
use crate::schema::{args, ctx};

pub fn field(a: &Arc<EntityAccess>) -> Field {
    let n = EntityNames::new(&a.full.name_singular, &a.full.name_plural);
    let label = a.full.label_plural.clone();
    let i = a.index;
    Field::new(&n.query_many, TypeRef::named_nn(&n.connection), move |c| {
        FieldFuture::new(async move {
            let a = ctx::entity(&c, i)?;
            let config = &ctx::state(&c)?.config;
            let row = ctx::row_filter(&c, &a.full)?;
            let list = args::list_args(&c, &a.view, config.max_page_size)?.restrict(row.as_ref());
            let page = store(&c)?.list(&a.view, &list, config.default_page_size).await.map_err(gql)?;
            let cursors = page.cursors();
            let page_info = PageInfoValue {
                has_next: page.has_next,
                has_previous: page.has_previous,
                start: cursors.first().cloned(),
                end: cursors.last().cloned(),
            };
            Ok(Some(FieldValue::owned_any(ConnectionValue::new(
                page.records,
                cursors,
                page_info,
                page.total,
            ))))
        })
    })
    .argument(InputValue::new("filter", TypeRef::named(&n.filter)))
    .argument(InputValue::new("orderBy", TypeRef::named_nn_list(&n.order_by)))
    .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
    .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
    .argument(InputValue::new("last", TypeRef::named(TypeRef::INT)))
    .argument(InputValue::new("before", TypeRef::named(TypeRef::STRING)))
    .argument(InputValue::new("search", TypeRef::named(TypeRef::STRING)))
    .description(format!("{label} as a Relay connection."))
}
