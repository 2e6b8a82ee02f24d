//! PostgreSQL only: `alphery_require_current_definitions(ok)`, which returns true when `ok` is
//! and otherwise fails its statement with SQLSTATE `AL002`. A record's INSERT checks with it
//! that the tenant's metadata version is still the one its values were checked against, and
//! holds the tenant row `FOR SHARE` until it commits (`entity`'s `sql::push_definitions_guard`).
//! A definition change updates that row before it writes index-slot keys into the entity's
//! records, so it waits for such a write, and sees its record; a write that waited for the
//! change finds a new version and is retried with fresh definitions. Without it a create checked
//! against definitions from before a field was indexed could commit without the field's slot key.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const FUNCTION: &str = "alphery_require_current_definitions";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(
            manager,
            &ddl::guard_function(FUNCTION, "the tenant's definitions changed during the write", "AL002"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, &format!("DROP FUNCTION IF EXISTS {FUNCTION}(boolean)")).await
    }
}
