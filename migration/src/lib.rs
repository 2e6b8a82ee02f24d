//! Schema migrations for the platform tables, on SQLite and PostgreSQL. One migration per file
//! (sea-orm-migration names a migration after its file). This crate never imports `entity`:
//! migrations describe the database as it was at each step, not as the code is today.

pub use sea_orm_migration::prelude::*;

mod ddl;
mod m20261121_000001_platform;
mod m20261121_000002_records;
mod m20261121_000003_access;
mod m20261121_000004_notifications;
mod m20261121_000005_leakproof;
mod m20261121_000006_emails;
mod m20261121_000007_workflows;
mod m20261121_000008_webhooks;
mod m20261121_000009_date_triggers;
mod m20261121_000010_approvals;
mod m20261121_000011_email_lease;
mod m20261121_000012_run_retries;
mod m20261121_000013_delivery_lease;
mod m20261121_000014_templates;
mod m20261121_000015_entity_labels;
mod m20261121_000016_step_attempts;
mod m20261202_000017_list_order;
mod m20261202_000018_rollups;
mod m20261203_000019_audit_prev;
mod m20261203_000020_field_containment;
mod m20261203_000021_reference_guard;
mod m20261203_000022_index_slots;
mod m20261203_000023_definitions_guard;
mod m20261203_000024_index_builds;
mod m20261204_000025_rls_empty_tenant;
mod m20261204_000026_workflow_secrets;
mod m20261204_000027_run_claims;
mod m20261204_000028_record_uuid;
mod m20261206_000029_user_profile;
mod m20261207_000030_password_resets;
mod m20261207_000031_oidc;
mod m20261207_000032_field_lifecycles;
mod m20261207_000033_field_formulas;
mod m20261207_000034_rollup_fields;
mod m20261207_000036_modules;
mod m20261207_000037_i18n;
mod m20261207_000038_totp;
mod m20261208_000039_export_jobs;
mod m20261208_000040_files;
mod m20261208_000041_search;
mod m20261208_000042_imports;
mod m20261208_000044_hardening;
mod m20261208_000045_gdpr;
mod m20261209_000046_tenant_export;
mod m20261209_000047_hierarchy;
mod m20261209_000048_uids;
mod m20261209_000049_stock;
mod m20261209_000050_mentions;
mod m20261209_000051_crm_roles;
mod m20261209_000052_ai;
mod m20261210_000053_confidence;
mod m20261210_000054_focus;
mod m20261210_000055_email_records;

pub use m20261121_000003_access::{APP_ROLE, TENANT_TABLES};

/// Every table under row-level security on PostgreSQL after all migrations (besides
/// `tenants`, whose rows are the tenants themselves).
pub fn rls_tables() -> Vec<&'static str> {
    let mut t = TENANT_TABLES.to_vec();
    t.extend([
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
        "modules",
        "password_resets",
        "user_totp",
        "totp_recovery_codes",
        "export_jobs",
        "subject_keys",
        "record_search",
    ]);
    t.extend(m20261207_000031_oidc::TABLES);
    t.extend(m20261208_000040_files::TABLES);
    t.extend(m20261208_000042_imports::TABLES);
    t.extend(m20261209_000047_hierarchy::TABLES);
    t.extend(m20261209_000052_ai::TABLES);
    t.extend(m20261210_000053_confidence::TABLES);
    t
}

/// All migrations, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_platform::Migration),
            Box::new(m20261121_000002_records::Migration),
            Box::new(m20261121_000003_access::Migration),
            Box::new(m20261121_000004_notifications::Migration),
            Box::new(m20261121_000005_leakproof::Migration),
            Box::new(m20261121_000006_emails::Migration),
            Box::new(m20261121_000007_workflows::Migration),
            Box::new(m20261121_000008_webhooks::Migration),
            Box::new(m20261121_000009_date_triggers::Migration),
            Box::new(m20261121_000010_approvals::Migration),
            Box::new(m20261121_000011_email_lease::Migration),
            Box::new(m20261121_000012_run_retries::Migration),
            Box::new(m20261121_000013_delivery_lease::Migration),
            Box::new(m20261121_000014_templates::Migration),
            Box::new(m20261121_000015_entity_labels::Migration),
            Box::new(m20261121_000016_step_attempts::Migration),
            Box::new(m20261202_000017_list_order::Migration),
            Box::new(m20261202_000018_rollups::Migration),
            Box::new(m20261203_000019_audit_prev::Migration),
            Box::new(m20261203_000020_field_containment::Migration),
            Box::new(m20261203_000021_reference_guard::Migration),
            Box::new(m20261203_000022_index_slots::Migration),
            Box::new(m20261203_000023_definitions_guard::Migration),
            Box::new(m20261203_000024_index_builds::Migration),
            Box::new(m20261204_000025_rls_empty_tenant::Migration),
            Box::new(m20261204_000026_workflow_secrets::Migration),
            Box::new(m20261204_000027_run_claims::Migration),
            Box::new(m20261204_000028_record_uuid::Migration),
            Box::new(m20261206_000029_user_profile::Migration),
            Box::new(m20261207_000030_password_resets::Migration),
            Box::new(m20261207_000031_oidc::Migration),
            Box::new(m20261207_000032_field_lifecycles::Migration),
            Box::new(m20261207_000033_field_formulas::Migration),
            Box::new(m20261207_000034_rollup_fields::Migration),
            Box::new(m20261207_000036_modules::Migration),
            Box::new(m20261207_000037_i18n::Migration),
            Box::new(m20261207_000038_totp::Migration),
            Box::new(m20261208_000039_export_jobs::Migration),
            Box::new(m20261208_000040_files::Migration),
            Box::new(m20261208_000041_search::Migration),
            Box::new(m20261208_000042_imports::Migration),
            Box::new(m20261208_000044_hardening::Migration),
            Box::new(m20261208_000045_gdpr::Migration),
            Box::new(m20261209_000046_tenant_export::Migration),
            Box::new(m20261209_000047_hierarchy::Migration),
            Box::new(m20261209_000048_uids::Migration),
            Box::new(m20261209_000049_stock::Migration),
            Box::new(m20261209_000050_mentions::Migration),
            Box::new(m20261209_000051_crm_roles::Migration),
            Box::new(m20261209_000052_ai::Migration),
            Box::new(m20261210_000053_confidence::Migration),
            Box::new(m20261210_000054_focus::Migration),
            Box::new(m20261210_000055_email_records::Migration),
        ]
    }
}
