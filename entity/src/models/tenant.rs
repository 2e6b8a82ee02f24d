//! `tenants`: one row per organisation; `metadata_version` changes with every definition change.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    #[sea_orm(unique)]
    pub slug: String,
    pub time_zone: String,
    pub metadata_version: i64,
    /// The language labels fall back to when neither the request nor its user names one.
    pub default_language: Option<String>,
    /// When the owner asked for the tenant's deletion (`deleteTenant`), while it is scheduled.
    pub deletion_requested_at: Option<DateTimeUtc>,
    /// When the scheduled deletion runs (the grace period's end); the tenant is read-only
    /// until then, and `cancelTenantDeletion` clears it.
    pub deletion_due_at: Option<DateTimeUtc>,
    pub deletion_requested_by: Option<String>,
    /// Set by the deletion itself, in its transaction: the audit guard lets the tenant's
    /// entries go only then.
    pub purging: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
