//! Database indexes for fields marked `indexed`, created and dropped by the engine. Each is a
//! partial expression index on `records`: `(<the field's filter/sort expression>, created_at,
//! id)` over the live records of its entity, so filters, sorts and group-bys on the field do
//! not scan the tenant's table. The list order trails the value: an equality on the field
//! reads its matches already in the default page order (forwards, or backwards for newest
//! first), so a page stops after `first + 1` matches whatever share of the entity matches —
//! the planner cannot misjudge it (it has no statistics for one entity's values in the shared
//! table, and guessed 0.5% for a value one deal in five had, then fetched and sorted them all).
//! The entity implies the tenant, so the tenant is no key column.
//! A MULTI_SELECT field has no order: on PostgreSQL its index is a GIN index of the field's
//! array (`idx_fg_*`), which answers `containsAny`/`containsAll`; SQLite has none to offer.
//!
//! On PostgreSQL each indexed field's expression also gets expression statistics
//! (`CREATE STATISTICS … ON ((data->>'k')) FROM records`): the planner ignores the statistics
//! of partial indexes and otherwise guesses 0.5% for any equality and a third for any range.
//! The statistics belong to the expression, not to one tenant: every entity with a `stage`
//! field shares one object (their values mixed, which is what a shared table's planner can
//! know), so their number grows with distinct field keys, not with tenants. `reconcile` makes the set of `idx_fo_*` indexes match the indexed
//! fields; it runs after every definition change and at start, with the table owner's
//! connection (the row-level-security application role may not create indexes), and is
//! idempotent, so a failure heals on the next run.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::ConnectionTrait;

use super::filter::Target;
use super::meta::{FieldDef, FieldType};
use super::sql::{self, SqlBuf};
use crate::{Db, Dialect, Error, Result};

/// The prefix of every engine-managed index.
pub const PREFIX: &str = "idx_fo_";

/// The prefix of the GIN index of an indexed MULTI_SELECT field (PostgreSQL).
pub const GIN_PREFIX: &str = "idx_fg_";

/// The prefix of the engine's earlier `(tenant_id, <expr>)` indexes, replaced on reconcile.
const LEGACY_PREFIX: &str = "idx_f_";

/// The prefix of every engine-managed statistics object (PostgreSQL).
pub const STATS_PREFIX: &str = "records_x_";

/// The statistics object of a field expression: its name and `CREATE STATISTICS` statement.
fn expression_statistics(expr: &str) -> (String, String) {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(expr.as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    let name = format!("{STATS_PREFIX}{hex}");
    let create = format!("CREATE STATISTICS IF NOT EXISTS {name} ON ({expr}) FROM records");
    (name, create)
}

/// The index name of a field (`idx_fo_` + its id without dashes: at most 39 characters).
pub fn index_name(field_id: &str) -> Result<String> {
    let id =
        uuid::Uuid::parse_str(field_id).map_err(|_| Error::Internal(format!("bad field id {field_id:?}")))?;
    Ok(format!("{PREFIX}{}", id.simple()))
}

/// The GIN index name of an indexed MULTI_SELECT field (`idx_fg_` + its id without dashes).
pub fn gin_index_name(field_id: &str) -> Result<String> {
    Ok(index_name(field_id)?.replacen(PREFIX, GIN_PREFIX, 1))
}

/// The `CREATE INDEX` statement of an indexed field, with its name; `None` for a field no
/// index of ours serves (JSON and FILE fields; MULTI_SELECT on SQLite).
pub fn create_statement(d: Dialect, entity_id: &str, f: &FieldDef) -> Result<Option<(String, String)>> {
    let entity = uuid::Uuid::parse_str(entity_id)
        .map_err(|_| Error::Internal(format!("bad entity id {entity_id:?}")))?
        .hyphenated()
        .to_string();
    let (name, keys) = if f.ty == FieldType::MultiSelect && d == Dialect::Postgres {
        // Containment of the field's array (`sql::containment_expr`); jsonb_path_ops keeps
        // only what `@>` needs.
        (gin_index_name(&f.id)?, format!("USING GIN ({} jsonb_path_ops)", sql::containment_expr(&f.key)))
    } else if f.ty.is_sortable() {
        let expr = sql::target_expr(d, &Target::Field(Box::new(f.clone())));
        (index_name(&f.id)?, format!("({expr}, created_at, id)"))
    } else {
        return Ok(None);
    };
    let create = format!(
        "CREATE INDEX IF NOT EXISTS {name} ON records {keys} WHERE entity_id = '{entity}' AND deleted_at IS NULL"
    );
    Ok(Some((name, create)))
}

/// Creates missing indexes of indexed fields and drops those of fields no longer indexed.
/// Returns (created, dropped).
pub async fn reconcile(system: &Db) -> Result<(usize, usize)> {
    let d = system.dialect;
    // One reconcile at a time, across instances (an advisory lock on PostgreSQL, the write
    // lock on SQLite), reading the indexed fields only once it holds the lock: a reconcile
    // that had read them before a concurrent definition change committed would otherwise
    // recreate an index that change's own reconcile had just dropped.
    let txn = system.begin_write().await?;
    if d == Dialect::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(hashtextextended('alphery.field_indexes', 0))")
            .await?;
    }
    let rows = txn
        .query_all_raw(
            SqlBuf::new(d)
                .push("SELECT id, entity_id, key, field_type FROM field_defs WHERE indexed = ")
                .bind(true)
                .take_statement(),
        )
        .await?;
    let mut desired: BTreeMap<String, String> = BTreeMap::new();
    let mut statistics: BTreeMap<String, String> = BTreeMap::new();
    for r in &rows {
        let ty = FieldType::parse(&r.try_get::<String>("", "field_type")?)
            .ok_or_else(|| Error::Internal("unknown field type".into()))?;
        let key: String = r.try_get("", "key")?;
        if !super::naming::is_identifier(&key) {
            return Err(Error::Internal(format!("invalid stored field key {key:?}")));
        }
        let f = FieldDef { id: r.try_get("", "id")?, key, ty, ..super::definitions::blank_field() };
        let entity_id: String = r.try_get("", "entity_id")?;
        let Some((name, create)) = create_statement(d, &entity_id, &f)? else { continue };
        desired.insert(name, create);
        if d == Dialect::Postgres && ty.is_sortable() {
            let (name, create) = expression_statistics(&sql::target_expr(d, &Target::Field(Box::new(f))));
            statistics.insert(name, create);
        }
    }
    let list = match d {
        Dialect::Postgres => "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'records'",
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'",
    };
    let existing = catalogue(&txn, list, &[PREFIX, GIN_PREFIX, LEGACY_PREFIX]).await?;
    let (created, dropped) = converge(&txn, &existing, &desired, "INDEX").await?;
    if created + dropped > 0 {
        tracing::info!(created, dropped, "field indexes reconciled");
    }
    let mut made = 0;
    if d == Dialect::Postgres {
        let list = "SELECT stxname AS name FROM pg_statistic_ext WHERE stxrelid = 'records'::regclass";
        let existing = catalogue(&txn, list, &[STATS_PREFIX]).await?;
        (made, _) = converge(&txn, &existing, &statistics, "STATISTICS").await?;
    }
    txn.commit().await?;
    if made > 0 {
        // A new statistics object is empty until the next ANALYZE, which samples a bounded
        // number of rows (300 × the statistics target) whatever the table's size. Run after
        // the commit, so the DDL's locks are not held while it samples.
        system.conn.execute_unprepared("ANALYZE records").await?;
        tracing::info!(created = made, "field expression statistics created");
    }
    Ok((created, dropped))
}

/// The names `list` returns (a catalogue query with a `name` column) that carry one of our
/// `prefixes`: the engine's objects, never anybody else's.
async fn catalogue(conn: &impl ConnectionTrait, list: &str, prefixes: &[&str]) -> Result<BTreeSet<String>> {
    let rows = conn.query_all_raw(sea_orm::Statement::from_string(conn.get_database_backend(), list)).await?;
    let mut names = BTreeSet::new();
    for r in &rows {
        let name: String = r.try_get("", "name")?;
        if prefixes.iter().any(|p| name.starts_with(p)) {
            names.insert(name);
        }
    }
    Ok(names)
}

/// Creates the `desired` objects (name → CREATE statement) missing from `existing` and drops
/// (`DROP <kind>`) the existing ones no longer desired. Returns (created, dropped).
async fn converge(
    conn: &impl ConnectionTrait,
    existing: &BTreeSet<String>,
    desired: &BTreeMap<String, String>,
    kind: &str,
) -> Result<(usize, usize)> {
    let (mut created, mut dropped) = (0, 0);
    for (name, create) in desired {
        if !existing.contains(name) {
            conn.execute_unprepared(create).await?;
            created += 1;
        }
    }
    for name in existing.iter().filter(|n| !desired.contains_key(*n)) {
        // Names come from the catalogue and carry our prefix; re-check before splicing.
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            conn.execute_unprepared(&format!("DROP {kind} IF EXISTS {name}")).await?;
            dropped += 1;
        }
    }
    Ok((created, dropped))
}
