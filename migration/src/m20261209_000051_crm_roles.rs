//! `crm_roles`: per tenant, which of its entities plays the CRM's pipeline, lead, account,
//! contact and activity, which field is the pipeline's stage and which values mean won, lost
//! and converted (`runtime::crm_roles`). One row per tenant, the roles as one JSON document,
//! read with the tenant's definitions; a tenant without a row has the corporate CRM's names.

use sea_orm_migration::prelude::*;

use crate::ddl;
use crate::m20261121_000003_access::rls_for_table;
use crate::m20261204_000025_rls_empty_tenant::TENANT;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE crm_roles (
    tenant_id VARCHAR(36) NOT NULL PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    roles {json} NOT NULL,
    updated_at {ts} NOT NULL
)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        // Row-level security on PostgreSQL, an empty tenant setting being no tenant (migration 25).
        let policy = format!(
            "ALTER POLICY crm_roles_tenant ON crm_roles USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT})"
        );
        let rls = rls_for_table("crm_roles", "SELECT, INSERT, UPDATE, DELETE") + &policy;
        ddl::run_on_postgres(manager, &rls).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE crm_roles").await
    }
}
