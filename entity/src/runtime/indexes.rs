//! Database indexes for fields marked `indexed`, created and dropped by the engine. Each is a
//! partial expression index on `records`: `(tenant_id, <the field's filter/sort expression>)`
//! over the live records of its entity, so filters, sorts and group-bys on the field do not
//! scan the tenant's table. `reconcile` makes the set of `idx_f_*` indexes match the indexed
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
pub const PREFIX: &str = "idx_f_";

/// The index name of a field (`idx_f_` + its id without dashes: at most 38 characters).
pub fn index_name(field_id: &str) -> Result<String> {
    let id =
        uuid::Uuid::parse_str(field_id).map_err(|_| Error::Internal(format!("bad field id {field_id:?}")))?;
    Ok(format!("{PREFIX}{}", id.simple()))
}

/// The `CREATE INDEX` statement of an indexed field.
pub fn create_statement(d: Dialect, entity_id: &str, f: &FieldDef) -> Result<String> {
    let entity = uuid::Uuid::parse_str(entity_id)
        .map_err(|_| Error::Internal(format!("bad entity id {entity_id:?}")))?;
    let expr = sql::target_expr(d, &Target::Field(Box::new(f.clone())));
    Ok(format!(
        "CREATE INDEX IF NOT EXISTS {} ON records (tenant_id, {expr}) WHERE entity_id = '{}' AND deleted_at IS NULL",
        index_name(&f.id)?,
        entity.hyphenated()
    ))
}

/// Creates missing indexes of indexed fields and drops those of fields no longer indexed.
/// Returns (created, dropped).
pub async fn reconcile(system: &Db) -> Result<(usize, usize)> {
    let d = system.dialect;
    let rows = system
        .conn
        .query_all_raw(
            SqlBuf::new(d)
                .push("SELECT id, entity_id, key, field_type FROM field_defs WHERE indexed = ")
                .bind(true)
                .take_statement(),
        )
        .await?;
    let mut desired: BTreeMap<String, String> = BTreeMap::new();
    for r in &rows {
        let ty = FieldType::parse(&r.try_get::<String>("", "field_type")?)
            .ok_or_else(|| Error::Internal("unknown field type".into()))?;
        if !ty.is_sortable() {
            continue;
        }
        let key: String = r.try_get("", "key")?;
        if !super::naming::is_identifier(&key) {
            return Err(Error::Internal(format!("invalid stored field key {key:?}")));
        }
        let f = FieldDef { id: r.try_get("", "id")?, key, ty, ..super::definitions::blank_field() };
        let entity_id: String = r.try_get("", "entity_id")?;
        desired.insert(index_name(&f.id)?, create_statement(d, &entity_id, &f)?);
    }
    let list = match d {
        Dialect::Postgres => "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'records'",
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'",
    };
    let existing: BTreeSet<String> = system
        .conn
        .query_all_raw(sea_orm::Statement::from_string(system.backend(), list))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "name"))
        .collect::<std::result::Result<_, _>>()?;
    let existing: BTreeSet<String> = existing.into_iter().filter(|n| n.starts_with(PREFIX)).collect();
    let (mut created, mut dropped) = (0, 0);
    for (name, create) in &desired {
        if !existing.contains(name) {
            system.conn.execute_unprepared(create).await?;
            created += 1;
        }
    }
    for name in existing.iter().filter(|n| !desired.contains_key(*n)) {
        // Names come from the catalogue and carry our prefix; re-check before splicing.
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            system.conn.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}")).await?;
            dropped += 1;
        }
    }
    if created + dropped > 0 {
        tracing::info!(created, dropped, "field indexes reconciled");
    }
    Ok((created, dropped))
}
