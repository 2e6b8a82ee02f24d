//! `deal(id: ID!): Deal` — a live record of this tenant, or null.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use entity::runtime::meta::EntityDef;
use entity::runtime::naming::EntityNames;

use super::store;
use crate::error::gql;
use crate::schema::args;

pub fn field(e: &Arc<EntityDef>) -> Field {
    let n = EntityNames::new(&e.name_singular, &e.name_plural);
    let e = e.clone();
    Field::new(&n.query_one, TypeRef::named(&n.type_name), move |c| {
        let e = e.clone();
        FieldFuture::new(async move {
            let id = args::id(&c)?;
            let record = store(&c)?.get(&e, &id).await.map_err(gql)?;
            Ok(record.map(FieldValue::owned_any))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .description(format!("One {} by id (null when it does not exist).", n.type_name))
}
