//! `record_uids`: every UID given out, with its record; the primary key (tenant, uid) keeps
//! UIDs unique per tenant (`runtime::store::uids`). `record_id` is a `uuid` on PostgreSQL,
//! read as text.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "record_uids")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub uid: String,
    pub entity_id: String,
    pub field_id: String,
    #[sea_orm(select_as = "text")]
    pub record_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
