//! `confidence_scores`: every computed confidence score of a pipeline record, with its factors;
//! `latest` marks the newest (the record's read-only score), the others are its history.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "confidence_scores")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub entity_id: String,
    pub record_id: String,
    /// 1 for the first score, one more for each next.
    pub version: i64,
    /// 0 to 100.
    pub score: i32,
    /// A JSON array of `{signal, effect, detail}` whose effects add up to the score.
    #[sea_orm(column_type = "JsonBinary")]
    pub factors: Json,
    /// The record's stage when scored.
    pub stage: Option<String>,
    /// Since when the record had been in that stage.
    pub stage_since: DateTimeUtc,
    /// `won` or `lost` once the record closed; null while open.
    pub outcome: Option<String>,
    /// The newest score of the record.
    pub latest: bool,
    pub computed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
