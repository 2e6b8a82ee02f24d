//! PostgreSQL only: marks `jsonb ->> text` (`jsonb_object_field_text`) LEAKPROOF. Under
//! row-level security PostgreSQL may use a query condition as an index condition only when
//! its functions are leakproof; without this, the per-field expression indexes on
//! `(data->>'key')` could never serve the application role. The function returns NULL for a
//! missing key or a non-object and raises no error, so it cannot leak rows. Changing a
//! built-in's flag needs a superuser: a non-superuser migrating user gets a notice with the
//! statement for the DBA instead.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function whose flag changes.
const FUNCTIONS: &[&str] = &["jsonb_object_field_text(jsonb, text)"];
const WHY: &str = "lets indexed fields use their indexes under row-level security";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, &ddl::leakproof(FUNCTIONS, true, WHY)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, &ddl::leakproof(FUNCTIONS, false, WHY)).await
    }
}
