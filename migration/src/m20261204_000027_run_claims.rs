//! Claims of workflow runs: `claim` counts the times a run was taken to be executed (started,
//! resumed, or taken over from a worker that fell silent). The execution holding the current
//! claim is the only one whose steps commit: each step's effects, its log row and the run's
//! progress are written in one transaction guarded by the claim, so an execution overtaken by
//! another (its lease passed under load) stops at its next step instead of repeating it.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE workflow_runs ADD COLUMN claim INTEGER NOT NULL DEFAULT 0").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE workflow_runs DROP COLUMN claim").await
    }
}
