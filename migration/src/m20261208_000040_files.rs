//! The document vault: `files`, one row per uploaded file of a tenant — its name, content type,
//! size and SHA-256 (the blob itself lives in the file store under that hash, outside the
//! database), who uploaded it, and what it belongs to once attached: a record (`entity_id`,
//! `record_id`) and, for a FILE field's value, the field (`field_key`; NULL for a generic
//! attachment). `deleted_at` marks a deleted file (or one whose record was deleted: the record's
//! delete sets it in its transaction). Under row-level security on PostgreSQL.

use sea_orm_migration::prelude::*;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table this migration creates under row-level security.
pub const TABLES: [&str; 1] = ["files"];

const UP: &str = r#"
CREATE TABLE files (
    id VARCHAR(36) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36),
    record_id VARCHAR(36),
    field_key VARCHAR(64),
    name TEXT NOT NULL,
    content_type VARCHAR(255) NOT NULL,
    size BIGINT NOT NULL,
    sha256 VARCHAR(64) NOT NULL,
    uploaded_by VARCHAR(36),
    created_at {ts} NOT NULL,
    deleted_at {ts}
);
CREATE INDEX files_by_record ON files (tenant_id, record_id)
"#;

const DOWN: &str = "DROP TABLE files";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        ddl::run_on_postgres(manager, &rls_for_new_table("files", "SELECT, INSERT, UPDATE, DELETE")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
