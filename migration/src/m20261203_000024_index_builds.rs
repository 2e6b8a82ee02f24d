//! `field_defs.index_ready`: an index slot is assigned at once (records are written with its
//! key from then on) but used by queries only once every existing record of the entity
//! carries the key. A small entity's slot is filled in the definition change's transaction;
//! a larger one's by a job in batches, which sets the flag when done (`entity`'s `indexes`).
//! Slots assigned before this migration were filled in the change's transaction: ready.
//!
//! PostgreSQL: the text and boolean slot columns get a fixed distinct count (20). A slot column
//! holds many fields of many entities, so its measured distinct count says nothing about any
//! one field; a per-entity statement's generic plan multiplies the entity's rows by one over
//! it, and a slot that also held another tenant's near-unique field (an email) made a stage
//! filter look like a dozen rows: a bitmap scan and a sort of every match instead of a walk of
//! the slot index in page order that stops after the page. Twenty — the scale of a SELECT
//! field's options — keeps an equality at a twentieth of the entity, where the walk is the plan
//! whatever else shares the slot; with a constant, the column's most common values still count.

use sea_orm_migration::prelude::*;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
ALTER TABLE field_defs ADD COLUMN index_ready {bool} NOT NULL DEFAULT FALSE;
UPDATE field_defs SET index_ready = TRUE WHERE index_slot IS NOT NULL
"#;

/// `ALTER TABLE records ALTER COLUMN … SET (n_distinct = …)` of the text and boolean slots (`reset`:
/// back to measured).
fn distinct_counts(reset: bool) -> String {
    let columns = (1..=8).map(|n| format!("ix_t{n}")).chain((1..=2).map(|n| format!("ix_b{n}")));
    let set = |c: String| {
        if reset {
            format!("ALTER COLUMN {c} RESET (n_distinct)")
        } else {
            format!("ALTER COLUMN {c} SET (n_distinct = 20)")
        }
    };
    format!("ALTER TABLE records {}", columns.map(set).collect::<Vec<_>>().join(", "))
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, UP).await?;
        ddl::run_on_postgres(manager, &distinct_counts(false)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run_on_postgres(manager, &distinct_counts(true)).await?;
        ddl::run(manager, "ALTER TABLE field_defs DROP COLUMN index_ready").await
    }
}
