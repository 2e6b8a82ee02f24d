//! `records`: every tenant record of every runtime entity — its fixed columns, the values in
//! one JSON column (`data`), and the index slots (migration 22): `ixk_<slot>` names the field
//! a slot holds for the record's entity, `ix_<slot>` is the database's generated copy of that
//! field's value, which the slot's index covers. The record store (`runtime::store`) reads and
//! writes this table with its own compiled, dialect-specific SQL (the columns of `data` are
//! defined at runtime); this model names the fixed columns for plain reads and for the check
//! that every model matches the database.
//!
//! Backend differences the model bridges: `id` is a `uuid` on PostgreSQL (migration 28) and
//! text on SQLite — the model reads it as text (`select_as`), and a filter on it must bind a
//! `uuid` on PostgreSQL (`SqlBuf::bind_record_id`); the numeric slots (`ix_n*`) are `numeric`
//! on PostgreSQL and real on SQLite, read as text. The array slots (`ixk_a*`, `ix_a*`: a
//! MULTI_SELECT's JSON array) exist on PostgreSQL only and so are not in the model.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, select_as = "text")]
    pub id: String,
    pub tenant_id: String,
    pub entity_id: String,
    /// Field key → value.
    #[sea_orm(column_type = "JsonBinary")]
    pub data: Json,
    pub owner_id: Option<String>,
    pub created_by: Option<String>,
    pub number: Option<i64>,
    pub record_number: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
    pub version: i64,
    pub ixk_t1: Option<String>,
    pub ix_t1: Option<String>,
    pub ixk_t2: Option<String>,
    pub ix_t2: Option<String>,
    pub ixk_t3: Option<String>,
    pub ix_t3: Option<String>,
    pub ixk_t4: Option<String>,
    pub ix_t4: Option<String>,
    pub ixk_t5: Option<String>,
    pub ix_t5: Option<String>,
    pub ixk_t6: Option<String>,
    pub ix_t6: Option<String>,
    pub ixk_t7: Option<String>,
    pub ix_t7: Option<String>,
    pub ixk_t8: Option<String>,
    pub ix_t8: Option<String>,
    pub ixk_n1: Option<String>,
    #[sea_orm(select_as = "text")]
    pub ix_n1: Option<String>,
    pub ixk_n2: Option<String>,
    #[sea_orm(select_as = "text")]
    pub ix_n2: Option<String>,
    pub ixk_n3: Option<String>,
    #[sea_orm(select_as = "text")]
    pub ix_n3: Option<String>,
    pub ixk_n4: Option<String>,
    #[sea_orm(select_as = "text")]
    pub ix_n4: Option<String>,
    pub ixk_b1: Option<String>,
    pub ix_b1: Option<bool>,
    pub ixk_b2: Option<String>,
    pub ix_b2: Option<bool>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
