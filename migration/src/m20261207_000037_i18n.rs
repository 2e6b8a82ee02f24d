//! Translations beyond entity and field labels: a SELECT / MULTI_SELECT field's option labels
//! (`{"Open": {"hi": "खुला"}}`) and the tenant's default language, the last fallback before
//! the base (English) label when a request names no language and its user has no locale.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ADD: &str = "ALTER TABLE field_defs ADD COLUMN option_labels {json};
ALTER TABLE tenants ADD COLUMN default_language VARCHAR(35)";

const DROP: &str = "ALTER TABLE tenants DROP COLUMN default_language;
ALTER TABLE field_defs DROP COLUMN option_labels";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, ADD).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DROP).await
    }
}
