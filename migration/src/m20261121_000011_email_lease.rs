//! When an email was claimed for delivery: a claim older than the lease belongs to a worker
//! that died mid-delivery, and the email goes back to the queue.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE emails ADD COLUMN claimed_at {ts};\nCREATE INDEX emails_claimed_idx ON emails (status, claimed_at)").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "DROP INDEX emails_claimed_idx;\nALTER TABLE emails DROP COLUMN claimed_at").await
    }
}
