//! `uid_counters`: the last sequence number given out per (tenant, entity, UID field, scope),
//! advanced by the record store in the create's transaction (`runtime::store::uids`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uid_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub entity_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub field_id: String,
    /// The UID with everything but its sequence filled in (`#` in its place).
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    pub value: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
