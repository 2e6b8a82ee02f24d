//! `createDeal(input: CreateDealInput!): Deal!` — validated, numbered and written with its
//! change event in one transaction.

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
    Field::new(&n.create, TypeRef::named_nn(&n.type_name), move |c| {
        let (meta, e) = (meta.clone(), entity.clone());
        FieldFuture::new(async move {
            let (input, owner) = args::record_input(&c)?;
            let actor = ctx::principal(&c)?.user_id.clone();
            let record = store(&c)?.create(&meta, &e, &input, owner, Some(&actor)).await.map_err(gql)?;
            ctx::state(&c)?.dispatcher.wake();
            Ok(Some(FieldValue::owned_any(record)))
        })
    })
    .argument(InputValue::new("input", TypeRef::named_nn(&n.create_input)))
    .description(format!("Creates a {}.", e.label_singular))
}
