//! `customerMemory(entity, id)`: the latest version of a record's Customer Memory (refreshed by
//! the worker when its related notes change, `jobs::handlers::memory`), as the caller may see
//! it. The record must be one the caller reads; a fact is shown only when the caller reads its
//! source — the source's entity, its field and the source record within the row rule — and the
//! model's summary only when the caller reads every note it was made from. Every role's schema
//! has it.

use std::collections::HashMap;

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::features::memory::{self, Citation, Fact, Memory};
use entity::runtime::filter::Filter;
use entity::runtime::naming::ai::{fields as f, types as t};
use entity::runtime::naming::types as platform;
use entity::runtime::record::Record;

use crate::error::ApiError;
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::schema::resolvers::{readable, store};
use crate::schema::values::{parent, s, sync_field, ts};
use crate::services::Txn;

/// A source as the caller sees it: entity name, record id and field (GraphQL name).
#[derive(Clone)]
struct Cited {
    entity: String,
    record_id: String,
    field: String,
}

/// A fact the caller may see.
#[derive(Clone)]
struct Shown {
    fact: Fact,
    cited: Cited,
}

/// The memory as the caller may see it.
struct View {
    version: i64,
    refreshed_at: chrono::DateTime<chrono::Utc>,
    facts: Vec<Shown>,
    summary: Option<(String, Vec<Cited>)>,
}

fn cited_fields(o: Object) -> Object {
    o.field(sync_field::<Cited>("entity", TypeRef::named_nn(TypeRef::STRING), |c| s(&c.entity)))
        .field(sync_field::<Cited>("recordId", TypeRef::named_nn(TypeRef::ID), |c| s(&c.record_id)))
        .field(sync_field::<Cited>("field", TypeRef::named_nn(TypeRef::STRING), |c| s(&c.field)))
}

fn types() -> Vec<Type> {
    vec![
        cited_fields(Object::new(t::MEMORY_CITATION).description("The note (record and field) a fact came from."))
            .into(),
        Object::new(t::MEMORY_FACT)
            .description("A salient sentence of a related note, with its source.")
            .field(sync_field::<Shown>("text", TypeRef::named_nn(TypeRef::STRING), |x| s(&x.fact.text)))
            .field(sync_field::<Shown>("score", TypeRef::named_nn(TypeRef::FLOAT), |x| Some(Value::from(x.fact.score))))
            .field(sync_field::<Shown>("at", TypeRef::named_nn(platform::DATE_TIME), |x| ts(&x.fact.at)))
            .field(Field::new("source", TypeRef::named_nn(t::MEMORY_CITATION), |c| {
                FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(parent::<Shown>(&c)?.cited.clone()))) })
            }))
            .into(),
        Object::new(t::CUSTOMER_MEMORY)
            .description("What the notes related to a record say, extracted offline; with a model summary when the tenant has an AI provider.")
            .field(sync_field::<View>("version", TypeRef::named_nn(TypeRef::INT), |v| Some(Value::from(v.version))))
            .field(sync_field::<View>("refreshedAt", TypeRef::named_nn(platform::DATE_TIME), |v| ts(&v.refreshed_at)))
            .field(Field::new("facts", TypeRef::named_nn_list_nn(t::MEMORY_FACT), |c| {
                FieldFuture::new(async move {
                    let facts = parent::<View>(&c)?.facts.clone();
                    Ok(Some(FieldValue::list(facts.into_iter().map(FieldValue::owned_any))))
                })
            }))
            .field(
                sync_field::<View>("modelSummary", TypeRef::named(TypeRef::STRING), |v| {
                    v.summary.as_ref().and_then(|(text, _)| s(text))
                })
                .description("The model's summary (null without a provider, or when it used a note the caller cannot read)."),
            )
            .field(
                Field::new("modelCitations", TypeRef::named_nn_list_nn(t::MEMORY_CITATION), |c| {
                    FieldFuture::new(async move {
                        let cited = parent::<View>(&c)?.summary.as_ref().map(|(_, c)| c.clone()).unwrap_or_default();
                        Ok(Some(FieldValue::list(cited.into_iter().map(FieldValue::owned_any))))
                    })
                })
                .description("The notes whose facts the model was sent."),
            )
            .into(),
    ]
}

/// The caller's read rules for the entities of `sources`, ready for evaluation in memory.
type Rules = HashMap<String, Option<Filter>>;

/// `c` as the caller sees it, when the caller reads its source (among `sources`, the live
/// records cited; `rules`: the caller's read rules for their entities).
fn visible(c: &ResolverContext<'_>, cite: &Citation, sources: &[Record], rules: &Rules) -> Option<Cited> {
    let (access, p) = (ctx::access(c).ok()?, ctx::principal(c).ok()?);
    let a = access.entity(&cite.entity_id)?;
    let field = a.full.field_by_key(&cite.field)?;
    let record = sources.iter().find(|r| r.id == cite.record_id && r.entity_id == cite.entity_id)?;
    let row = rules.get(&a.full.id)?;
    p.permissions.reads_record(&access.meta, &a.full, Some(field), row.as_ref(), record).then(|| Cited {
        entity: a.full.name_singular.clone(),
        record_id: record.id.clone(),
        field: field.graphql_name.clone(),
    })
}

async fn read(c: &ResolverContext<'_>) -> Result<Option<View>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let (name, id) = (args::string(c, "entity")?, args::string(c, "id")?);
    readable(c, &name, &id).await?;
    let store = store(c)?;
    let latest = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| memory::latest(txn, &p.tenant_id, &id).await)
        .await?;
    let Some(Memory { version, facts, model_summary, model_citations, refreshed_at, .. }) = latest else {
        return Ok(None);
    };
    let mut ids: Vec<String> = facts
        .iter()
        .map(|f| f.record_id.clone())
        .chain(model_citations.iter().map(|c| c.record_id.clone()))
        .collect();
    ids.sort();
    ids.dedup();
    let sources = store.get_many(&ids).await?;
    let mut rules = Rules::new();
    for r in &sources {
        if let Some(a) = ctx::access(c)?.entity(&r.entity_id)
            && !rules.contains_key(&r.entity_id)
        {
            rules.insert(r.entity_id.clone(), ctx::ready_row_filter(c, &a.full).await?);
        }
    }
    let facts = facts
        .into_iter()
        .filter_map(|fact| Some(Shown { cited: visible(c, &Citation::from(&fact), &sources, &rules)?, fact }))
        .collect();
    // A summary speaks for every note it was made from: shown only when all of them are readable.
    let summary = model_summary.and_then(|text| {
        let cited: Option<Vec<Cited>> =
            model_citations.iter().map(|cite| visible(c, cite, &sources, &rules)).collect();
        Some((text, cited?))
    });
    Ok(Some(View { version, refreshed_at, facts, summary }))
}

fn queries() -> Vec<Field> {
    vec![
        Field::new(f::CUSTOMER_MEMORY, TypeRef::named(t::CUSTOMER_MEMORY), |c| {
            FieldFuture::new(async move { Ok(read(&c).await?.map(FieldValue::owned_any)) })
        })
        .argument(InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING)).description("The entity's `nameSingular`."))
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .description(
            "The salient facts of the notes and activities related to a record (any entity with a RELATION to it and \
             long-text fields), each citing its note; null until the first refresh. Only facts from notes the caller reads.",
        ),
    ]
}

/// Customer Memory, for every role.
pub static FEATURE: Declared =
    Declared { queries: &[(Slot::Member, |_| queries())], types: |_| types(), ..Declared::EMPTY };
