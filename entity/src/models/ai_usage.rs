//! `ai_usage`: one row per call of the AI gateway — tokens, estimated cost, who and which
//! feature, and how it ended.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub provider_id: Option<String>,
    /// The user who asked (`None`: the system, e.g. a workflow or the memory refresher).
    pub user_id: Option<String>,
    /// `complete`, `workflow`, `memory`.
    pub feature: String,
    pub model: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    /// Estimated cost in millionths of a US dollar.
    pub cost_micros: i64,
    /// `ok` or `error`.
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
