//! `export_jobs`: exports run by a worker (`exportRecords`, and the tenant's archive,
//! `startTenantExport`) — what was asked, by whom, and how far it got (status, rows written,
//! the file and its size once done, or the error).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "export_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    /// The entity's `nameSingular` (empty for the tenant's archive).
    pub entity: String,
    /// `csv` or `jsonl`; `zip` for the tenant's archive.
    pub format: String,
    /// The filter as asked (the JSON of the entity's filter input).
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub filter: Option<Json>,
    /// The columns asked (GraphQL names); `None`: every readable one.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub fields: Option<Json>,
    /// Who asked, and in which role (the worker exports with that role's permissions).
    pub user_id: String,
    pub role_id: String,
    /// The audit actor of the request (`audit::Actor`).
    #[sea_orm(column_type = "JsonBinary")]
    pub actor: Json,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub rows_written: i64,
    /// The file under the data folder's `exports/<tenant>/`, once done.
    pub file_name: Option<String>,
    pub error: Option<String>,
    /// The file's size in bytes, once done.
    pub size_bytes: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
