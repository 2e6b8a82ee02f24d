//! Indexes of fields marked `indexed`: a fixed set of typed *slots* on `records`, shared by
//! every tenant (migration 22), instead of one partial index per (entity, field). With those,
//! 10,000 tenants meant 30,000 indexes on one table, each opened, locked and tested on every
//! insert of any tenant and weighed by every plan (a primary-key get planned in 37 ms with
//! 3,000 of them, 0.3 ms without), and each built by DDL that blocked every tenant's writes.
//!
//! A slot (`slot::Slot`) is `ixk_<slot>`, the key of the field it holds for the record's
//! entity (the engine writes it with each record), and `ix_<slot>`, a column the database
//! generates from it and `data` (`sql::slot_fill`): the field's comparable value
//! (`sql::comparable`), current through every write of `data`. Each slot has one index `(entity_id, ix_<slot>,
//! created_at, id)` over the live records of entities using it (a GIN of the array for an array
//! slot), so an equality on the field reads its matches already in the list order and a page
//! stops after `first + 1` of them. A statement naming a slot also says `ixk_<slot> = '<key>'`
//! (`sql::push_slot_guards`), true of every record of the entity, which is what lets the
//! planner use the partial index.
//!
//! Which slot a field holds is `field_defs.index_slot`. `assign` gives and takes slots in the
//! transaction of every definition change; from then on each new record is written with the
//! key, and `converge` brings the entity's existing records in line (the key written, or a
//! freed slot's key cleared), in batches of `BATCH`: the first in the change's transaction, the
//! rest, for a larger entity, in a job (`OutboxEvent::IndexSlot`, a transaction per batch, so no
//! other write waits long and none of another tenant at all). Queries use a slot only once it
//! is ready (`field_defs.index_ready`, `FieldDef::index_slot`): until then they compare the
//! field's JSON value, with the same answers. A create checked against the definitions from
//! before the change cannot commit without the key: its INSERT holds the tenant row and checks
//! the metadata version (`store::guards::push_definitions_guard`; on SQLite the write lock orders them),
//! and is retried with the current definitions.
//! A unique field holds a slot too: its "value taken" check on each write reads the slot's
//! index. A field that cannot have an index (JSON, FILE; MULTI_SELECT on SQLite) holds none and
//! is filtered by its JSON value; an entity has at most `SlotKind::count` slots of each kind.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::ConnectionTrait;

use super::formula;
use super::meta::FieldType;
use super::outbox::{self, IndexSlot};
use super::slot::{Slot, SlotKind};
use crate::sql_buf::SqlBuf;
use crate::{Db, Dialect, Error, Result};

/// A field's row in `field_defs`, as `assign` reads it.
struct Held {
    id: String,
    kind: Option<SlotKind>,
    indexed: bool,
    unique: bool,
    slot: Option<Slot>,
}

impl Held {
    /// A field holds a slot while it is indexed or unique: a unique field's "is this value
    /// taken" check on every write reads the slot's index instead of the entity's records.
    fn wants(&self) -> bool {
        (self.indexed || self.unique) && self.kind.is_some()
    }
}

/// Records a batch of `converge` rewrites: a build or clean-up of more records than this goes
/// on in a job, a batch per transaction, so no transaction holds many rows.
pub const BATCH: u64 = 5_000;

/// Gives every indexed or unique field of the tenant's entities a slot and takes the slots of
/// fields that are neither any more, inside the caller's transaction (every definition change runs it, after it
/// bumped the tenant's metadata version). Each changed slot is brought in line with a first
/// batch there (`converge`): a small entity's slot is ready when the change commits; a larger
/// one's is finished by a job (`OutboxEvent::IndexSlot`). A field asking for more slots of a kind
/// than an entity has fails the change with a `VALIDATION` error on `indexed` (or `unique`).
pub async fn assign(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push(
        "SELECT f.id, f.entity_id, f.field_type, f.indexed, f.is_unique, f.index_slot, e.name_singular ",
    );
    buf.push("FROM field_defs f JOIN entity_defs e ON e.id = f.entity_id WHERE f.tenant_id = ");
    buf.bind(tenant_id.to_owned()).push(" ORDER BY f.entity_id, f.position, f.id");
    let mut entities: BTreeMap<(String, String), Vec<Held>> = BTreeMap::new();
    for r in conn.query_all_raw(buf.into_statement()).await? {
        let ty: String = r.try_get("", "field_type")?;
        // A formula's value is not stored: nothing to index.
        let kind = match FieldType::parse(&ty) {
            Some(ty) => ty.slot_kind(d),
            None if ty == formula::TYPE_NAME => None,
            None => return Err(Error::Internal(format!("unknown field type {ty}"))),
        };
        let slot: Option<String> = r.try_get("", "index_slot")?;
        let held = Held {
            id: r.try_get("", "id")?,
            kind,
            indexed: r.try_get("", "indexed")?,
            unique: r.try_get("", "is_unique")?,
            slot: slot.as_deref().and_then(Slot::parse),
        };
        let entity = (r.try_get("", "entity_id")?, r.try_get("", "name_singular")?);
        entities.entry(entity).or_default().push(held);
    }
    for ((entity_id, entity_name), fields) in entities {
        // A held slot stays while its field wants one and is of the slot's kind.
        let keeps = |f: &Held| f.wants() && f.slot.is_some_and(|s| Some(s.kind) == f.kind);
        let mut taken: BTreeSet<Slot> = fields.iter().filter(|f| keeps(f)).filter_map(|f| f.slot).collect();
        let mut changed = BTreeSet::new();
        for f in fields.iter().filter(|f| f.slot.is_some() && !keeps(f)) {
            set_slot(conn, d, &f.id, None).await?;
            changed.extend(f.slot);
        }
        for f in fields.iter().filter(|f| f.wants() && !keeps(f)) {
            let Some(kind) = f.kind else { continue };
            let free = (1..=kind.count()).map(|n| Slot { kind, n }).find(|s| !taken.contains(s));
            let Some(slot) = free else {
                return Err(Error::field(
                    if f.indexed { "indexed" } else { "unique" },
                    format!(
                        "`{entity_name}` already has {} indexed or unique {} fields, the most an entity \
                         can have; unmark one first",
                        kind.count(),
                        kind.what()
                    ),
                ));
            };
            taken.insert(slot);
            set_slot(conn, d, &f.id, Some(slot)).await?;
            changed.insert(slot);
        }
        if changed.is_empty() {
            continue;
        }
        // Slot changes and slot jobs of one entity take turns (`converge`).
        lock_entity(conn, d, &entity_id, true).await?;
        for slot in changed {
            if converge(conn, d, tenant_id, &entity_id, slot, false).await? == Progress::More {
                let job = IndexSlot { entity_id: entity_id.clone(), slot: slot.name().to_owned() };
                outbox::write(conn, d, tenant_id, &job).await?;
            }
        }
    }
    Ok(())
}

async fn set_slot(conn: &impl ConnectionTrait, d: Dialect, field_id: &str, slot: Option<Slot>) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE field_defs SET index_slot = ").bind(slot.map(Slot::name));
    buf.push(", index_ready = ").bind(false).push(" WHERE id = ").bind(field_id.to_owned());
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}

/// Locks the entity's definition row against slot changes (`exclusive`: a change) or for a
/// job's batch, on PostgreSQL; SQLite's single writer orders them already.
async fn lock_entity(
    conn: &impl ConnectionTrait,
    d: Dialect,
    entity_id: &str,
    exclusive: bool,
) -> Result<()> {
    if d == Dialect::Postgres {
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT id FROM entity_defs WHERE id = ").bind(entity_id.to_owned());
        buf.push(if exclusive { " FOR UPDATE" } else { " FOR SHARE" });
        conn.query_all_raw(buf.into_statement()).await?;
    }
    Ok(())
}

/// Whether a slot's records are in line with its assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Done,
    More,
}

/// One batch towards the slot's current assignment in the entity's records: at most `BATCH`
/// records get the key of the field that holds the slot, or lose a key when none does. The
/// assignment is read anew each batch (under the entity's lock, which every slot change takes
/// first), so a job never writes a key the slot no longer has. When no record is left to
/// change, the field's slot becomes ready; with `announce` it then also bumps the tenant's
/// metadata version (`signals::metadata_changed`; a job: instances reload the definitions and
/// start using the slot).
pub async fn converge(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    entity_id: &str,
    slot: Slot,
    announce: bool,
) -> Result<Progress> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT id, key, index_ready FROM field_defs WHERE entity_id = ").bind(entity_id.to_owned());
    buf.push(" AND index_slot = ").bind(slot.name());
    let holder = match conn.query_one_raw(buf.into_statement()).await? {
        Some(r) => Some((
            r.try_get::<String>("", "id")?,
            r.try_get::<String>("", "key")?,
            r.try_get::<bool>("", "index_ready")?,
        )),
        None => None,
    };
    if holder.as_ref().is_some_and(|(_, _, ready)| *ready) {
        return Ok(Progress::Done);
    }
    let key = holder.as_ref().map(|(_, k, _)| k.clone());
    let column = slot.key_column();
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE records SET ").push(&column).push(" = ").bind(key.clone());
    buf.push(" WHERE id IN (SELECT id FROM records WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND entity_id = ").bind(entity_id.to_owned()).push(" AND ");
    match &key {
        Some(k) => buf
            .push("(")
            .push(&column)
            .push(" IS NULL OR ")
            .push(&column)
            .push(" <> ")
            .bind(k.clone())
            .push(")"),
        None => buf.push(&column).push(" IS NOT NULL"),
    };
    buf.push(" LIMIT ").push(&BATCH.to_string()).push(")");
    if conn.execute_raw(buf.into_statement()).await?.rows_affected() >= BATCH {
        return Ok(Progress::More);
    }
    if let Some((field_id, _, _)) = holder {
        let mut buf = SqlBuf::new(d);
        buf.push("UPDATE field_defs SET index_ready = ").bind(true).push(" WHERE id = ").bind(field_id);
        conn.execute_raw(buf.into_statement()).await?;
        if announce {
            super::signals::metadata_changed(conn, d, tenant_id).await?;
        }
    }
    Ok(Progress::Done)
}

/// A slot job (`OutboxEvent::IndexSlot`): batches of `converge`, each in a transaction of its own
/// under the entity's lock, until the slot is in line. Idempotent.
pub async fn run_job(db: &Db, tenant_id: &str, entity_id: &str, slot: &str) -> Result<()> {
    let slot = Slot::parse(slot).ok_or_else(|| Error::Internal(format!("bad slot {slot:?}")))?;
    loop {
        let txn = db.begin_tenant_write(tenant_id).await?;
        lock_entity(&txn, db.dialect, entity_id, false).await?;
        let progress = converge(&txn, db.dialect, tenant_id, entity_id, slot, true).await?;
        txn.commit().await?;
        if progress == Progress::Done {
            return Ok(());
        }
    }
}

/// The prefixes of the engine's earlier per-field indexes and expression statistics.
const LEGACY_INDEXES: [&str; 3] = ["idx_fo_", "idx_fg_", "idx_f_"];
const LEGACY_STATISTICS: &str = "records_x_";

/// At start-up: drops the per-field indexes and expression statistics of the engine before
/// slots, and gives slots to indexed fields that have none (fields indexed before migration
/// 22), each tenant in a transaction of its own. Idempotent. Returns how many tenants changed.
pub async fn reconcile(system: &Db) -> Result<usize> {
    let d = system.dialect;
    let list = match d {
        Dialect::Postgres => "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'records'",
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'",
    };
    let mut drops: Vec<String> = names(system, list, &LEGACY_INDEXES)
        .await?
        .into_iter()
        .map(|n| format!("DROP INDEX IF EXISTS {n}"))
        .collect();
    if d == Dialect::Postgres {
        let list = "SELECT stxname AS name FROM pg_statistic_ext WHERE stxrelid = 'records'::regclass";
        drops.extend(
            names(system, list, &[LEGACY_STATISTICS])
                .await?
                .into_iter()
                .map(|n| format!("DROP STATISTICS IF EXISTS {n}")),
        );
    }
    for drop in &drops {
        system.conn.execute_unprepared(drop).await?;
    }
    if !drops.is_empty() {
        tracing::info!(dropped = drops.len(), "per-field indexes replaced by index slots");
    }
    let unindexable: Vec<String> = FieldType::ALL
        .into_iter()
        .filter(|t| t.slot_kind(d).is_none())
        .map(|t| format!("'{}'", t.as_str()))
        .collect();
    let sql = format!(
        "SELECT DISTINCT tenant_id FROM field_defs WHERE (indexed = TRUE OR is_unique = TRUE) AND index_slot IS NULL \
         AND field_type NOT IN ({})",
        unindexable.join(", ")
    );
    let rows = system.conn.query_all_raw(sea_orm::Statement::from_string(system.backend(), sql)).await?;
    let mut changed = 0;
    for r in &rows {
        let tenant_id: String = r.try_get("", "tenant_id")?;
        let txn = system.begin_tenant_write(&tenant_id).await?;
        // As a definition change does: the version first, then the slots.
        super::signals::metadata_changed(&txn, d, &tenant_id).await?;
        match assign(&txn, d, &tenant_id).await {
            Ok(()) => {
                txn.commit().await?;
                changed += 1;
            }
            // More indexed fields of a kind than an entity has slots (marked before slots):
            // they stay unindexed, compared by their JSON values, until one is unmarked.
            Err(Error::Validation(errors)) => {
                txn.rollback().await?;
                let why = errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
                tracing::warn!(tenant = %tenant_id, %why, "indexed fields left without an index slot");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(changed)
}

/// The names `list` returns (a catalogue query with a `name` column) that carry one of our
/// `prefixes`, checked to be plain identifiers before any is spliced into a DROP.
async fn names(system: &Db, list: &str, prefixes: &[&str]) -> Result<Vec<String>> {
    let rows = system.conn.query_all_raw(sea_orm::Statement::from_string(system.backend(), list)).await?;
    let mut out = Vec::new();
    for r in &rows {
        let name: String = r.try_get("", "name")?;
        if prefixes.iter().any(|p| name.starts_with(p))
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            out.push(name);
        }
    }
    Ok(out)
}
