//! Stock: `entity_defs.stock` (an entity's stock configuration — a movement entity's ledger,
//! a bill-of-materials line, a production order; see `entity::runtime::stock`), absent for
//! every other entity, and `stock_balances`: the quantity on hand of one item in one warehouse,
//! in millionths of a unit (exact on both databases), kept by the record store in each
//! movement's transaction. Under row-level security like every tenant table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE entity_defs ADD COLUMN stock {json};
CREATE TABLE stock_balances (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    item_id VARCHAR(36) NOT NULL,
    warehouse_id VARCHAR(36) NOT NULL,
    quantity BIGINT NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, item_id, warehouse_id)
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            ddl::run(manager, &rls_for_new_table("stock_balances", "SELECT, INSERT, UPDATE, DELETE")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE stock_balances;\nALTER TABLE entity_defs DROP COLUMN stock").await
    }
}
