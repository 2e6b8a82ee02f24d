//! `deleteDeal(id)` (soft: the record leaves every list and lookup) and `restoreDeal(id)`.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use entity::runtime::meta::{EntityDef, TenantMeta};
use entity::runtime::naming::EntityNames;

use super::store;
use crate::error::gql;
use crate::schema::{args, ctx};

/// `delete…` when `deleted`, else `restore…`.
pub fn field(meta: &Arc<TenantMeta>, e: &Arc<EntityDef>, deleted: bool) -> Field {
    let n = EntityNames::new(&e.name_singular, &e.name_plural);
    let (meta, entity) = (meta.clone(), e.clone());
    let name = if deleted { &n.delete } else { &n.restore };
    Field::new(name, TypeRef::named_nn(&n.type_name), move |c| {
        let (meta, e) = (meta.clone(), entity.clone());
        FieldFuture::new(async move {
            let id = args::id(&c)?;
            let record = store(&c)?.set_deleted(&meta, &e, &id, deleted).await.map_err(gql)?;
            ctx::state(&c)?.dispatcher.wake();
            Ok(Some(FieldValue::owned_any(record)))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .description(if deleted {
        format!("Soft-deletes a {} (restorable).", e.label_singular)
    } else {
        format!("Restores a deleted {}.", e.label_singular)
    })
}
