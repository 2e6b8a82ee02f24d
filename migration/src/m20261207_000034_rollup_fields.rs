//! ROLLUP fields: a field's rollup definition (`{"entity", "relation", "function", "field",
//! "filter", "valueType"}`, see `entity::runtime::rollup_fields`), absent for every other field.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE field_defs ADD COLUMN rollup {json}").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE field_defs DROP COLUMN rollup").await
    }
}
