//! Relative-date workflow triggers: how far each workflow's dates have been scanned, so a
//! restart neither misses a date that passed while the process was down nor fires one twice.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE workflows ADD COLUMN scanned_through {ts}").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE workflows DROP COLUMN scanned_through").await
    }
}
