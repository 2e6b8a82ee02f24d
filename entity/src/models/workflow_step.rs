//! `workflow_steps`: the log of a run's actions, one row per action and attempt, with its
//! outcome and duration.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_steps")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub run_id: String,
    pub position: i32,
    pub action: String,
    pub status: String,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub started_at: DateTimeUtc,
    /// The attempt of the run the step belongs to (1 first).
    pub attempt: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
