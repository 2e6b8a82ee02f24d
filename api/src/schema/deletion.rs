//! The one shape of an administrators' delete: `deleteX(id: ID!): Boolean!` removes one object
//! of the tenant and appends `<object>.delete` to the audit trail in the same transaction;
//! `NOT_FOUND` when there is no such object.

use std::future::Future;
use std::pin::Pin;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, InputValue, TypeRef};
use entity::runtime::audit;
use sea_orm::DatabaseTransaction;

use super::args;
use super::ctx;
use crate::error::ApiError;

/// Deletes one object: (transaction, tenant id, object id) → whether it existed.
pub type Deleter = for<'a> fn(
    &'a DatabaseTransaction,
    &'a str,
    &'a str,
) -> Pin<Box<dyn Future<Output = entity::Result<bool>> + Send + 'a>>;

/// The mutation `name(id: ID!): Boolean!` deleting a `object` (audited as `<object>.delete`).
pub fn field(name: &str, object: &'static str, delete: Deleter) -> Field {
    Field::new(name, TypeRef::named_nn(TypeRef::BOOLEAN), move |c| {
        FieldFuture::new(async move {
            ctx::require_admin(&c)?;
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let id = args::string(&c, "id")?;
            let d = state.db.dialect;
            let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
            if !delete(&txn, &p.tenant_id, &id).await.map_err(ApiError::from)? {
                return Err(ApiError::NotFound(object.replace('_', " ")).into());
            }
            let action = format!("{object}.delete");
            let entry = audit::Entry {
                action: &action,
                object_type: object,
                object_id: Some(&id),
                changes: serde_json::json!({}),
            };
            audit::append(&txn, d, &p.tenant_id, &ctx::actor(&c)?, &entry).await.map_err(ApiError::from)?;
            txn.commit().await.map_err(ApiError::from)?;
            Ok(Some(Value::from(true)))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
}
