//! `dealsAggregate(filter: DealFilter, groupBy: [DealField!], groupByDate: DealDateGroup):
//! [DealAggregate!]!` — count and sum / avg / min / max of the numeric fields the caller can
//! read, per group (fields, and a date bucket in the tenant's time zone), in one SQL statement
//! under the caller's row rule.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, TypeRef};
use entity::runtime::aggregate;
use entity::runtime::figures::{AggregateRow, Figure, Figures, numeric_fields};
use entity::runtime::naming::types as t;

use super::scoped;
use crate::error::{ApiError, gql};
use crate::schema::access::EntityAccess;
use crate::schema::common::output_type;
use crate::schema::values::{output, parent, sync_field};
use crate::schema::{args, ctx};

/// The root field.
pub fn field(a: &Arc<EntityAccess>) -> Field {
    let n = a.names();
    let i = a.index;
    Field::new(&n.query_aggregate, TypeRef::named_nn_list_nn(&n.aggregate), move |c| {
        FieldFuture::new(async move {
            let (a, row) = scoped(&c, i)?;
            let state = ctx::state(&c)?;
            let p = ctx::principal(&c)?;
            let filter = match (args::filter(&c, &a.view)?, row) {
                (Some(f), Some(row)) => Some(f.and(row)),
                (f, row) => f.or(row),
            };
            let targets = args::sort_targets(&a.view);
            let mut group_by = Vec::new();
            if let Some(serde_json::Value::Array(items)) = args::arg_json(&c, "groupBy")? {
                for item in items {
                    let name = item.as_str().unwrap_or_default();
                    let target = targets.iter().find(|(n, _)| n == name).map(|(_, t)| t.clone());
                    group_by
                        .push(target.ok_or_else(|| ApiError::BadRequest(format!("cannot group by {name}")))?);
                }
            }
            let date_group = match args::arg_json(&c, "groupByDate")? {
                Some(g) => Some(date_group(&c, &targets, &g).await?),
                None => None,
            };
            let ancestor = crate::features::hierarchy::group_by_ancestor(&c, &a.view)?;
            // Only the figures the selection reaches are computed.
            let mut figures = Figures::default();
            let look = c.look_ahead();
            for fig in Figure::ALL {
                let under = look.field(fig.name());
                if under.exists() {
                    for f in numeric_fields(&a.view) {
                        if under.field(&f.graphql_name).exists() {
                            figures.ask(fig, &f.graphql_name);
                        }
                    }
                }
            }
            let rows = aggregate::aggregate(
                &state.db,
                &p.tenant_id,
                &a.view,
                filter.as_ref(),
                &group_by,
                (date_group.as_ref(), ancestor.as_ref()),
                &figures,
            )
            .await
            .map_err(gql)?;
            Ok(Some(FieldValue::list(rows.into_iter().map(FieldValue::owned_any))))
        })
    })
    .argument(InputValue::new("filter", TypeRef::named(&n.filter)))
    .argument(InputValue::new("groupBy", TypeRef::named_nn_list(&n.field_enum)))
    .argument(InputValue::new("groupByDate", TypeRef::named(&n.date_group)))
    .argument(crate::features::hierarchy::group_by_ancestor_arg())
    .description(format!(
        "Counts and totals of {}, optionally per group; `groupByDate` adds the local day, week, month, quarter or year of a date field (key: the field's name, value: `2026-11-21`, `2026-W47`, `2026-11`, `2026-Q4`, `2026`).",
        a.full.label_plural
    ))
}

/// `{field, bucket}` → a date grouping in the tenant's time zone.
async fn date_group(
    c: &async_graphql::dynamic::ResolverContext<'_>,
    targets: &[(String, entity::runtime::filter::Target)],
    g: &serde_json::Value,
) -> async_graphql::Result<aggregate::DateGroup> {
    use entity::runtime::filter::Target;
    use entity::runtime::meta::FieldType;
    let name = g.get("field").and_then(serde_json::Value::as_str).unwrap_or_default();
    let target = targets
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t.clone())
        .filter(|t| match t {
            Target::CreatedAt | Target::UpdatedAt => true,
            Target::Field(f) => matches!(f.ty, FieldType::Date | FieldType::Datetime),
            _ => false,
        })
        .ok_or_else(|| ApiError::BadRequest(format!("{name} is not a date field")))?;
    let bucket = serde_json::from_value(serde_json::Value::String(
        g.get("bucket").and_then(serde_json::Value::as_str).unwrap_or_default().to_lowercase(),
    ))
    .map_err(|e| ApiError::BadRequest(format!("bucket: {e}")))?;
    let tz = ctx::tenant_zone(c).await?;
    Ok(aggregate::DateGroup { target, bucket, tz })
}

/// `DealDateGroup { field: DealField!, bucket: DateBucket! }`.
pub fn date_group_input(a: &Arc<EntityAccess>) -> async_graphql::dynamic::InputObject {
    let n = a.names();
    async_graphql::dynamic::InputObject::new(&n.date_group)
        .field(InputValue::new("field", TypeRef::named_nn(&n.field_enum)))
        .field(InputValue::new("bucket", TypeRef::named_nn(t::DATE_BUCKET)))
}

/// `DealAggregate` and, when the entity has numeric fields the role can read,
/// `DealAggregateValues`.
pub fn types(a: &Arc<EntityAccess>) -> Vec<Object> {
    let n = a.names();
    let mut agg = Object::new(&n.aggregate)
        .field(
            sync_field::<AggregateRow>("group", TypeRef::named_nn(t::JSON), |r| {
                Value::from_json(serde_json::Value::Object(r.group.clone())).ok()
            })
            .description(
                "The group's values as a JSON object of field name → value (the date bucket too), e.g. \
                 `{\"stage\": \"Won\"}`; `{}` without groupBy.",
            ),
        )
        .field(sync_field::<AggregateRow>("count", TypeRef::named_nn(TypeRef::INT), |r| {
            Some(Value::from(r.count))
        }));
    let numeric = numeric_fields(&a.view);
    if numeric.is_empty() {
        return vec![agg];
    }
    type Pick = fn(&AggregateRow) -> &serde_json::Map<String, serde_json::Value>;
    let figures: [(&str, Pick); 4] =
        [("sum", |r| &r.sum), ("avg", |r| &r.avg), ("min", |r| &r.min), ("max", |r| &r.max)];
    for (name, pick) in figures {
        agg = agg.field(Field::new(name, TypeRef::named(&n.aggregate_values), move |c| {
            FieldFuture::new(async move {
                Ok(Some(FieldValue::owned_any(pick(parent::<AggregateRow>(&c)?).clone())))
            })
        }));
    }
    let mut values = Object::new(&n.aggregate_values);
    for f in numeric {
        let (name, ty) = (f.graphql_name.clone(), f.ty);
        values = values.field(Field::new(&f.graphql_name, TypeRef::named(output_type(f.ty)), move |c| {
            let v = parent::<serde_json::Map<String, serde_json::Value>>(&c)
                .map(|m| m.get(&name).and_then(|v| output(ty, v)));
            FieldFuture::new(async move { Ok(v?.map(FieldValue::value)) })
        }));
    }
    vec![agg, values]
}
