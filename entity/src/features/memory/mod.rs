//! Customer Memory in the data layer: for a record of any entity, the salient facts of the
//! notes and activities related to it — the records of entities with a RELATION to it that
//! have long-text (TEXTAREA) fields — extracted offline (`extract`) and stored as versions
//! (`customer_memories`: each refresh writes the next version). A version may carry the
//! model's summary beside the facts, with the citations of the facts that were sent. Who may
//! see which fact is the API's business: it filters them by the caller's rules.

pub mod extract;

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Db;
use crate::models::customer_memory;
use crate::runtime::filter::{Filter, Op, Target};
use crate::runtime::meta::{EntityDef, FieldType, TenantMeta};
use crate::runtime::store::{ListArgs, Store};
use crate::runtime::time;
use crate::{Error, Result};
pub use extract::{Fact, Source};

/// Related records read per source entity when a memory is refreshed (the newest are kept
/// by the scoring's recency anyway).
pub const SOURCES_PER_ENTITY: u64 = 200;

/// Where a fact the model was sent came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Citation {
    pub entity_id: String,
    pub record_id: String,
    pub field: String,
}

impl From<&Fact> for Citation {
    fn from(f: &Fact) -> Citation {
        Citation { entity_id: f.entity_id.clone(), record_id: f.record_id.clone(), field: f.field.clone() }
    }
}

/// One stored version of a record's memory.
#[derive(Debug, Clone)]
pub struct Memory {
    pub entity_id: String,
    pub record_id: String,
    pub version: i64,
    pub facts: Vec<Fact>,
    pub model_summary: Option<String>,
    pub model_citations: Vec<Citation>,
    pub refreshed_at: DateTime<Utc>,
}

impl TryFrom<customer_memory::Model> for Memory {
    type Error = Error;

    fn try_from(m: customer_memory::Model) -> Result<Memory> {
        Ok(Memory {
            entity_id: m.entity_id,
            record_id: m.record_id,
            version: m.version,
            facts: serde_json::from_value(m.facts)?,
            model_summary: m.model_summary,
            model_citations: m.model_citations.map(serde_json::from_value).transpose()?.unwrap_or_default(),
            refreshed_at: m.refreshed_at,
        })
    }
}

/// The entities whose records feed a memory of `target`: (entity, its RELATION field to
/// `target`, its TEXTAREA fields), for each entity that has both.
pub fn feeders<'m>(
    meta: &'m TenantMeta,
    target: &EntityDef,
) -> Vec<(std::sync::Arc<EntityDef>, crate::runtime::meta::FieldDef, Vec<&'m str>)> {
    meta.reverse_relations(&target.id)
        .into_iter()
        .filter_map(|r| {
            let source = meta.entity_by_id(&r.source.id)?;
            let texts: Vec<&str> = source
                .fields
                .iter()
                .filter(|f| f.ty == FieldType::Textarea)
                .map(|f| f.key.as_str())
                .collect();
            (!texts.is_empty()).then(|| (source.clone(), r.field, texts))
        })
        .collect()
}

/// The long-text values of the live records related to record `record_id` of `target`.
pub async fn gather(
    db: &Db,
    meta: &TenantMeta,
    tenant_id: &str,
    target: &EntityDef,
    record_id: &str,
) -> Result<Vec<Source>> {
    let store = Store::new(db, tenant_id);
    let mut sources = Vec::new();
    for (entity, relation, texts) in feeders(meta, target) {
        let filter = Filter::Cond(Target::Field(Box::new(relation)), Op::Eq(Value::from(record_id)));
        let args = ListArgs { filter: Some(filter), first: Some(SOURCES_PER_ENTITY), ..ListArgs::default() };
        for r in store.list(&entity, &args, SOURCES_PER_ENTITY).await?.records {
            for key in &texts {
                if let Some(text) = r.data.get(*key).and_then(Value::as_str).filter(|t| !t.trim().is_empty())
                {
                    sources.push(Source {
                        entity_id: entity.id.clone(),
                        record_id: r.id.clone(),
                        field: (*key).to_owned(),
                        text: text.to_owned(),
                        at: r.updated_at,
                    });
                }
            }
        }
    }
    Ok(sources)
}

/// The newest version of record `record_id`'s memory.
pub async fn latest(conn: &impl ConnectionTrait, tenant_id: &str, record_id: &str) -> Result<Option<Memory>> {
    customer_memory::Entity::find()
        .filter(customer_memory::Column::TenantId.eq(tenant_id))
        .filter(customer_memory::Column::RecordId.eq(record_id))
        .order_by_desc(customer_memory::Column::Version)
        .one(conn)
        .await?
        .map(Memory::try_from)
        .transpose()
}

/// Stores the next version of a record's memory; returns its version.
pub async fn save(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    entity_id: &str,
    record_id: &str,
    facts: &[Fact],
    summary: Option<(String, Vec<Citation>)>,
) -> Result<i64> {
    let version = latest(conn, tenant_id, record_id).await?.map_or(1, |m| m.version + 1);
    let (summary, citations) = match summary {
        Some((text, cited)) => (Some(text), Some(serde_json::to_value(cited)?)),
        None => (None, None),
    };
    let row = customer_memory::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        entity_id: Set(entity_id.to_owned()),
        record_id: Set(record_id.to_owned()),
        version: Set(version),
        facts: Set(serde_json::to_value(facts)?),
        model_summary: Set(summary),
        model_citations: Set(citations),
        refreshed_at: Set(time::now()),
    };
    customer_memory::Entity::insert(row).exec_without_returning(conn).await?;
    Ok(version)
}

/// The RELATION fields (key, target entity id) of `entity` when it also has a long-text
/// field: the links along which a change of its records refreshes memories. Read from the
/// definitions in hand (the job relay's cached `TenantMeta`), no statement.
pub fn links(entity: &EntityDef) -> Vec<(String, String)> {
    if !entity.fields.iter().any(|f| f.ty == FieldType::Textarea) {
        return Vec::new();
    }
    entity
        .fields
        .iter()
        .filter(|f| f.ty == FieldType::Relation)
        .filter_map(|f| Some((f.key.as_str().to_owned(), f.related_entity_id.clone()?)))
        .collect()
}
