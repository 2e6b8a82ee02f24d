//! PostgreSQL only. Drops `records_data_gin`, the GIN index over every record's whole `data`:
//! it served MULTI_SELECT containment filters (`data @> …`), but under row-level security the
//! application role could never use it (`jsonb @> jsonb` is not leakproof, so PostgreSQL may not
//! evaluate it inside an index scan, ahead of the tenant policy), while every write paid for it
//! — a third of a record create's database time on the yardstick. Containment now compares one
//! field (`(data->'k') @> …`), and a MULTI_SELECT field marked `indexed` gets a GIN index of its
//! own (`entity`'s `indexes`). For the application role to use that index, `jsonb -> text` and
//! `jsonb @> jsonb` are marked LEAKPROOF: neither raises an error for any input (a missing key
//! or a non-object gives NULL; containment only compares), so neither can leak rows. Changing a
//! built-in's flag needs a superuser: a non-superuser migrating user gets a notice with the
//! statements for the DBA instead.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The functions whose flag changes.
const FUNCTIONS: &[&str] = &["jsonb_object_field(jsonb, text)", "jsonb_contains(jsonb, jsonb)"];
const WHY: &str = "lets indexed MULTI_SELECT fields use their indexes under row-level security";
const GIN: &str = "records_data_gin ON records USING GIN (data jsonb_path_ops)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let up = format!("DROP INDEX IF EXISTS records_data_gin;\n{}", ddl::leakproof(FUNCTIONS, true, WHY));
        ddl::run_on_postgres(manager, &up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let down = format!("{};\nCREATE INDEX IF NOT EXISTS {GIN}", ddl::leakproof(FUNCTIONS, false, WHY));
        ddl::run_on_postgres(manager, &down).await
    }
}
