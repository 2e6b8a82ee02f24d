//! Lifecycles of SELECT fields: `{"initial": [...], "transitions": [{"from", "to", "roles"}]}`
//! (`entity::runtime::lifecycle`), absent for a field without one.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE field_defs ADD COLUMN lifecycle {json}").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE field_defs DROP COLUMN lifecycle").await
    }
}
