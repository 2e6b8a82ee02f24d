//! `deleteDeal(id)` (soft: the record leaves every list and lookup) and `restoreDeal(id)`,
//! within the caller's row rule.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use entity::runtime::naming::EntityNames;
use entity::runtime::store::Caller;

use super::store;
use crate::error::gql;
use crate::schema::access::EntityAccess;
use crate::schema::{args, ctx};

/// `delete…` when `deleted`, else `restore…`.
pub fn field(a: &Arc<EntityAccess>, deleted: bool) -> Field {
    let n = EntityNames::new(&a.full.name_singular, &a.full.name_plural);
    let description = if deleted {
        format!("Soft-deletes a {} (restorable).", a.full.label_singular)
    } else {
        format!("Restores a deleted {}.", a.full.label_singular)
    };
    let i = a.index;
    let name = if deleted { &n.delete } else { &n.restore };
    Field::new(name, TypeRef::named_nn(&n.type_name), move |c| {
        FieldFuture::new(async move {
            let (meta, a) = (&ctx::access(&c)?.meta, ctx::entity(&c, i)?);
            let id = args::record_id(&c)?;
            let row = ctx::row_filter(&c, &a.full)?;
            let actor = ctx::actor(&c)?;
            let record = store(&c)?
                .set_deleted(meta, &a.full, &id, deleted, Caller { actor: &actor, row: row.as_ref() })
                .await
                .map_err(gql)?;
            Ok(Some(FieldValue::owned_any(record)))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .description(description)
}
