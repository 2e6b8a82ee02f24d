//! `workflow_runs`: one run of a workflow per triggering event (unique per workflow and trigger
//! key), with its status, progress (`next_position`), failed attempts, heartbeat and the claim
//! of the execution that holds it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub workflow_id: String,
    pub trigger_key: String,
    pub record_id: Option<String>,
    /// queued, running, waiting, retrying, succeeded, skipped, failed or dead.
    pub status: String,
    pub depth: i32,
    pub error: Option<String>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// Attempts that ended without finishing the run.
    pub attempts: i32,
    /// The first action not yet done.
    pub next_position: i32,
    pub heartbeat_at: Option<DateTimeUtc>,
    /// How many times the run was taken to be executed; the latest taker alone may write.
    pub claim: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::workflow::Entity",
        from = "Column::WorkflowId",
        to = "super::workflow::Column::Id"
    )]
    Workflow,
}

impl Related<super::workflow::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workflow.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
