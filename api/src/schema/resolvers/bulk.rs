//! Bulk writes of an entity: `createDeals(inputs)`, `updateDeals(ids | filter, input)` and
//! `deleteDeals(ids | filter)`, each answering a `DealBulkResult { count records }`. One
//! transaction, all or nothing; every record goes the way of its single write
//! (`Store::create_many` and friends), and the size limit is `MAX_BULK_SIZE`.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef};
use entity::runtime::policy::Action;
use entity::runtime::record::Record;
use entity::runtime::store::{CreateInput, Selection};

use super::{Write, store};
use crate::error::{ApiError, gql};
use crate::schema::access::EntityAccess;
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::values::{lend, parent, parent_lent};

/// What a bulk write answers: the records it wrote, in order.
struct BulkValue(Vec<Record>);

/// `DealBulkResult { count: Int!, records: [Deal!]! }`.
pub fn result_type(a: &Arc<EntityAccess>) -> Object {
    let n = a.names();
    Object::new(&n.bulk_result)
        .description(format!("What a bulk write of {} did.", a.full.label_plural))
        .field(
            Field::new("count", TypeRef::named_nn(TypeRef::INT), |c| {
                FieldFuture::new(async move {
                    let n = parent::<BulkValue>(&c)?.0.len();
                    Ok(Some(FieldValue::value(n as i64)))
                })
            })
            .description("How many records were written."),
        )
        .field(
            Field::new("records", TypeRef::named_nn_list_nn(&n.type_name), |c| {
                lend(parent_lent::<BulkValue>(&c).map(|b| b.0.iter().map(|r| FieldValue::borrowed_any(r))))
            })
            .description("The records as written, in input order (by filter: in list order)."),
        )
}

/// `createDeals(inputs: [CreateDealInput!]!): DealBulkResult!`.
pub fn create_field(a: &Arc<EntityAccess>) -> Field {
    let n = a.names();
    let i = a.index;
    Field::new(&n.create_many, TypeRef::named_nn(&n.bulk_result), move |c| {
        FieldFuture::new(async move {
            let w = Write::of(&c, i, Action::Create)?;
            let inputs = create_inputs(&c)?;
            let limit = ctx::state(&c)?.config.max_bulk_size;
            let records = store(&c)?
                .create_many(w.meta, &w.entity.full, &inputs, w.caller(), limit)
                .await
                .map_err(gql)?;
            Ok(Some(FieldValue::owned_any(BulkValue(records))))
        })
    })
    .argument(InputValue::new("inputs", TypeRef::named_nn_list_nn(&n.create_input)))
    .description(format!(
        "Creates many {} in one transaction: all of them, or none when any input is refused.",
        a.full.label_plural
    ))
}

/// `updateDeals(ids: [ID!], filter: DealFilter, input: UpdateDealInput!): DealBulkResult!`.
pub fn update_field(a: &Arc<EntityAccess>) -> Field {
    let n = a.names();
    let i = a.index;
    let field = Field::new(&n.update_many, TypeRef::named_nn(&n.bulk_result), move |c| {
        FieldFuture::new(async move {
            let w = Write::of(&c, i, Action::Update)?;
            let (input, owner) = args::record_input(&c)?;
            let limit = ctx::state(&c)?.config.max_bulk_size;
            let (ids, filter) = selection(&c, w.entity)?;
            let sel = match &ids {
                Some(ids) => Selection::Ids(ids),
                None => Selection::Filter(filter.as_ref()),
            };
            let records =
                store(&c)?.update_many(sel, limit, w.request(&input, owner.as_deref())).await.map_err(gql)?;
            Ok(Some(FieldValue::owned_any(BulkValue(records))))
        })
    });
    selection_arguments(field, &n.filter)
        .argument(InputValue::new("input", TypeRef::named_nn(&n.update_input)))
        .description(format!(
            "Updates many {} (by `ids` or by `filter`) with the same input, in one transaction.",
            a.full.label_plural
        ))
}

/// `deleteDeals(ids: [ID!], filter: DealFilter): DealBulkResult!` (soft delete).
pub fn delete_field(a: &Arc<EntityAccess>) -> Field {
    let n = a.names();
    let i = a.index;
    let field = Field::new(&n.delete_many, TypeRef::named_nn(&n.bulk_result), move |c| {
        FieldFuture::new(async move {
            let w = Write::of(&c, i, Action::Delete)?;
            let limit = ctx::state(&c)?.config.max_bulk_size;
            let (ids, filter) = selection(&c, w.entity)?;
            let sel = match &ids {
                Some(ids) => Selection::Ids(ids),
                None => Selection::Filter(filter.as_ref()),
            };
            let records =
                store(&c)?.delete_many(w.meta, &w.entity.full, sel, w.caller(), limit).await.map_err(gql)?;
            Ok(Some(FieldValue::owned_any(BulkValue(records))))
        })
    });
    selection_arguments(field, &n.filter).description(format!(
        "Soft-deletes many {} (by `ids` or by `filter`) in one transaction.",
        a.full.label_plural
    ))
}

fn selection_arguments(field: Field, filter_type: &str) -> Field {
    field
        .argument(
            InputValue::new("ids", TypeRef::named_nn_list(TypeRef::ID))
                .description("The records to change (pass `ids` or `filter`, not both)."),
        )
        .argument(
            InputValue::new("filter", TypeRef::named(filter_type))
                .description("Every record this filter lists for the caller (`{}`: all of them)."),
        )
}

/// Exactly one of `ids` (each a record id in its stored form) and `filter`.
fn selection(
    c: &ResolverContext<'_>,
    a: &EntityAccess,
) -> async_graphql::Result<(Option<Vec<String>>, Option<entity::runtime::filter::Filter>)> {
    let ids = args::arg_json(c, "ids")?;
    let given_filter = c.args.get("filter").is_some_and(|v| !v.is_null());
    match (ids, given_filter) {
        (Some(_), true) | (None, false) => {
            Err(ApiError::BadRequest("pass exactly one of `ids` and `filter`".into()).to_graphql())
        }
        (Some(serde_json::Value::Array(items)), false) => {
            let mut out = Vec::with_capacity(items.len());
            let mut bad = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().and_then(entity::runtime::value::record_id) {
                    Some(id) => out.push(id),
                    None => bad.push(entity::FieldError::new(
                        format!("ids[{i}]"),
                        entity::runtime::value::NOT_AN_ID,
                    )),
                }
            }
            if !bad.is_empty() {
                return Err(ApiError::Validation(bad).to_graphql());
            }
            Ok((Some(out), None))
        }
        (Some(_), false) => Err(ApiError::BadRequest("`ids` must be a list".into()).to_graphql()),
        (None, true) => Ok((None, args::filter(c, &a.view)?)),
    }
}

/// `inputs` as the store takes them: each input's entity values and its `owner`.
fn create_inputs(c: &ResolverContext<'_>) -> async_graphql::Result<Vec<CreateInput>> {
    let Some(serde_json::Value::Array(items)) = args::arg_json(c, "inputs")? else {
        return Ok(Vec::new());
    };
    Ok(items.into_iter().map(|item| args::split_owner(Some(item))).collect())
}
