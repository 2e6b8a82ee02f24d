//! `deals(filter, orderBy, first, after, last, before, search): DealConnection!` — one SQL
//! statement per page (the caller's row rule ANDed in), plus a COUNT only when `totalCount`
//! is selected.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};

use super::{scoped, store};
use crate::error::gql;
use crate::schema::access::EntityAccess;
use crate::schema::values::ConnectionValue;
use crate::schema::{args, ctx};

pub fn field(a: &Arc<EntityAccess>) -> Field {
    let n = a.names();
    let i = a.index;
    Field::new(&n.query_many, TypeRef::named_nn(&n.connection), move |c| {
        FieldFuture::new(async move {
            let (a, row) = scoped(&c, i)?;
            let config = &ctx::state(&c)?.config;
            let list = args::list_args(&c, &a.view, config.max_page_size)?.restrict(row.as_ref());
            let page = store(&c)?.list(&a.view, &list, config.default_page_size).await.map_err(gql)?;
            let cursors = page.cursors();
            Ok(Some(FieldValue::owned_any(ConnectionValue::new(
                page.records,
                cursors,
                page.has_next,
                page.has_previous,
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
    .description(format!("{} as a Relay connection.", a.full.label_plural))
}
