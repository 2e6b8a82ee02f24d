//! Access control and the audit trail: API keys, user invitations, retired refresh tokens
//! (reuse of any rotated token revokes its session), the append-only audit log
//! with its per-tenant chain heads, and on PostgreSQL row-level security on every tenant table
//! for the application role `alphery_app` (neither owner nor BYPASSRLS). The migrating user
//! (the owner, used by migrations and the cross-tenant outbox dispatcher) keeps a policy of
//! its own, because FORCE ROW LEVEL SECURITY applies to owners too.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The role the server's tenant traffic runs as on PostgreSQL.
pub const APP_ROLE: &str = "alphery_app";

/// Tables whose rows belong to one tenant (`tenant_id`).
pub const TENANT_TABLES: &[&str] = &[
    "roles",
    "users",
    "sessions",
    "entity_defs",
    "field_defs",
    "record_counters",
    "records",
    "outbox",
    "api_keys",
    "audit_log",
    "audit_heads",
    "retired_refresh_tokens",
];

const UP: &str = r#"
CREATE TABLE api_keys (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name VARCHAR(200) NOT NULL,
    role_id VARCHAR(36) NOT NULL REFERENCES roles(id),
    key_hash VARCHAR(64) NOT NULL UNIQUE,
    key_prefix VARCHAR(16) NOT NULL,
    created_by VARCHAR(36),
    created_at {ts} NOT NULL,
    last_used_at {ts},
    revoked_at {ts}
);
CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id);
CREATE TABLE retired_refresh_tokens (
    hash VARCHAR(64) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_id VARCHAR(36) NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    retired_at {ts} NOT NULL
);
ALTER TABLE users ADD COLUMN invite_hash VARCHAR(64);
ALTER TABLE users ADD COLUMN invite_expires_at {ts};
CREATE INDEX users_invite_idx ON users (invite_hash);
CREATE TABLE audit_heads (
    tenant_id VARCHAR(36) NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash VARCHAR(64) NOT NULL
);
CREATE TABLE audit_log (
    id {serial},
    tenant_id VARCHAR(36) NOT NULL,
    seq BIGINT NOT NULL,
    at {ts} NOT NULL,
    actor_user_id VARCHAR(36),
    actor_api_key_id VARCHAR(36),
    request_id VARCHAR(64),
    action VARCHAR(64) NOT NULL,
    object_type VARCHAR(64) NOT NULL,
    object_id VARCHAR(64),
    changes {json} NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    UNIQUE (tenant_id, seq)
);
CREATE INDEX audit_log_object_idx ON audit_log (tenant_id, object_type, object_id)
"#;

const SQLITE_GUARDS: &str = r#"
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
"#;

const PG_GUARDS: &str = r#"
CREATE OR REPLACE FUNCTION alphery_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION alphery_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION alphery_audit_append_only()
"#;

/// Row-level security for one tenant table: ENABLE + FORCE, the app role's tenant policy
/// (`USING` and `WITH CHECK` on `app.tenant_id`), the migrating user's system policy, grants.
pub fn rls_for_table(table: &str, grants: &str) -> String {
    let tenant = "current_setting('app.tenant_id', true)";
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
         GRANT {grants} ON {table} TO {APP_ROLE};\n\
         CREATE POLICY {table}_tenant ON {table} TO {APP_ROLE} USING (tenant_id = {tenant}) WITH CHECK (tenant_id = {tenant});\n\
         DO $$ BEGIN EXECUTE format('CREATE POLICY {table}_system ON {table} TO %I USING (true) WITH CHECK (true)', current_user); END $$;\n"
    )
}

/// Row-level security statements for PostgreSQL.
fn rls_script() -> String {
    let tenant = "current_setting('app.tenant_id', true)";
    let mut s = format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN \
         CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; END IF; END $$;\n\
         DO $$ BEGIN EXECUTE format('GRANT {APP_ROLE} TO %I', current_user); END $$;\n\
         GRANT USAGE ON SCHEMA public TO {APP_ROLE};\n\
         GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE};\n\
         ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;\n\
         ALTER TABLE tenants FORCE ROW LEVEL SECURITY;\n\
         GRANT SELECT, INSERT, UPDATE ON tenants TO {APP_ROLE};\n\
         CREATE POLICY tenants_read ON tenants FOR SELECT TO {APP_ROLE} USING (true);\n\
         CREATE POLICY tenants_insert ON tenants FOR INSERT TO {APP_ROLE} WITH CHECK (id = {tenant});\n\
         CREATE POLICY tenants_update ON tenants FOR UPDATE TO {APP_ROLE} USING (id = {tenant}) WITH CHECK (id = {tenant});\n\
         DO $$ BEGIN EXECUTE format('CREATE POLICY tenants_system ON tenants TO %I USING (true) WITH CHECK (true)', current_user); END $$;\n"
    );
    for t in TENANT_TABLES {
        let grants = if *t == "audit_log" { "SELECT, INSERT" } else { "SELECT, INSERT, UPDATE, DELETE" };
        s.push_str(&rls_for_table(t, grants));
    }
    s
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                ddl::run(manager, PG_GUARDS).await?;
                ddl::run(manager, &rls_script()).await?;
            }
            _ => ddl::run(manager, SQLITE_GUARDS).await?,
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let conn = manager.get_connection();
        if conn.get_database_backend() == DbBackend::Postgres {
            for t in TENANT_TABLES.iter().chain(&["tenants"]) {
                conn.execute_unprepared(&format!("ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY")).await?;
                conn.execute_unprepared(&format!("ALTER TABLE {t} DISABLE ROW LEVEL SECURITY")).await?;
            }
        }
        ddl::run(manager, "DROP TABLE audit_log;\nDROP TABLE audit_heads;\nDROP TABLE retired_refresh_tokens;\nDROP TABLE api_keys")
            .await
    }
}
