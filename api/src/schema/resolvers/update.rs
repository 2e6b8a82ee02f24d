//! `updateDeal(id: ID!, input: UpdateDealInput!): Deal!` — only the given fields change; an
//! explicit null clears a field.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::naming::EntityNames;

use super::store;
use crate::error::gql;
use crate::schema::{args, ctx};

pub fn field(meta: &Arc<TenantMeta>, e: &Arc<EntityDef>) -> Field {
    let n = EntityNames::new(&e.name_singular, &e.name_plural);
    let (meta, entity) = (meta.clone(), e.clone());
    Field::new(&n.update, TypeRef::named_nn(&n.type_name), move |c| {
        let (meta, e) = (meta.clone(), entity.clone());
        FieldFuture::new(async move {
            let id = args::id(&c)?;
            let (input, owner) = args::record_input(&c)?;
            let record = store(&c)?.update(&meta, &e, &id, &input, owner).await.map_err(gql)?;
            ctx::state(&c)?.dispatcher.wake();
            Ok(Some(FieldValue::owned_any(record)))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new("input", TypeRef::named_nn(&n.update_input)))
    .description(format!("Updates a {}.", e.label_singular))
}
