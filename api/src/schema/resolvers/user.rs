//! `createdBy` and `owner` on records: users of the tenant, batched through the user loader.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, TypeRef};
use entity::runtime::naming::types as t;
use entity::runtime::record::Record;

use crate::schema::ctx;
use crate::schema::loader::{load_error, loaded_error};
use crate::schema::values::parent;

/// A nullable `User` field whose id is read from the record by `id_of`.
pub fn field(name: &str, id_of: fn(&Record) -> Option<String>) -> Field {
    Field::new(name, TypeRef::named(t::USER), move |c| {
        FieldFuture::new(async move {
            let Some(id) = id_of(parent::<Record>(&c)?) else { return Ok(None) };
            let user =
                ctx::loaders(&c)?.users.try_load(id).await.map_err(load_error)?.map_err(loaded_error)?;
            Ok(user.map(FieldValue::owned_any))
        })
    })
}
