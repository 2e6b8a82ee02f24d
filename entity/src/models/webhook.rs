//! `webhooks`: a tenant's subscriptions of a URL to event types, with up to two active signing
//! secrets (newest first). `events` and `secrets` are JSON (JSONB on PostgreSQL, text on SQLite).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub url: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// Event-type patterns: a JSON array of strings.
    #[sea_orm(column_type = "JsonBinary")]
    pub events: Json,
    /// Signing secrets: a JSON array of `{id, secret}`.
    #[sea_orm(column_type = "JsonBinary")]
    pub secrets: Json,
    pub active: bool,
    pub created_at: DateTimeUtc,
}

/// Its deliveries point at it (`webhook_delivery::Relation::Webhook`); the relation is declared
/// on the child only, so the models import each other one way.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
