//! `imports`: one CSV import into an entity — its settings (mapping, dry run, upsert field,
//! workflows on or off), who started it and under which permissions, its status and counts,
//! and the resume cursor that each batch's transaction advances.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub entity_id: String,
    pub created_by: Option<String>,
    /// pending, running, done, failed or cancelled.
    pub status: String,
    pub dry_run: bool,
    pub run_workflows: bool,
    /// The key of the unique field rows are matched by (an update instead of a create).
    pub upsert_by: Option<String>,
    pub file_name: String,
    /// `[{column, header, field}]`: the file's column index and header, the field's key.
    #[sea_orm(column_type = "JsonBinary")]
    pub mapping: Json,
    /// The `audit::Actor` every row is written as.
    #[sea_orm(column_type = "JsonBinary")]
    pub actor: Json,
    /// The starter's permissions when the import started (row rules, writable fields).
    #[sea_orm(column_type = "JsonBinary")]
    pub permissions: Json,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub created_count: i64,
    pub updated_count: i64,
    pub error_count: i64,
    /// Byte offset in the file where the next batch starts.
    pub cursor_offset: i64,
    /// Why the import failed.
    pub message: Option<String>,
    pub heartbeat_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
