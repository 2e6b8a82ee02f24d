//! `password_resets`: one-time tokens of `requestPasswordReset`, stored as SHA-256 hashes with
//! their expiry and the moment they were used (a used token is kept, so presenting it again
//! says "already used" rather than "unknown"). A new request deletes the user's older unused
//! ones. Under row-level security like every tenant table.

use sea_orm_migration::prelude::*;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE password_resets (
    id VARCHAR(36) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id VARCHAR(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash VARCHAR(64) NOT NULL UNIQUE,
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    used_at {ts}
);
CREATE INDEX password_resets_user_idx ON password_resets (tenant_id, user_id)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        ddl::run_on_postgres(manager, &rls_for_new_table("password_resets", "SELECT, INSERT, UPDATE, DELETE"))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE password_resets").await
    }
}
