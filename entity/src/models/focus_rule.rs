//! `focus_rules`: a tenant's Daily Focus rules, one row per rule (`features::focus` checks and
//! stores them, the loader reads them with the definitions into `TenantMeta::focus`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "focus_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// The role the rule is for; `None`: every role.
    pub role_id: Option<String>,
    pub position: i32,
    /// The entity's `nameSingular`.
    pub entity: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub filter: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub order_by: Json,
    pub max_records: i32,
    pub title: String,
    pub badge: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
