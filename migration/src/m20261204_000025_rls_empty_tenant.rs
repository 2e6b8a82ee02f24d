//! PostgreSQL only: the row-level security policies of the application role read the tenant
//! setting as `NULLIF(current_setting('app.tenant_id', true), '')`, so an empty setting is
//! exactly an unset one. A custom setting, once set in a session (a transaction-local
//! `set_config` included), reads back as `''` rather than NULL after it ends; the policies of
//! migration 3 compared `tenant_id = ''`, which a row with an empty `tenant_id` (tables such as
//! `audit_heads` or `audit_log` have no foreign key to refuse one) would pass, for reading and
//! for `WITH CHECK` alike. With NULLIF the comparison is NULL: no row is visible and no row is
//! accepted, as with no setting at all.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tenant a policy compares with: NULL when the setting is unset or empty.
pub(crate) const TENANT: &str = "NULLIF(current_setting('app.tenant_id', true), '')";
/// The tenant as migration 3 read it.
const TENANT_BEFORE: &str = "current_setting('app.tenant_id', true)";

/// The tables with a `<table>_tenant` policy at this step (a migration describes the database
/// as it was: tables added later bring their own policies).
const TABLES: &[&str] = &[
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
    "notifications",
    "emails",
    "workflows",
    "workflow_runs",
    "workflow_steps",
    "webhooks",
    "webhook_deliveries",
    "approval_policies",
    "approval_requests",
    "approval_decisions",
    "tenant_templates",
    "dashboards",
    "record_rollups",
];

/// `ALTER POLICY` statements giving every tenant policy `tenant` as the current tenant.
fn policies(tenant: &str) -> String {
    let mut s = format!(
        "ALTER POLICY tenants_insert ON tenants WITH CHECK (id = {tenant});\n\
         ALTER POLICY tenants_update ON tenants USING (id = {tenant}) WITH CHECK (id = {tenant});\n"
    );
    for t in TABLES {
        s.push_str(&format!(
            "ALTER POLICY {t}_tenant ON {t} USING (tenant_id = {tenant}) WITH CHECK (tenant_id = {tenant});\n"
        ));
    }
    s
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, &policies(TENANT)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, &policies(TENANT_BEFORE)).await
    }
}
