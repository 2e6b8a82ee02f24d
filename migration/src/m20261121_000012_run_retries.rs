//! Workflow runs that retry: how many attempts a run has had, the first action not yet done
//! (where a retried or recovered run continues), and a heartbeat so a run whose worker died
//! mid-run is found and continued.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = "ALTER TABLE workflow_runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflow_runs ADD COLUMN next_position INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workflow_runs ADD COLUMN heartbeat_at {ts};
CREATE INDEX workflow_runs_status_idx ON workflow_runs (status, heartbeat_at)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            "DROP INDEX workflow_runs_status_idx;\nALTER TABLE workflow_runs DROP COLUMN heartbeat_at;\n\
             ALTER TABLE workflow_runs DROP COLUMN next_position;\nALTER TABLE workflow_runs DROP COLUMN attempts",
        )
        .await
    }
}
