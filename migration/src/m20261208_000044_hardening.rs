//! Issue 15's hardening of users and modules: wrong two-factor codes counted per user
//! (`user_totp.failed_codes` since `failed_since`), in the database so a lockout holds across
//! instances; each OpenID Connect provider's allow-list of redirect URIs
//! (`oidc_providers.redirect_uris`, a JSON array: a login may only come back to one of them);
//! and a module's description and translated labels (`modules.description`, `modules.labels`:
//! language code → label).

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = "ALTER TABLE user_totp ADD COLUMN failed_codes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_totp ADD COLUMN failed_since {ts};
ALTER TABLE oidc_providers ADD COLUMN redirect_uris {json} NOT NULL DEFAULT '[]';
ALTER TABLE modules ADD COLUMN description TEXT;
ALTER TABLE modules ADD COLUMN labels {json}";

const DOWN: &str = "ALTER TABLE modules DROP COLUMN labels;
ALTER TABLE modules DROP COLUMN description;
ALTER TABLE oidc_providers DROP COLUMN redirect_uris;
ALTER TABLE user_totp DROP COLUMN failed_since;
ALTER TABLE user_totp DROP COLUMN failed_codes";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, DOWN).await
    }
}
