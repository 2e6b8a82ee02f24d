//! `createDeal(input: CreateDealInput!): Deal!` — validated, numbered, checked against the
//! caller's row rule, and written with its change event and audit entry in one transaction.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};

use entity::runtime::policy::Action;

use super::{Write, store};
use crate::error::gql;
use crate::schema::access::EntityAccess;
use crate::schema::args;

pub fn field(a: &Arc<EntityAccess>) -> Field {
    let n = a.names();
    let i = a.index;
    Field::new(&n.create, TypeRef::named_nn(&n.type_name), move |c| {
        FieldFuture::new(async move {
            let w = Write::of(&c, i, Action::Create)?;
            let (input, owner) = args::record_input(&c)?;
            let record = store(&c)?.create(w.request(&input, owner.as_deref())).await.map_err(gql)?;
            Ok(Some(FieldValue::owned_any(record)))
        })
    })
    .argument(InputValue::new("input", TypeRef::named_nn(&n.create_input)))
    .description(format!("Creates a {}.", a.full.label_singular))
}
