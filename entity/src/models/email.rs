//! `emails`: the email outbox, every email the platform sends with its delivery state
//! (`UNIQUE (tenant_id, idempotency_key)`: queueing the same key twice sends once) and, while a
//! worker holds it (`sending`), when it was claimed; the record it is about, if any (migration 55).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "emails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub idempotency_key: String,
    pub to_address: String,
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// `queued`, `sending`, `retrying`, `sent`, `dead` or `held`.
    pub status: String,
    pub attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub message_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// When the attempt under way (`sending`) was claimed (migration 11).
    pub claimed_at: Option<DateTimeUtc>,
    /// The entity and record the email is about (a workflow's `send_email`), or none.
    pub entity_id: Option<String>,
    pub record_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
