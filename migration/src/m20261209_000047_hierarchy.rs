//! Hierarchy scopes (issue 16.1): `user_attributes` (the key → value attributes an
//! administrator sets on a user — company, plant, region… — one JSON document per user, read
//! with the user's credential in the same statement), `field_defs.hierarchy` (a RELATION field
//! that links a record to its parent in the tenant's hierarchy: plant.company, department.plant)
//! and `record_closure` (every (ancestor, descendant) pair of those links with its depth,
//! kept in each write's transaction; `within` rules probe it by ancestor and descendant).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

/// The tenant tables this migration creates (all under row-level security).
pub const TABLES: [&str; 2] = ["user_attributes", "record_closure"];

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE user_attributes (
    user_id VARCHAR(36) NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    attributes {json} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX user_attributes_tenant ON user_attributes (tenant_id);
ALTER TABLE field_defs ADD COLUMN hierarchy {bool} NOT NULL DEFAULT FALSE;
CREATE TABLE record_closure (
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    ancestor_id VARCHAR(36) NOT NULL,
    descendant_id VARCHAR(36) NOT NULL,
    depth INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, ancestor_id, descendant_id)
);
CREATE INDEX record_closure_descendant ON record_closure (tenant_id, descendant_id)
"#;

const DOWN: &str = "DROP TABLE record_closure;
ALTER TABLE field_defs DROP COLUMN hierarchy;
DROP TABLE user_attributes";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // PostgreSQL: both tables under row-level security, in the same script.
        let rls: String = match manager.get_database_backend() {
            DbBackend::Postgres => {
                TABLES.iter().map(|t| rls_for_new_table(t, "SELECT, INSERT, UPDATE, DELETE")).collect()
            }
            _ => String::new(),
        };
        ddl::run(manager, &format!("{UP};\n{rls}")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
