//! `record_rollups`: counts and exact money sums per value of each SELECT field of an entity
//! (and of the entity as a whole), kept current by the record store in each write's
//! transaction, so group-bys over large entities read a few rows (see `entity`'s `rollups`).
//! Totals are `numeric` on PostgreSQL and integer minor units on SQLite. Under row-level
//! security like every tenant table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE record_rollups (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL REFERENCES entity_defs(id) ON DELETE CASCADE,
    group_key VARCHAR(64) NOT NULL,
    group_value TEXT NOT NULL,
    measure_key VARCHAR(64) NOT NULL,
    n BIGINT NOT NULL,
    total {total} NOT NULL,
    PRIMARY KEY (tenant_id, entity_id, group_key, group_value, measure_key)
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        ddl::run(manager, &UP.replace("{total}", if postgres { "NUMERIC" } else { "INTEGER" })).await?;
        if postgres {
            ddl::run(manager, &rls_for_table("record_rollups", "SELECT, INSERT, UPDATE, DELETE")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE record_rollups").await
    }
}
