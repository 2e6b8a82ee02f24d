//! The email outbox: every email the platform sends, with its delivery state. An email is
//! written in the transaction of whatever caused it and delivered by a job; the idempotency
//! key makes a second request for the same email a no-op.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE emails (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    idempotency_key VARCHAR(200) NOT NULL,
    to_address VARCHAR(320) NOT NULL,
    subject VARCHAR(998) NOT NULL,
    body TEXT NOT NULL,
    status VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    message_id VARCHAR(300),
    created_at {ts} NOT NULL,
    sent_at {ts},
    UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX emails_status_idx ON emails (tenant_id, status, created_at)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            ddl::run(manager, &rls_for_table("emails", "SELECT, INSERT, UPDATE, DELETE")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE emails").await
    }
}
