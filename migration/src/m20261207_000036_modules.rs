//! Modules per tenant: named groups of a tenant's entities, workflows and dashboards ("CRM",
//! "Inventory") that an administrator switches on and off without losing data. `modules` holds
//! each group (its members by id, as JSON arrays) and whether it is on; each member table gets a
//! `switched_off` flag, kept by the modules feature in the switch's transaction, so the engine,
//! the workflow runner and the dashboards read one column of their own instead of the groups.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;
use crate::m20261204_000025_rls_empty_tenant::TENANT;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE modules (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key VARCHAR(63) NOT NULL,
    label VARCHAR(255) NOT NULL,
    enabled {bool} NOT NULL,
    entities {json} NOT NULL,
    workflows {json} NOT NULL,
    dashboards {json} NOT NULL,
    template VARCHAR(63),
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    UNIQUE (tenant_id, key)
);
ALTER TABLE entity_defs ADD COLUMN switched_off {bool} NOT NULL DEFAULT FALSE;
ALTER TABLE workflows ADD COLUMN switched_off {bool} NOT NULL DEFAULT FALSE;
ALTER TABLE dashboards ADD COLUMN switched_off {bool} NOT NULL DEFAULT FALSE
"#;

const DOWN: &str = "ALTER TABLE dashboards DROP COLUMN switched_off;
ALTER TABLE workflows DROP COLUMN switched_off;
ALTER TABLE entity_defs DROP COLUMN switched_off;
DROP TABLE modules";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            ddl::run(manager, &rls_for_table("modules", "SELECT, INSERT, UPDATE, DELETE")).await?;
            // An empty tenant setting is no tenant (migration 25).
            let policy = format!(
                "ALTER POLICY modules_tenant ON modules USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
            );
            ddl::run(manager, &policy).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
