//! Signing secrets of workflows: `call_webhook` requests are signed like integrator webhook
//! deliveries, with up to two active secrets (rotation), newest first. Existing workflows get
//! one fresh secret each (from the database's random source) so every request is signed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One secret per existing workflow, shaped as `[{"id", "secret"}]` like `webhooks.secrets`.
const BACKFILL_POSTGRES: &str = "UPDATE workflows SET secrets = jsonb_build_array(jsonb_build_object(\
    'id', gen_random_uuid()::text, 'secret', 'whsec_' || replace(gen_random_uuid()::text, '-', '') || \
    replace(gen_random_uuid()::text, '-', '')))";
const BACKFILL_SQLITE: &str = "UPDATE workflows SET secrets = '[{\"id\":\"' || lower(hex(randomblob(16))) || \
    '\",\"secret\":\"whsec_' || lower(hex(randomblob(32))) || '\"}]'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE workflows ADD COLUMN secrets {json} NOT NULL DEFAULT '[]'").await?;
        let backfill = match manager.get_database_backend() {
            DbBackend::Postgres => BACKFILL_POSTGRES,
            _ => BACKFILL_SQLITE,
        };
        ddl::run(manager, backfill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE workflows DROP COLUMN secrets").await
    }
}
