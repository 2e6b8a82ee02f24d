//! `focus_rules`: a tenant's Daily Focus rules (`features::focus`). Each rule names an entity
//! (its `nameSingular`), a filter in the entity filter language that may use the focus
//! placeholders (`$today`, `$now`, `$me`…), an order, how many records it links, a title
//! template and an optional badge, for one role (`role_id`) or for every role (null). Read
//! with the tenant's definitions; under row-level security on PostgreSQL.

use sea_orm_migration::prelude::*;

use crate::ddl;
use crate::m20261204_000025_rls_empty_tenant::rls_for_new_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE focus_rules (
    id VARCHAR(36) PRIMARY KEY,
    tenant_id VARCHAR(36) NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    role_id VARCHAR(36) REFERENCES roles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    entity VARCHAR(63) NOT NULL,
    filter {json} NOT NULL,
    order_by {json} NOT NULL,
    max_records INTEGER NOT NULL,
    title TEXT NOT NULL,
    badge VARCHAR(40),
    created_at {ts} NOT NULL
);
CREATE INDEX focus_rules_by_tenant ON focus_rules (tenant_id, position)
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        ddl::run_on_postgres(manager, &rls_for_new_table("focus_rules", "SELECT, INSERT, UPDATE, DELETE"))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP TABLE focus_rules").await
    }
}
