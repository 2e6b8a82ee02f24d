//! Workflows per tenant (trigger, conditions, actions as JSON), their runs (one per workflow
//! and triggering event: the unique key makes a re-delivered event run once) and each run's
//! steps, with status, timing and errors.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE workflows (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name VARCHAR(200) NOT NULL,
    description TEXT,
    active {bool} NOT NULL,
    entity_id VARCHAR(36) NOT NULL REFERENCES entity_defs(id) ON DELETE CASCADE,
    definition {json} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX workflows_entity_idx ON workflows (tenant_id, entity_id, active);
CREATE TABLE workflow_runs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    workflow_id VARCHAR(36) NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    trigger_key VARCHAR(100) NOT NULL,
    record_id VARCHAR(36),
    status VARCHAR(16) NOT NULL,
    depth INTEGER NOT NULL,
    error TEXT,
    started_at {ts} NOT NULL,
    finished_at {ts},
    UNIQUE (workflow_id, trigger_key)
);
CREATE INDEX workflow_runs_idx ON workflow_runs (tenant_id, workflow_id, started_at);
CREATE TABLE workflow_steps (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    run_id VARCHAR(36) NOT NULL REFERENCES workflow_runs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    action VARCHAR(40) NOT NULL,
    status VARCHAR(16) NOT NULL,
    error TEXT,
    duration_ms BIGINT NOT NULL,
    started_at {ts} NOT NULL
);
CREATE INDEX workflow_steps_run_idx ON workflow_steps (tenant_id, run_id, position)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for t in ["workflows", "workflow_runs", "workflow_steps"] {
                ddl::run(manager, &rls_for_table(t, "SELECT, INSERT, UPDATE, DELETE")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE workflow_steps;\nDROP TABLE workflow_runs;\nDROP TABLE workflows").await
    }
}
