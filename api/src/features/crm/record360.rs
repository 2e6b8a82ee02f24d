//! `record360(entity, id, latest): Record360!` — a record and, per entity related to it and
//! per RELATION field linking them, how many of its records the caller may read and the latest
//! `latest` of them (at most 50), as the caller reads them (`entity::features::crm::record360`).
//! The statements it costs depend on the definitions, not on how many records are linked.

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, Type, TypeRef};
use entity::features::crm::record360::{self, Group, MAX_LATEST};
use entity::features::crm::timeline::shown;
use entity::runtime::meta::EntityDef;
use entity::runtime::naming::crm::{fields as f, types as t};
use entity::runtime::naming::types as pt;

use super::timeline::Subject;
use crate::error::{ApiError, gql};
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::resolvers::store;
use crate::schema::values::{parent, s, sync_field};

/// Related records per group when `latest` is not given.
const DEFAULT_LATEST: i64 = 5;

/// What `Related360` shows: a group with its latest records as the caller reads them.
#[derive(Clone)]
struct Shown {
    entity: String,
    field: String,
    count: i64,
    latest: serde_json::Value,
}

/// What `Record360` shows.
struct View {
    entity: String,
    record: serde_json::Value,
    groups: Vec<Shown>,
}

fn json(v: &serde_json::Value) -> Option<Value> {
    Value::from_json(v.clone()).ok()
}

/// `Related360` and `Record360`.
pub fn types() -> Vec<Type> {
    let related = Object::new(t::RELATED_360)
        .description("The records of one entity linked to a record through one of its RELATION fields.")
        .field(sync_field::<Shown>("entity", TypeRef::named_nn(TypeRef::STRING), |g| s(&g.entity)))
        .field(
            sync_field::<Shown>("field", TypeRef::named_nn(TypeRef::STRING), |g| s(&g.field))
                .description("The related entity's RELATION field (GraphQL name) pointing at the record."),
        )
        .field(
            sync_field::<Shown>("count", TypeRef::named_nn(TypeRef::INT), |g| Some(Value::from(g.count)))
                .description("How many of them you may read."),
        )
        .field(
            sync_field::<Shown>("latest", TypeRef::named_nn(pt::JSON), |g| json(&g.latest))
                .description("The newest of them, as a list of their fields you may read."),
        );
    let view = Object::new(t::RECORD_360)
        .description("A record with its related records, counted and newest first.")
        .field(sync_field::<View>("entity", TypeRef::named_nn(TypeRef::STRING), |v| s(&v.entity)))
        .field(
            sync_field::<View>("record", TypeRef::named_nn(pt::JSON), |v| json(&v.record))
                .description("The record's fields you may read, with `id`, `recordNumber` and `createdAt`."),
        )
        .field(Field::new("related", TypeRef::named_nn_list_nn(t::RELATED_360), |c| {
            FieldFuture::new(async move {
                let v = parent::<View>(&c)?;
                Ok(Some(FieldValue::list(v.groups.iter().cloned().map(FieldValue::owned_any))))
            })
        }));
    vec![related.into(), view.into()]
}

/// `record360(entity, id, latest)`.
pub fn query() -> Field {
    Field::new(f::RECORD_360, TypeRef::named_nn(t::RECORD_360), |c| {
        FieldFuture::new(async move {
            let latest = args::opt_int(&c, "latest")?.unwrap_or(DEFAULT_LATEST);
            let latest = u64::try_from(latest)
                .ok()
                .filter(|n| *n <= MAX_LATEST)
                .ok_or_else(|| ApiError::BadRequest(format!("`latest` must be between 0 and {MAX_LATEST}")))?;
            let subject = Subject::of(&c).await?;
            let related = subject.related();
            let groups = record360::groups(&store(&c)?, &subject.record, &related, latest).await.map_err(gql)?;
            let access = ctx::access(&c)?;
            let view_of = |name: &str| -> Option<&EntityDef> {
                access.entities.iter().find(|a| a.full.name_singular == name).map(|a| &*a.view)
            };
            let groups = groups
                .into_iter()
                .map(|g: Group| {
                    let rows = match view_of(&g.entity) {
                        Some(view) => g.latest.iter().map(|r| shown(view, r)).collect(),
                        None => Vec::new(),
                    };
                    Shown { entity: g.entity, field: g.field, count: g.count, latest: serde_json::Value::Array(rows) }
                })
                .collect();
            let entity = subject.entity.full.name_singular.clone();
            let record = shown(&subject.entity.view, &subject.record);
            Ok(Some(FieldValue::owned_any(View { entity, record, groups })))
        })
    })
    .argument(InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING)).description("The record's entity (`nameSingular`)."))
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .argument(
        InputValue::new("latest", TypeRef::named(TypeRef::INT))
            .description("How many of each entity's related records to show, newest first (default 5, at most 50)."),
    )
    .description("A record with, per related entity and field, how many related records you may read and the latest of them.")
}
