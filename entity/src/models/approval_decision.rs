//! `approval_decisions`: the history of approval requests, one row per transition
//! (append-only: PostgreSQL's policy allows only SELECT and INSERT).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_decisions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub request_id: String,
    pub stage: Option<i32>,
    /// SUBMIT, APPROVE, REJECT, SEND_BACK or ESCALATE.
    pub action: String,
    pub from_state: String,
    pub to_state: String,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
