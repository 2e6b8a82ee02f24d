//! `approval_requests`: one submission of one record under one policy, with where it stands
//! in the state machine (state, pending stage, its SLA deadline, whether it was escalated).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub policy_id: String,
    pub entity_id: String,
    pub record_id: String,
    /// INITIATED, PENDING_APPROVAL, APPROVED or REJECTED.
    pub state: String,
    /// The pending stage (0-based), while PENDING_APPROVAL.
    pub stage: Option<i32>,
    pub stage_due_at: Option<DateTimeUtc>,
    pub escalated: bool,
    pub requested_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
