//! Industry templates and dashboards: which templates a tenant applied (with the template as
//! it was, the base of a three-way upgrade), and the tenant's dashboards (widgets as JSON).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE tenant_templates (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slug VARCHAR(63) NOT NULL,
    version BIGINT NOT NULL,
    snapshot {json} NOT NULL,
    applied_at {ts} NOT NULL,
    PRIMARY KEY (tenant_id, slug)
);
CREATE TABLE dashboards (
    id VARCHAR(36) NOT NULL PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key VARCHAR(63) NOT NULL,
    name {json} NOT NULL,
    roles {json} NOT NULL,
    widgets {json} NOT NULL,
    template VARCHAR(63),
    position INTEGER NOT NULL,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL,
    UNIQUE (tenant_id, key)
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for t in ["tenant_templates", "dashboards"] {
                ddl::run(manager, &rls_for_table(t, "SELECT, INSERT, UPDATE, DELETE")).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE dashboards;\nDROP TABLE tenant_templates").await
    }
}
