//! Exports run as jobs (`exportRecords`): one row per export — what was asked (entity, format,
//! filter, columns), who asked it (user, role, the audit actor), and how far the worker got
//! (status, rows written, the file under the data folder once done, or the error).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;
use crate::m20261204_000025_rls_empty_tenant::TENANT;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE export_jobs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity VARCHAR(63) NOT NULL,
    format VARCHAR(16) NOT NULL,
    filter {json},
    fields {json},
    user_id VARCHAR(36) NOT NULL,
    role_id VARCHAR(36) NOT NULL,
    actor {json} NOT NULL,
    status VARCHAR(16) NOT NULL,
    rows_written BIGINT NOT NULL,
    file_name VARCHAR(255),
    error TEXT,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    finished_at {ts}
);
CREATE INDEX export_jobs_tenant_idx ON export_jobs (tenant_id, created_at)
"#;

const DOWN: &str = "DROP TABLE export_jobs";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            ddl::run(manager, &rls_for_table("export_jobs", "SELECT, INSERT, UPDATE")).await?;
            // An empty tenant setting is no tenant (migration 25).
            let policy = format!(
                "ALTER POLICY export_jobs_tenant ON export_jobs USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
            );
            ddl::run(manager, &policy).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
