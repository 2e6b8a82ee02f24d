//! Platform tables: tenants, roles, users, sessions, entity and field definitions, record
//! counters and the change-event outbox.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE tenants (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    slug VARCHAR(63) NOT NULL UNIQUE,
    time_zone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    metadata_version BIGINT NOT NULL DEFAULT 1,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE TABLE roles (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    description TEXT,
    permissions {json} NOT NULL,
    is_system {bool} NOT NULL DEFAULT FALSE,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE TABLE users (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    email VARCHAR(320) NOT NULL,
    name VARCHAR(200),
    password_hash TEXT NOT NULL,
    role_id VARCHAR(36) NOT NULL REFERENCES roles(id),
    is_active {bool} NOT NULL DEFAULT TRUE,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    UNIQUE (tenant_id, email)
);
CREATE TABLE sessions (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id VARCHAR(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    refresh_hash VARCHAR(64) NOT NULL UNIQUE,
    previous_refresh_hash VARCHAR(64),
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    revoked_at {ts}
);
CREATE INDEX sessions_user_idx ON sessions (tenant_id, user_id);
CREATE INDEX sessions_previous_refresh_idx ON sessions (previous_refresh_hash);
CREATE TABLE entity_defs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name_singular VARCHAR(63) NOT NULL,
    name_plural VARCHAR(63) NOT NULL,
    label_singular VARCHAR(200) NOT NULL,
    label_plural VARCHAR(200) NOT NULL,
    icon VARCHAR(100),
    record_number_prefix VARCHAR(16),
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    UNIQUE (tenant_id, name_singular),
    UNIQUE (tenant_id, name_plural)
);
CREATE TABLE field_defs (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL REFERENCES entity_defs(id) ON DELETE CASCADE,
    key VARCHAR(63) NOT NULL,
    label VARCHAR(200) NOT NULL,
    field_type VARCHAR(20) NOT NULL,
    required {bool} NOT NULL DEFAULT FALSE,
    is_unique {bool} NOT NULL DEFAULT FALSE,
    indexed {bool} NOT NULL DEFAULT FALSE,
    options {json},
    related_entity_id VARCHAR(36) REFERENCES entity_defs(id),
    relation_kind VARCHAR(20),
    default_value {json},
    validation {json},
    labels {json},
    position INTEGER NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    UNIQUE (entity_id, key)
);
CREATE INDEX field_defs_tenant_idx ON field_defs (tenant_id);
CREATE TABLE record_counters (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL REFERENCES entity_defs(id) ON DELETE CASCADE,
    value BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, entity_id)
);
CREATE TABLE outbox (
    id {serial},
    tenant_id VARCHAR(36) NOT NULL,
    topic VARCHAR(100) NOT NULL,
    payload {json} NOT NULL,
    created_at {ts} NOT NULL,
    dispatched_at {ts}
);
CREATE INDEX outbox_pending_idx ON outbox (dispatched_at, id)
"#;

const DOWN: &str = r#"
DROP TABLE outbox;
DROP TABLE record_counters;
DROP TABLE field_defs;
DROP TABLE entity_defs;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE roles;
DROP TABLE tenants
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
