//! `audit_heads.prev_hash`: the hash the head's latest entry follows. On PostgreSQL an audited
//! write advances the head and computes the new entry's hash in the statement that writes the
//! entry (`entity`'s `audit::append_with`), so the entry row takes both hashes from the head
//! the statement returns — the update's `RETURNING` shows only new values, hence this column.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE audit_heads ADD COLUMN prev_hash VARCHAR(64)").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE audit_heads DROP COLUMN prev_hash").await
    }
}
