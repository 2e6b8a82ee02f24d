//! Indexes and statistics shaped by the queries the record store issues.
//!
//! - `records_live_order_idx (entity_id, created_at, id) WHERE deleted_at IS NULL`: a
//!   connection is ordered by its keys plus `id` in the direction of the last key, over the
//!   live records of one entity. The default orders `created_at ASC, id ASC` (NULLS LAST) and
//!   newest-first `created_at DESC, id DESC` (NULLS FIRST) are this index read forwards and
//!   backwards, so a page is an index walk that stops after `first + 1` rows — also when a
//!   filter is not selective: the planner can walk the order and test each row. The entity id
//!   leads because it implies the tenant (an entity belongs to one tenant). It replaces
//!   `records_list_idx (tenant_id, entity_id, created_at, id)`, which the planner passed over
//!   for lack of the statistics below.
//! - `records_tenant_id_idx (tenant_id, id)` goes: every lookup by id is answered by the
//!   primary key, and one index less is one less to maintain on each write.
//! - PostgreSQL: extended statistics on `(tenant_id, entity_id)`. The two columns are
//!   functionally dependent, and without them the planner multiplies their selectivities and
//!   expects about one row for any entity, which made it sort a whole entity instead of
//!   walking an index (and filter an entity's rows for a get by id).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE INDEX records_live_order_idx ON records (entity_id, created_at, id) WHERE deleted_at IS NULL;
DROP INDEX records_list_idx;
DROP INDEX records_tenant_id_idx
"#;

const PG_UP: &str = r#"
CREATE STATISTICS records_tenant_entity_stats (dependencies, ndistinct) ON tenant_id, entity_id FROM records;
ANALYZE records
"#;

const DOWN: &str = r#"
CREATE INDEX records_list_idx ON records (tenant_id, entity_id, created_at, id);
CREATE INDEX records_tenant_id_idx ON records (tenant_id, id);
DROP INDEX records_live_order_idx
"#;

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
        if manager.get_database_backend() == DbBackend::Postgres {
            ddl::run(manager, "DROP STATISTICS records_tenant_entity_stats").await?;
        }
        ddl::run(manager, DOWN).await
    }
}
