//! `modules`: a tenant's modules — named groups of its entities, workflows and dashboards (by
//! id), whether the group is on, and the template that brought it (unique key per tenant).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "modules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub key: String,
    pub label: String,
    /// What the module is for, shown to administrators.
    pub description: Option<String>,
    /// Translations of `label`: language code → label.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub labels: Option<Json>,
    pub enabled: bool,
    /// Entity ids.
    #[sea_orm(column_type = "JsonBinary")]
    pub entities: Json,
    /// Workflow ids.
    #[sea_orm(column_type = "JsonBinary")]
    pub workflows: Json,
    /// Dashboard ids.
    #[sea_orm(column_type = "JsonBinary")]
    pub dashboards: Json,
    pub template: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
