//! The tenant's archive export (`startTenantExport`) runs as an export job: `export_jobs`
//! gains `size_bytes`, the size of a finished job's file (the archive's, or a list export's).

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE export_jobs ADD COLUMN size_bytes BIGINT").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE export_jobs DROP COLUMN size_bytes").await
    }
}
