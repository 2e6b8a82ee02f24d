//! `webhook_deliveries`: the delivery log, one row per webhook and event (`UNIQUE (webhook_id,
//! event_key)`: a re-relayed event is delivered once), with its status, attempts, the
//! receiver's answer and, while a worker holds it (`sending`), when it was claimed.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub webhook_id: String,
    pub event_key: String,
    pub event_type: String,
    /// The body posted.
    #[sea_orm(column_type = "JsonBinary")]
    pub payload: Json,
    /// `pending`, `sending`, `retrying`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i32,
    pub response_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
    /// When the attempt under way (`sending`) was claimed (migration 13).
    pub claimed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook::Entity",
        from = "Column::WebhookId",
        to = "super::webhook::Column::Id",
        on_delete = "Cascade"
    )]
    Webhook,
}

impl Related<super::webhook::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Webhook.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
