//! CSV imports: `imports` holds each import of a file into an entity — who started it (the
//! actor and the permissions the rows are written under), the column mapping, its status and
//! counts, and the resume cursor (`processed_rows`, `cursor_offset`: the file's byte offset
//! after the last committed batch), advanced in each batch's transaction; `import_errors` the
//! rows refused, by row and field, written in the same transactions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;
use crate::m20261204_000025_rls_empty_tenant::TENANT;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables this migration puts under row-level security.
pub const TABLES: [&str; 2] = ["imports", "import_errors"];

const UP: &str = r#"
CREATE TABLE imports (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL,
    created_by VARCHAR(36),
    status VARCHAR(16) NOT NULL,
    dry_run {bool} NOT NULL,
    run_workflows {bool} NOT NULL,
    upsert_by VARCHAR(63),
    file_name VARCHAR(255) NOT NULL,
    mapping {json} NOT NULL,
    actor {json} NOT NULL,
    permissions {json} NOT NULL,
    total_rows BIGINT NOT NULL,
    processed_rows BIGINT NOT NULL,
    created_count BIGINT NOT NULL,
    updated_count BIGINT NOT NULL,
    error_count BIGINT NOT NULL,
    cursor_offset BIGINT NOT NULL,
    message TEXT,
    heartbeat_at {ts},
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    finished_at {ts}
);
CREATE INDEX imports_tenant_created_idx ON imports (tenant_id, created_at);
CREATE INDEX imports_status_heartbeat_idx ON imports (status, heartbeat_at);
CREATE TABLE import_errors (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    import_id VARCHAR(36) NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
    row_no BIGINT NOT NULL,
    seq INTEGER NOT NULL,
    field VARCHAR(255),
    code VARCHAR(32) NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (import_id, row_no, seq)
)
"#;

const DOWN: &str = "DROP TABLE import_errors;
DROP TABLE imports";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for table in TABLES {
                ddl::run(manager, &rls_for_table(table, "SELECT, INSERT, UPDATE, DELETE")).await?;
                // An empty tenant setting is no tenant (migration 25).
                let policy = format!(
                    "ALTER POLICY {table}_tenant ON {table} USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
                );
                ddl::run(manager, &policy).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
