//! PostgreSQL only: `alphery_require_references(ok)`, which returns true when `ok` is and
//! otherwise fails its statement with SQLSTATE `AL001`. A create checks its relation targets in
//! its own INSERT with it (`entity`'s `sql::push_reference_guard`) instead of looking them up
//! first, which saved a round trip per create; a failed check makes the server check step by
//! step to name the field.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

// One line: `ddl::run` splits scripts at semicolons that end a line.
const UP: &str = "CREATE OR REPLACE FUNCTION alphery_require_references(ok boolean) RETURNS boolean \
    LANGUAGE plpgsql AS $$ BEGIN IF ok IS NOT TRUE THEN \
    RAISE EXCEPTION 'a referenced record does not exist' USING ERRCODE = 'AL001'; \
    END IF; RETURN true; END $$";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, "DROP FUNCTION IF EXISTS alphery_require_references(boolean)").await
    }
}
