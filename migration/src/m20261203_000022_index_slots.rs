//! Index slots: the indexes of `indexed` fields become a fixed set shared by every tenant,
//! instead of one partial index per (entity, field) on `records` — 30,000 of those at 10,000
//! tenants, each opened, locked and tested on every insert and weighed by every plan.
//!
//! A slot is a pair of columns on `records`: `ixk_<slot>`, the key of the field the slot holds
//! for the record's entity (written with the record; NULL where the entity uses no such slot),
//! and `ix_<slot>`, generated from it: the field's value as the filter compiler compares it
//! (text, numeric, boolean, or the JSON array of a MULTI_SELECT on PostgreSQL). The database
//! keeps the value current through every write of `data`; the engine only writes the key.
//! Each slot has one index, `(entity_id, ix_<slot>, created_at, id)` over the live records of
//! entities that use it (GIN of the array for an array slot), so an equality on the field
//! reads its matches in the list order. `field_defs.index_slot` says which slot a field holds.
//!
//! Slots per entity: 8 text (TEXT, SELECT, DATE, …), 4 numeric (NUMBER, CURRENCY), 2 boolean,
//! 2 array (MULTI_SELECT, PostgreSQL only). The engine's `indexes` module names the same set.
//! The engine's earlier per-field indexes (`idx_fo_*`, `idx_fg_*`) and expression statistics
//! (`records_x_*`) are dropped by its start-up reconcile, which also gives the fields indexed
//! before this migration their slots.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::ddl;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (slot letter, how many, PostgreSQL value expression of key column `{k}`, SQLite's, SQL type).
/// `None` for SQLite: no slot of that kind there.
const KINDS: &[(char, u8, &str, Option<&str>, &str)] = &[
    ('t', 8, "(data ->> {k})", Some("json_extract(data, '$.' || {k})"), "TEXT"),
    ('n', 4, "((data ->> {k})::numeric)", Some("CAST(json_extract(data, '$.' || {k}) AS REAL)"), "NUMERIC"),
    ('b', 2, "((data ->> {k})::boolean)", Some("json_extract(data, '$.' || {k})"), "BOOLEAN"),
    ('a', 2, "(data -> {k})", None, "JSONB"),
];

/// The migration's statements for `backend`, up or down. On PostgreSQL the columns come in one
/// `ALTER TABLE`: a stored generated column rewrites the table, once for all of them.
fn script(backend: DbBackend, up: bool) -> String {
    let pg = backend == DbBackend::Postgres;
    let (mut columns, mut indexes) = (Vec::new(), Vec::new());
    for &(letter, count, pg_expr, sqlite_expr, ty) in KINDS {
        let Some(expr) = (if pg { Some(pg_expr) } else { sqlite_expr }) else { continue };
        for n in 1..=count {
            let (key, value) = (format!("ixk_{letter}{n}"), format!("ix_{letter}{n}"));
            let index = format!("records_ix_{letter}{n}");
            if !up {
                indexes.push(format!("DROP INDEX IF EXISTS {index}"));
                columns.push(format!("DROP COLUMN {value}"));
                columns.push(format!("DROP COLUMN {key}"));
                continue;
            }
            let generated = expr.replace("{k}", &key);
            let storage = if pg { "STORED" } else { "VIRTUAL" };
            columns.push(format!("ADD COLUMN {key} TEXT"));
            columns.push(format!("ADD COLUMN {value} {ty} GENERATED ALWAYS AS ({generated}) {storage}"));
            let keys = if letter == 'a' {
                format!("USING GIN ({value} jsonb_path_ops)")
            } else {
                format!("(entity_id, {value}, created_at, id)")
            };
            indexes.push(format!(
                "CREATE INDEX {index} ON records {keys} WHERE {key} IS NOT NULL AND deleted_at IS NULL"
            ));
        }
    }
    // SQLite alters one column per statement.
    let alters = if pg {
        vec![format!("ALTER TABLE records {}", columns.join(", "))]
    } else {
        columns.iter().map(|c| format!("ALTER TABLE records {c}")).collect()
    };
    let slot = if up { "ADD COLUMN index_slot VARCHAR(8)" } else { "DROP COLUMN index_slot" };
    let mut out = if up { [alters, indexes].concat() } else { [indexes, alters].concat() };
    out.push(format!("ALTER TABLE field_defs {slot}"));
    out.join(";\n")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, &script(manager.get_database_backend(), true)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        ddl::run(manager, &script(manager.get_database_backend(), false)).await
    }
}
