//! UID fields (`entity::runtime::uid`): `uid_counters`, the last sequence number given out
//! per (tenant, entity, field, scope) — a scope is the UID with everything but its sequence
//! filled in, so a pattern with date parts or a plant's code counts per month or per plant —
//! advanced by one UPSERT … RETURNING in the create's transaction; and `record_uids`, every
//! UID given out, whose primary key (tenant, uid) keeps UIDs unique per tenant and finds the
//! record of a UID (`traceUp`, `traceDown`). A UID is never reused: its row stays when its
//! record is deleted, and goes with its entity.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `{id}`: the type of `records.id` (a `uuid` on PostgreSQL, migration 28).
const UP: &str = "CREATE TABLE uid_counters (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL,
    field_id VARCHAR(36) NOT NULL,
    scope VARCHAR(200) NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, entity_id, field_id, scope)
);
CREATE TABLE record_uids (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    uid VARCHAR(200) NOT NULL,
    entity_id VARCHAR(36) NOT NULL,
    field_id VARCHAR(36) NOT NULL,
    record_id {id} NOT NULL,
    PRIMARY KEY (tenant_id, uid)
);
CREATE INDEX record_uids_record ON record_uids (tenant_id, record_id)";

const DOWN: &str = "DROP TABLE record_uids;
DROP TABLE uid_counters";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        ddl::run(manager, &UP.replace("{id}", if postgres { "UUID" } else { "VARCHAR(36)" })).await?;
        if postgres {
            ddl::run(manager, &rls_for_new_table("uid_counters", "SELECT, INSERT, UPDATE, DELETE")).await?;
            ddl::run(manager, &rls_for_new_table("record_uids", "SELECT, INSERT, DELETE")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
