//! TOTP two-factor sign-in: `users.totp_enabled` (read with the user at every login, so a user
//! without it costs nothing more), `user_totp` (the secret, sealed with the server key — never
//! stored in the clear — and the last time step a code was accepted for, so a code cannot be
//! replayed within its window; `enabled` false while enrolment awaits its first code), and
//! `totp_recovery_codes` (SHA-256 hashes of the single-use recovery codes, deleted as used).
//! Both tables under row-level security.

use sea_orm_migration::prelude::*;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE users ADD COLUMN totp_enabled {bool} NOT NULL DEFAULT FALSE;
CREATE TABLE user_totp (
    user_id VARCHAR(36) PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret TEXT NOT NULL,
    enabled {bool} NOT NULL DEFAULT FALSE,
    last_step BIGINT,
    created_at {ts} NOT NULL
);
CREATE TABLE totp_recovery_codes (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id VARCHAR(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash VARCHAR(64) NOT NULL,
    PRIMARY KEY (tenant_id, user_id, code_hash)
)
"#;

const DOWN: &str = "DROP TABLE totp_recovery_codes;
DROP TABLE user_totp;
ALTER TABLE users DROP COLUMN totp_enabled";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        let grants = "SELECT, INSERT, UPDATE, DELETE";
        ddl::run_on_postgres(manager, &rls_for_new_table("user_totp", grants)).await?;
        ddl::run_on_postgres(manager, &rls_for_new_table("totp_recovery_codes", grants)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
