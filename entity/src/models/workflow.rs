//! `workflows`: a tenant's workflows — trigger, conditions and actions as one JSON definition,
//! the secrets signing their `call_webhook` requests, and how far a time-based trigger has
//! been scanned.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub description: Option<String>,
    pub active: bool,
    pub entity_id: String,
    /// `features::workflows::Definition` as JSON.
    #[sea_orm(column_type = "JsonBinary")]
    pub definition: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// How far a schedule or relative-date trigger has been scanned (`None`: not yet).
    pub scanned_through: Option<DateTimeUtc>,
    /// `[{"id", "secret"}]`, newest first (at most two: rotation).
    #[sea_orm(column_type = "JsonBinary")]
    pub secrets: Json,
    /// Every module holding it is off (`features::modules`): it does not fire.
    pub switched_off: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
