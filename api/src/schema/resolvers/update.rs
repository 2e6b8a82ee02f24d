//! `updateDeal(id: ID!, input: UpdateDealInput!): Deal!` — only the given fields change; an
//! explicit null clears a field. A record outside the caller's row rule is NOT_FOUND; a change
//! that would move it outside is FORBIDDEN.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use entity::runtime::naming::EntityNames;
use entity::runtime::store::{Caller, WriteRequest};

use super::store;
use crate::error::gql;
use crate::schema::access::EntityAccess;
use crate::schema::{args, ctx};

pub fn field(a: &Arc<EntityAccess>) -> Field {
    let n = EntityNames::new(&a.full.name_singular, &a.full.name_plural);
    let label = a.full.label_singular.clone();
    let i = a.index;
    Field::new(&n.update, TypeRef::named_nn(&n.type_name), move |c| {
        FieldFuture::new(async move {
            let (meta, a) = (&ctx::access(&c)?.meta, ctx::entity(&c, i)?);
            let id = args::record_id(&c)?;
            let (input, owner) = args::record_input(&c)?;
            let row = ctx::row_filter(&c, &a.full)?;
            let actor = ctx::actor(&c)?;
            let caller = Caller { actor: &actor, row: row.as_ref() };
            let w = WriteRequest { meta, entity: &a.full, input: &input, owner: owner.as_deref(), caller };
            let record = store(&c)?.update(&id, w).await.map_err(gql)?;
            Ok(Some(FieldValue::owned_any(record)))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new("input", TypeRef::named_nn(&n.update_input)))
    .description(format!("Updates a {label}."))
}
