//! `updateDeal(id: ID!, input: UpdateDealInput!): Deal!` — only the given fields change; an
//! explicit null clears a field. A record outside the caller's row rule is NOT_FOUND; one they
//! read but their update scope leaves out, or a change that would move it outside, FORBIDDEN.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};

use entity::runtime::policy::Action;

use super::{Write, store};
use crate::schema::access::EntityAccess;
use crate::schema::args;

pub fn field(a: &Arc<EntityAccess>) -> Field {
    let n = a.names();
    let i = a.index;
    Field::new(&n.update, TypeRef::named_nn(&n.type_name), move |c| {
        FieldFuture::new(async move {
            let w = Write::of(&c, i, Action::Update)?;
            let id = args::record_id(&c)?;
            let (input, owner) = args::record_input(&c)?;
            let store = store(&c)?;
            let record = match store.update(&id, w.request(&input, owner.as_deref())).await {
                Ok(r) => r,
                Err(e) => return Err(w.refused(&store, &id, e).await),
            };
            Ok(Some(FieldValue::owned_any(record)))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new("input", TypeRef::named_nn(&n.update_input)))
    .description(format!("Updates a {}.", a.full.label_singular))
}
