//! `customer_memories`: the versions of a record's Customer Memory — extractive facts with
//! citations, and the model's summary when a provider is configured.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "customer_memories")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub entity_id: String,
    pub record_id: String,
    /// 1 for the first refresh, one more for each next.
    pub version: i64,
    /// The facts: a JSON array of `{text, entityId, recordId, field, score, at}`.
    #[sea_orm(column_type = "JsonBinary")]
    pub facts: Json,
    #[sea_orm(column_type = "Text", nullable)]
    pub model_summary: Option<String>,
    /// The facts sent to the model: a JSON array of their citations.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub model_citations: Option<Json>,
    pub refreshed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
