//! The store's side of ROLLUP fields (`rollup_fields`): reading the parent records a child
//! write recomputes — locked on PostgreSQL, in id order, before the write's own statement —
//! and storing the values the engine computed into them. A computed value is written with
//! the parent's change event (subscribers and workflows hear of it) and the aggregate cells
//! it moves, but no audit entry: no one changed the parent, its children did, and their
//! entries say so.

use serde_json::{Map, Value};

use super::COLUMNS;
use crate::pipeline::Exec;
use crate::runtime::meta::{EntityDef, FieldType};
use crate::runtime::record::{ChangeEvent, ChangeKind, PreviousColumns, Record};
use crate::runtime::{outbox, rollups, time};
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// Which records `records` reads: some by id, or all of an entity.
pub enum Among<'a> {
    Ids(&'a [&'a str]),
    Entity(&'a str),
}

/// The tenant's records `among` (deleted ones too: a restored parent must be right), in id
/// order; with `lock`, PostgreSQL locks them until the transaction ends, so that no other
/// writer recomputes or rewrites them meanwhile.
pub async fn records(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    among: Among<'_>,
    lock: bool,
) -> Result<Vec<Record>> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT ").push(COLUMNS).push(" FROM records WHERE tenant_id = ").bind(tenant_id.to_owned());
    match among {
        Among::Ids([]) => return Ok(Vec::new()),
        Among::Ids(ids) => {
            buf.push(" AND id IN (");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    buf.push(", ");
                }
                buf.bind_record_id(id);
            }
            buf.push(")");
        }
        Among::Entity(entity_id) => {
            buf.push(" AND entity_id = ").bind(entity_id.to_owned());
        }
    }
    buf.push(" ORDER BY id");
    if lock && d == Dialect::Postgres {
        buf.push(" FOR UPDATE");
    }
    let rows = txn.query_all(buf.into_statement()).await?;
    rows.iter().map(Record::from_row).collect()
}

/// Replaces a record's `data` (its index slots follow: generated columns) and bumps its
/// version, as the last step of every computed write.
fn push_data(buf: &mut SqlBuf, tenant_id: &str, id: &str, data: &Map<String, Value>) -> Result<()> {
    buf.push("UPDATE records SET data = ");
    buf.bind_json(data)?;
    buf.push(", version = version + 1 WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND id = ").bind_record_id(id);
    Ok(())
}

/// A record whose computed values were recomputed: as read, its new data, and the GraphQL
/// names of the fields that changed.
pub struct Recomputed {
    pub old: Record,
    pub data: Map<String, Value>,
    pub changed: Vec<String>,
}

/// Stores a recomputed record of `entity`, with its change event and aggregate cells when it
/// is live.
pub async fn write_computed(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    entity: &EntityDef,
    r: Recomputed,
    depth: u32,
) -> Result<()> {
    let Recomputed { old, data, changed } = r;
    let mut buf = SqlBuf::new(d);
    push_data(&mut buf, tenant_id, &old.id, &data)?;
    txn.execute(buf.into_statement()).await?;
    if old.deleted_at.is_some() {
        return Ok(());
    }
    let deltas = rollups::deltas(entity, Some(&old.data), Some(&data));
    let previous = (*old.data).clone();
    if !deltas.is_empty() {
        let mut buf = SqlBuf::new(d);
        rollups::push_upsert(&mut buf, tenant_id, entity, &deltas)?;
        txn.execute(buf.into_statement()).await?;
    }
    let mut record = old;
    record.data = data.into();
    record.version += 1;
    let event = ChangeEvent {
        tenant_id: tenant_id.to_owned(),
        entity_id: entity.id.clone(),
        kind: ChangeKind::Updated,
        changed_fields: changed,
        previous: Some(previous),
        // A recomputation moves neither the owner nor the update time.
        previous_columns: Some(PreviousColumns {
            owner_id: record.owner_id.clone(),
            updated_at: record.updated_at,
        }),
        record,
        depth,
        // A parent's recomputed value is a change of its own, which workflows may watch.
        workflows_off: false,
    };
    let mut buf = SqlBuf::new(d);
    push_change_events(&mut buf, tenant_id, entity, &[&event])?;
    txn.execute(buf.into_statement()).await
}

/// The outbox rows of records' change events, of one entity (`dispatched_at` as
/// `push_unless_watched` says): one statement.
pub(super) fn push_change_events(
    buf: &mut SqlBuf,
    tenant_id: &str,
    entity: &EntityDef,
    events: &[&ChangeEvent],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let payloads = events.iter().map(serde_json::to_value).collect::<serde_json::Result<Vec<_>>>()?;
    outbox::push_rows(buf, tenant_id, <ChangeEvent as outbox::Event>::TOPIC, &payloads, |buf: &mut SqlBuf| {
        push_unless_watched(buf, tenant_id, entity)
    })
}

/// The entity feeds Customer Memory: it has a long-text field and a RELATION field (a note or
/// an activity about the record it points at), so the relay refreshes that record's memory.
/// Read from the definitions in hand: the outbox statement asks the database nothing for it.
fn feeds_memory(entity: &EntityDef) -> bool {
    let has = |ty: FieldType| entity.fields.iter().any(|f| f.ty == ty);
    has(FieldType::Textarea) && has(FieldType::Relation)
}

/// Stores a backfilled value (a definition change's: no event, the cells are rebuilt after).
pub async fn backfill_data(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    id: &str,
    data: &Map<String, Value>,
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    push_data(&mut buf, tenant_id, id, data)?;
    txn.execute(buf.into_statement()).await
}

/// `dispatched_at` of a record change: `NULL` (for the job relay) when an active workflow of
/// the tenant watches the entity, the tenant has an active webhook, the entity feeds
/// Customer Memory (it has a long-text and a RELATION field: a note or an activity) or a
/// confidence score (`EntityDef::scored`: the CRM's pipeline or activity entity) — what
/// the relay turns into jobs (`jobs::relay`) — and otherwise now, so that the relay never
/// claims, marks and re-writes the many changes nothing acts on. The check reads what
/// committed before the write's statement began: a workflow or webhook activated meanwhile
/// sees the changes that follow it.
fn push_unless_watched(buf: &mut SqlBuf, tenant_id: &str, entity: &EntityDef) {
    if feeds_memory(entity) || entity.scored {
        buf.push("NULL");
        return;
    }
    buf.push("CASE WHEN EXISTS (SELECT 1 FROM workflows WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND entity_id = ").bind(entity.id.clone()).push(" AND active = ").bind(true);
    buf.push(") OR EXISTS (SELECT 1 FROM webhooks WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND active = ").bind(true).push(") THEN NULL ELSE ").bind_ts(time::now()).push(" END");
}
