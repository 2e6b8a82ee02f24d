//! `import_errors`: the rows an import refused — by row (the file's row number, the header
//! being row 1), field (absent for a row-wide problem) and error code — written in the
//! transaction of the batch that read the row.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "import_errors")]
pub struct Model {
    pub tenant_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub import_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub row_no: i64,
    /// The error's place among its row's errors.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i32,
    /// The field's GraphQL name (absent: the whole row).
    pub field: Option<String>,
    pub code: String,
    pub message: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
