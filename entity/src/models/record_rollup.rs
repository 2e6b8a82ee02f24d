//! `record_rollups`: a cell of an entity's rollups — the count (`n`) and exact sum (`total`)
//! of one measure over the live records with one value of one SELECT field (`""` group key:
//! the whole entity; `""` measure: the record count). Kept by `runtime::rollups`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "record_rollups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub entity_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_key: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub group_value: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub measure_key: String,
    pub n: i64,
    /// `numeric` on PostgreSQL, integer minor units on SQLite: read as its text on both (the
    /// workspace's SeaORM has no decimal type), as `rollups::answer` reads it.
    #[sea_orm(select_as = "text")]
    pub total: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
