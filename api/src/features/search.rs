//! `globalSearch(query, first, entities)`: ranked hits across the caller's entities from the
//! full-text entries of their `searchable` fields (`entity::runtime::search`). Each entity is
//! searched as the caller's role sees it — only its readable fields, only records within its
//! row rule — so a hit never shows, nor comes from, what the caller could not read by listing.
//! Every role's schema has it (an empty list where nothing is searchable).

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, Type, TypeRef};
use entity::runtime::meta::FieldDef;
use entity::runtime::naming::{fields as f, types as t};
use entity::runtime::record::Record;
use entity::runtime::search::query::{Hit, Scope};

use crate::error::{ApiError, gql};
use crate::schema::access::EntityAccess;
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::schema::resolvers::store;
use crate::schema::values::{s, sync_field};

/// Hits when `first` is not given.
const DEFAULT_FIRST: u64 = 20;

/// One hit as the API shows it.
struct Shown {
    entity: String,
    id: String,
    title: String,
    fields: Vec<String>,
    snippet: Option<String>,
    rank: f64,
}

/// `SearchHit`.
fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    vec![
        Object::new(t::SEARCH_HIT)
            .description("A record `globalSearch` found.")
            .field(
                sync_field::<Shown>("entity", string(), |h| s(&h.entity))
                    .description("The record's entity (`nameSingular`)."),
            )
            .field(sync_field::<Shown>("id", TypeRef::named_nn(TypeRef::ID), |h| s(&h.id)))
            .field(
                sync_field::<Shown>("title", string(), |h| s(&h.title)).description(
                    "What to show for the record: its first readable searchable field's value, else its record number, else its id.",
                ),
            )
            .field(
                sync_field::<Shown>("fields", TypeRef::named_nn_list_nn(TypeRef::STRING), |h| {
                    Some(Value::List(h.fields.iter().cloned().map(Value::from).collect()))
                })
                .description("The fields (GraphQL names) whose text matched, best first."),
            )
            .field(
                sync_field::<Shown>("snippet", TypeRef::named(TypeRef::STRING), |h| {
                    h.snippet.as_deref().and_then(s)
                })
                .description("The best field's text around the matched words, each in `<mark>…</mark>`."),
            )
            .field(
                sync_field::<Shown>("rank", TypeRef::named_nn(TypeRef::FLOAT), |h| {
                    async_graphql::Number::from_f64(h.rank).map(Value::Number)
                })
                    .description("Relevance: greater is better (the sum over the matched fields)."),
            )
            .into(),
    ]
}

/// The entities to search: those named in `entities` (each must be one the caller may read),
/// else every one the caller may read.
fn chosen(
    all: &[Arc<EntityAccess>],
    names: Option<Vec<String>>,
) -> Result<Vec<&Arc<EntityAccess>>, ApiError> {
    let Some(names) = names else { return Ok(all.iter().collect()) };
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|a| &a.full.name_singular == n)
                .ok_or_else(|| ApiError::BadRequest(format!("`entities`: no entity named `{n}`")))
        })
        .collect()
}

/// What a hit shows of its record: the GraphQL names of the matched fields, and a title.
fn shown(hit: Hit, a: &EntityAccess, record: Option<&Record>) -> Shown {
    let view = &a.view;
    let name = |key: &str| view.field_by_key(key).map(|f| f.graphql_name.clone());
    let title = record
        .and_then(|r| {
            view.fields
                .iter()
                .filter(|f| FieldDef::search_used(f))
                .find_map(|f| entity::runtime::search::body(f, r.data.get(f.key.as_str())))
                .or_else(|| r.record_number.clone())
        })
        .unwrap_or_else(|| hit.record_id.clone());
    Shown {
        entity: a.full.name_singular.clone(),
        id: hit.record_id,
        title,
        fields: hit.fields.iter().filter_map(|k| name(k)).collect(),
        snippet: hit.snippet,
        rank: hit.rank,
    }
}

/// `globalSearch(query, first, entities)`.
fn global_search() -> Field {
    Field::new(f::GLOBAL_SEARCH, TypeRef::named_nn_list_nn(t::SEARCH_HIT), |c| {
        FieldFuture::new(async move {
            let access = ctx::access(&c)?;
            let max = ctx::state(&c)?.config.max_page_size;
            let q = args::string(&c, "query")?;
            let first = match args::opt_int(&c, "first")? {
                None => DEFAULT_FIRST.min(max),
                Some(n) if n < 0 || n as u64 > max => {
                    return Err(ApiError::BadRequest(format!("`first` must be between 0 and {max}")).into());
                }
                Some(n) => n as u64,
            };
            let names: Option<Vec<String>> = match c.args.get("entities").filter(|v| !v.is_null()) {
                Some(v) => Some(v.list()?.iter().map(|x| x.string().map(str::to_owned)).collect::<Result<_, _>>()?),
                None => None,
            };
            let entities = chosen(&access.entities, names)?;
            let rows = entities.iter().map(|a| ctx::row_filter(&c, &a.full)).collect::<Result<Vec<_>, _>>()?;
            let scopes: Vec<Scope<'_>> = entities
                .iter()
                .zip(&rows)
                .map(|(a, row)| Scope { entity: &a.view, row: row.as_ref() })
                .collect();
            let store = store(&c)?;
            let hits = store.global_search(&scopes, &q, first).await.map_err(gql)?;
            let ids: Vec<String> = hits.iter().map(|h| h.record_id.clone()).collect();
            let records = store.get_many(&ids).await.map_err(gql)?;
            let shown: Vec<FieldValue> = hits
                .into_iter()
                .filter_map(|h| {
                    let a = access.entity(&h.entity_id)?;
                    let record = records.iter().find(|r| r.id == h.record_id);
                    Some(FieldValue::owned_any(shown(h, a, record)))
                })
                .collect();
            Ok(Some(FieldValue::list(shown)))
        })
    })
    .argument(InputValue::new("query", TypeRef::named_nn(TypeRef::STRING)).description(
        "Words to find, all required; `\"a phrase\"`, `or` between two words, `-word` to exclude one.",
    ))
    .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)).description("At most this many hits (default 20)."))
    .argument(
        InputValue::new("entities", TypeRef::named_nn_list(TypeRef::STRING))
            .description("Only these entities (`nameSingular`); every entity you may read when absent."),
    )
    .description(
        "Records whose searchable fields match `query`, best first, across entities: only fields you may read are searched, only records your role may see are found.",
    )
}

/// Full-text search across entities (every role).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Records, |_| vec![global_search()])],
    types: |_| types(),
    ..Declared::EMPTY
};
