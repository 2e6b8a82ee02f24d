//! `deal(id: ID!): Deal` — a live record of this tenant within the caller's row rule, or null.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};

use super::{scoped, store};
use crate::error::gql;
use crate::schema::access::EntityAccess;
use crate::schema::args;

pub fn field(a: &Arc<EntityAccess>) -> Field {
    let n = a.names();
    let i = a.index;
    Field::new(&n.query_one, TypeRef::named(&n.type_name), move |c| {
        FieldFuture::new(async move {
            let (a, row) = scoped(&c, i)?;
            let id = args::record_id(&c)?;
            let record = store(&c)?.get(&a.full, &id, row.as_ref()).await.map_err(gql)?;
            Ok(record.map(FieldValue::owned_any))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .description(format!("One {} by id (null when it does not exist).", n.type_name))
}
