//! FORMULA fields: a field definition's formula (`{expression, resultType}`), absent for every
//! stored field. The values are never stored: reads compute them in SQL, writes in memory.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE field_defs ADD COLUMN formula {json}").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE field_defs DROP COLUMN formula").await
    }
}
