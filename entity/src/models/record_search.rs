//! `record_search`: the search entry of one searchable field of one record — its text as
//! written (`body`), which the database turns into what it searches (PostgreSQL: the
//! generated `tsvector` column `doc`; SQLite: the FTS5 table `record_search_fts`, whose
//! content this table is). Kept by `runtime::search` in each record write's transaction.
//!
//! Backend differences the model bridges: `record_id` is a `uuid` on PostgreSQL, read as text;
//! `doc` (PostgreSQL), and `id` and the generated `scope` (SQLite) are the databases' own and
//! not in the model.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "record_search")]
pub struct Model {
    pub tenant_id: String,
    pub entity_id: String,
    #[sea_orm(primary_key, auto_increment = false, select_as = "text")]
    pub record_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub field_key: String,
    pub body: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
