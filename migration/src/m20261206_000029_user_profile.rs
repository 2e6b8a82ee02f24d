//! A user's profile (`updateProfile`): their preferred language (a BCP-47 tag), IANA time zone
//! and avatar URL, each absent until the user sets it.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The profile's columns, added.
const ADD: &str = "ALTER TABLE users ADD COLUMN locale VARCHAR(35);
ALTER TABLE users ADD COLUMN time_zone VARCHAR(64);
ALTER TABLE users ADD COLUMN avatar VARCHAR(2048)";

/// The profile's columns, dropped again.
const DROP: &str = "ALTER TABLE users DROP COLUMN avatar;
ALTER TABLE users DROP COLUMN time_zone;
ALTER TABLE users DROP COLUMN locale";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, ADD).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DROP).await
    }
}
