//! Webhook deliveries are claimed before they are sent (`sending`, with the time), so two jobs
//! for one delivery post it once, and a claim abandoned by a dead worker is taken back after
//! the lease.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            "ALTER TABLE webhook_deliveries ADD COLUMN claimed_at {ts};\n\
             CREATE INDEX webhook_deliveries_claimed_idx ON webhook_deliveries (status, claimed_at)",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(
            manager,
            "DROP INDEX webhook_deliveries_claimed_idx;\nALTER TABLE webhook_deliveries DROP COLUMN claimed_at",
        )
        .await
    }
}
