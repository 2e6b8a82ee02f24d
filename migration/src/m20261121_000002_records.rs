//! The `records` table: every tenant record of every runtime entity, its values in one JSON
//! column (so new fields need no DDL). PostgreSQL adds a GIN index over the values.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE records (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    entity_id VARCHAR(36) NOT NULL REFERENCES entity_defs(id) ON DELETE CASCADE,
    data {json} NOT NULL,
    owner_id VARCHAR(36),
    created_by VARCHAR(36),
    number BIGINT,
    record_number VARCHAR(40),
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    deleted_at {ts},
    version BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX records_list_idx ON records (tenant_id, entity_id, created_at, id);
CREATE INDEX records_tenant_id_idx ON records (tenant_id, id);
CREATE INDEX records_number_idx ON records (tenant_id, entity_id, number)
"#;

const PG_UP: &str = "CREATE INDEX records_data_gin ON records USING GIN (data jsonb_path_ops)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            ddl::run(manager, PG_UP).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE records").await
    }
}
