//! GDPR: `field_defs.personal` (a field holding personal data: its values in audit entries are
//! sealed under a per-subject key, and erasure clears it), `subject_keys` (one data key per
//! subject record, itself sealed with the server key; deleting the row crypto-shreds every
//! audit value sealed under it), and the tenant's scheduled deletion (`tenants.deletion_*`:
//! requested, due after the grace period, cancellable until then; `purging` is set only by the
//! deletion itself, in its transaction, and is the one state in which the audit trail's guard
//! lets the tenant's entries be deleted — the guard stays as strict for every other tenant).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE field_defs ADD COLUMN personal {bool} NOT NULL DEFAULT FALSE;
CREATE TABLE subject_keys (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    subject_id VARCHAR(36) NOT NULL,
    sealed_key TEXT NOT NULL,
    created_at {ts} NOT NULL,
    UNIQUE (tenant_id, subject_id)
);
ALTER TABLE tenants ADD COLUMN deletion_requested_at {ts};
ALTER TABLE tenants ADD COLUMN deletion_due_at {ts};
ALTER TABLE tenants ADD COLUMN deletion_requested_by VARCHAR(36);
ALTER TABLE tenants ADD COLUMN purging {bool} NOT NULL DEFAULT FALSE
"#;

/// A guard of another name replaces migration 3's: SQLite refuses to create a trigger under
/// the name of one dropped earlier in the same migration.
const SQLITE_GUARD: &str = r#"
CREATE TRIGGER audit_log_guard_delete BEFORE DELETE ON audit_log WHEN NOT EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id AND purging) BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
DROP TRIGGER audit_log_no_delete
"#;

const PG_GUARD: &str = r#"
CREATE OR REPLACE FUNCTION alphery_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM tenants WHERE id = OLD.tenant_id AND purging) THEN RETURN OLD; END IF; RAISE EXCEPTION 'audit_log is append-only'; END $$
"#;

const SQLITE_GUARD_BEFORE: &str = r#"
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
DROP TRIGGER audit_log_guard_delete
"#;

const PG_GUARD_BEFORE: &str = r#"
CREATE OR REPLACE FUNCTION alphery_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$
"#;

const DOWN: &str = "ALTER TABLE tenants DROP COLUMN purging;
ALTER TABLE tenants DROP COLUMN deletion_requested_by;
ALTER TABLE tenants DROP COLUMN deletion_due_at;
ALTER TABLE tenants DROP COLUMN deletion_requested_at;
DROP TABLE subject_keys;
ALTER TABLE field_defs DROP COLUMN personal";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            ddl::run(manager, PG_GUARD).await?;
            ddl::run(manager, &rls_for_new_table("subject_keys", "SELECT, INSERT, DELETE")).await
        } else {
            ddl::run(manager, SQLITE_GUARD).await
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            ddl::run(manager, PG_GUARD_BEFORE).await?;
        } else {
            ddl::run(manager, SQLITE_GUARD_BEFORE).await?;
        }
        ddl::run(manager, DOWN).await
    }
}
