//! Multi-stage approvals: policies per entity (stages with approver role, condition, SLA and
//! escalation role), one request per submission of a record with its state machine, and the
//! decisions taken on it (append-only; the audit trail holds them too).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE approval_policies (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL,
    name VARCHAR(200) NOT NULL,
    definition {json} NOT NULL,
    active {bool} NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX approval_policies_idx ON approval_policies (tenant_id, entity_id);
CREATE TABLE approval_requests (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    policy_id VARCHAR(36) NOT NULL REFERENCES approval_policies(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL,
    record_id VARCHAR(36) NOT NULL,
    state VARCHAR(32) NOT NULL,
    stage INTEGER,
    stage_due_at {ts},
    escalated {bool} NOT NULL,
    requested_by VARCHAR(36),
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX approval_requests_record_idx ON approval_requests (tenant_id, record_id);
CREATE INDEX approval_requests_due_idx ON approval_requests (state, escalated, stage_due_at);
CREATE TABLE approval_decisions (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    request_id VARCHAR(36) NOT NULL REFERENCES approval_requests(id) ON DELETE CASCADE,
    stage INTEGER,
    action VARCHAR(32) NOT NULL,
    from_state VARCHAR(32) NOT NULL,
    to_state VARCHAR(32) NOT NULL,
    comment TEXT,
    decided_by VARCHAR(36),
    decided_at {ts} NOT NULL
);
CREATE INDEX approval_decisions_idx ON approval_decisions (tenant_id, request_id, decided_at)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for t in ["approval_policies", "approval_requests"] {
                ddl::run(manager, &rls_for_table(t, "SELECT, INSERT, UPDATE, DELETE")).await?;
            }
            // Decisions are history: the application may add them, never change them.
            ddl::run(manager, &rls_for_table("approval_decisions", "SELECT, INSERT")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            "DROP TABLE approval_decisions;\nDROP TABLE approval_requests;\nDROP TABLE approval_policies",
        )
        .await
    }
}
