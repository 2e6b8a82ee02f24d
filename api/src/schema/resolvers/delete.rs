//! `deleteDeal(id)` (soft: the record leaves every list and lookup) and `restoreDeal(id)`,
//! within the caller's row rule.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};

use entity::runtime::policy::Action;

use super::{Write, store};
use crate::schema::access::EntityAccess;
use crate::schema::args;

/// `delete…` when `deleted`, else `restore…`.
pub fn field(a: &Arc<EntityAccess>, deleted: bool) -> Field {
    let n = a.names();
    let description = if deleted {
        format!("Soft-deletes a {} (restorable).", a.full.label_singular)
    } else {
        format!("Restores a deleted {}.", a.full.label_singular)
    };
    let i = a.index;
    let name = if deleted { &n.delete } else { &n.restore };
    Field::new(name, TypeRef::named_nn(&n.type_name), move |c| {
        FieldFuture::new(async move {
            let w = Write::of(&c, i, Action::Delete)?;
            let id = args::record_id(&c)?;
            let store = store(&c)?;
            let record = match store.set_deleted(w.meta, &w.entity.full, &id, deleted, w.caller()).await {
                Ok(r) => r,
                Err(e) => return Err(w.refused(&store, &id, e).await),
            };
            Ok(Some(FieldValue::owned_any(record)))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .description(description)
}
