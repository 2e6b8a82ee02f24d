//! Relations: the to-one side (`deal.contact`) through the record loader, and the reverse side
//! (`contact.deals` connection, or `passport.person` for ONE_TO_ONE) through the reverse
//! loader, which fetches every parent's page in one statement. Both apply the caller's row
//! rule of the related entity, so a relation never reveals a record the caller cannot read.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use entity::runtime::meta::{FieldDef, ReverseRelation};
use entity::runtime::record::Record;
use entity::runtime::store::Store;

use super::{scoped, store};
use crate::error::ApiError;
use crate::schema::access::EntityAccess;
use crate::schema::loader::{ReverseKey, ReverseSpec, load_error, loaded_error};
use crate::schema::values::{ConnectionValue, parent};
use crate::schema::{args, ctx};

/// `deal.contact: Contact` — null when unset, deleted, outside the caller's row rule, or not
/// of the target entity.
pub fn to_one(f: &FieldDef, target: &Arc<EntityAccess>) -> Field {
    let type_name = target.names().type_name;
    let key = f.key.to_string();
    let i = target.index;
    Field::new(&f.graphql_name, TypeRef::named(type_name), move |c| {
        let key = key.clone();
        FieldFuture::new(async move {
            let r = parent::<Record>(&c)?;
            let Some(id) = r.data.get(&key).and_then(|v| v.as_str()) else { return Ok(None) };
            let (target, _) = scoped(&c, i)?;
            let row = ctx::ready_row_filter(&c, &target.full).await?;
            if target.full.fields.iter().any(|f| !f.is_stored()) {
                // The batch reads records of any entity as stored: a target with formulas is
                // read through its entity's statement, which computes them.
                let found = store(&c)?.get(&target.full, id, row.as_ref()).await.map_err(ApiError::from)?;
                return Ok(found.map(FieldValue::owned_any));
            }
            let loaded = ctx::loaders(&c)?.records.try_load(id.to_owned()).await.map_err(load_error)?;
            let found = loaded
                .map_err(loaded_error)?
                .filter(|t| t.entity_id == target.full.id)
                .filter(|t| row.as_ref().is_none_or(|f| f.matches(t)));
            Ok(found.map(FieldValue::owned_any))
        })
    })
    .description(f.label.clone())
}

/// The reverse side of a relation on its target type.
pub fn reverse(rev: &ReverseRelation, source: &Arc<EntityAccess>) -> Field {
    let names = source.names();
    let key = rev.field.key.to_string();
    let one_to_one = rev.one_to_one;
    let ty = if one_to_one { TypeRef::named(&names.type_name) } else { TypeRef::named_nn(&names.connection) };
    let description =
        format!("{} whose `{}` is this record.", source.full.label_plural, rev.field.graphql_name);
    let i = source.index;
    let mut f = Field::new(&rev.name, ty, move |c| {
        let key = key.clone();
        FieldFuture::new(async move {
            let source = ctx::entity(&c, i)?;
            // The tenant's own field (the schema is shared by tenants that read alike).
            let field = source
                .view
                .field_by_key(&key)
                .cloned()
                .ok_or_else(|| ApiError::Internal(format!("no field `{key}` in the tenant's schema")))?;
            let state = ctx::state(&c)?;
            let parent_id = parent::<Record>(&c)?.id.clone();
            let list = if one_to_one {
                entity::runtime::store::ListArgs {
                    order: args::order(&c, &source.view)?,
                    ..Default::default()
                }
            } else {
                args::list_args(&c, &source.view, state.config.max_page_size)?
            };
            if list.last.is_some() || list.before.is_some() {
                return Err(ApiError::BadRequest(
                    "nested connections page forwards only (`first`/`after`)".into(),
                )
                .into());
            }
            let list = list.restrict(ctx::row_filter(&c, &source.full)?.as_ref());
            let limit = if one_to_one { 1 } else { list.first.unwrap_or(state.config.default_page_size) };
            let order = list.order.clone();
            let after = list.after.clone();
            // Batches are per relation, arguments and caller (row rules differ per user).
            let user = &ctx::principal(&c)?.user_id;
            let spec = Arc::new(ReverseSpec {
                key: format!("{}|{}|{}", field.id, user, args::args_key(&c)),
                source: source.view.clone(),
                field,
                args: list,
                limit,
            });
            let page = ctx::loaders(&c)?
                .reverse
                .try_load(ReverseKey { parent_id, spec })
                .await
                .map_err(load_error)?
                .map_err(loaded_error)?;
            if one_to_one {
                return Ok(page.records.into_iter().next().map(FieldValue::owned_any));
            }
            let cursors: Vec<String> = page.records.iter().map(|r| Store::cursor_of(&order, r)).collect();
            Ok(Some(FieldValue::owned_any(ConnectionValue::new(
                page.records,
                cursors,
                page.has_more,
                after.is_some(),
                Some(page.total),
            ))))
        })
    });
    if !one_to_one {
        f = f
            .argument(InputValue::new("filter", TypeRef::named(&names.filter)))
            .argument(InputValue::new("orderBy", TypeRef::named_nn_list(&names.order_by)))
            .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
            .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
            .argument(InputValue::new("search", TypeRef::named(TypeRef::STRING)));
    }
    f.description(description)
}
