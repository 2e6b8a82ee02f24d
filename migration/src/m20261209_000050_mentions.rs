//! @mentions: `field_defs.mentions`, a TEXT or TEXTAREA field whose `@name` and `@email` words
//! notify the tenant users they name when a write adds them (`entity::runtime::mentions`).
//! A flag on the field, read with the tenant's definitions: a tenant with no such field pays
//! nothing on its writes.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE field_defs ADD COLUMN mentions {bool} NOT NULL DEFAULT FALSE").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, "ALTER TABLE field_defs DROP COLUMN mentions").await
    }
}
