//! PostgreSQL only: `alphery_require_references(ok)`, which returns true when `ok` is and
//! otherwise fails its statement with SQLSTATE `AL001`. A create checks its relation targets in
//! its own INSERT with it (`entity`'s `sql::push_reference_guard`) instead of looking them up
//! first, which saved a round trip per create; a failed check makes the server check step by
//! step to name the field.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const FUNCTION: &str = "alphery_require_references";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(
            manager,
            &ddl::guard_function(FUNCTION, "a referenced record does not exist", "AL001"),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, &format!("DROP FUNCTION IF EXISTS {FUNCTION}(boolean)")).await
    }
}
