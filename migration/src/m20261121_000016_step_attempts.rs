//! Which attempt of its run a logged workflow step belongs to (a retried run logs the failed
//! action again under the next attempt).

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE workflow_steps ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE workflow_steps DROP COLUMN attempt").await
    }
}
