//! The audit trail: an append-only, per-tenant hash chain. Every entry is written in the same
//! transaction as the change it records. Entry `n` stores `hash = SHA-256(prev_hash ‖ body)`
//! where `body` is the canonical JSON of its content, and the tenant's chain head (`audit_heads`)
//! is updated in the same transaction — its row lock orders concurrent writers, so the chain
//! never forks. The change's own writes travel in the entry's statement on PostgreSQL
//! (`append_with`). `verify` recomputes the chain and names the first entry that does not fit.
//!
//! Reading the log (`list`, `verify`) goes through the `audit_log` model. The append stays
//! hand-built SQL: on PostgreSQL it is one statement — a data-modifying CTE that upserts the
//! tenant's head (`audit_heads`) with `ON CONFLICT … DO UPDATE … RETURNING`, computes the hash
//! with `sha256` in SQL, carries the change's own writes as further `WITH` parts and inserts the
//! entry from the head's `RETURNING` — sent pipelined with the record write in one round trip
//! (a statement-count test holds it there); sea-query builds none of that. On SQLite the head's
//! `UPDATE … RETURNING` / `INSERT … ON CONFLICT DO NOTHING` and the entry's INSERT stay beside
//! it, so both backends write the same columns the same way (timestamps in the engine's text
//! form, which `list` binds its time filter in, through `time::value`).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::models::audit_log;
use crate::pipeline::Exec;
use crate::runtime::outbox;
use crate::sealed::Sealer;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Error, Result};

/// The hash that precedes a tenant's first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
    pub request_id: Option<String>,
    /// The role (by name) a user acts in; `None` for the system (templates, workflows). Only
    /// lifecycles read it (`lifecycle`: moves limited to roles); the audit log keeps no role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Set when a workflow acts: which one, and how many workflow hops led here (loop guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub depth: u32,
    /// The writer asked for its changes to start no workflow (an import with `runWorkflows:
    /// false`); carried to each change event (`ChangeEvent::workflows_off`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub workflows_off: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Actor {
    pub fn user(user_id: &str, request_id: Option<&str>) -> Actor {
        Actor {
            user_id: Some(user_id.to_owned()),
            request_id: request_id.map(str::to_owned),
            ..Actor::default()
        }
    }

    /// The system itself (seeding, scheduled work).
    pub fn system() -> Actor {
        Actor::default()
    }
}

/// What is being recorded.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// `record.create`, `auth.login_failed`, `role.update`, `entity.define`, …
    pub action: &'a str,
    /// The entity name or platform object (`deal`, `role`, `session`, `api_key`).
    pub object_type: &'a str,
    pub object_id: Option<&'a str>,
    /// Field → `{ "old": …, "new": … }` (only changed fields), or other details.
    pub changes: Value,
}

/// A stored entry.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRow {
    pub id: i64,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: String,
    pub object_type: String,
    pub object_id: Option<String>,
    pub changes: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// The record the entry is about and its changes, whose personal values may be sealed
    /// (`personal::reveal` opens them).
    pub fn sealed(&mut self) -> (&str, &mut Value) {
        (self.object_id.as_deref().unwrap_or_default(), &mut self.changes)
    }
}

/// `OutboxEvent::AuditAppended`: entry `seq` of the tenant's trail was appended, in the
/// transaction of the change it records (`auditAppended` reads the entry back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditAppended {
    pub tenant_id: String,
    pub seq: i64,
}

impl outbox::Event for AuditAppended {
    const TOPIC: &'static str = "audit.appended";
    const WORK: bool = false;
}

/// The canonical body hashed for an entry (everything but the hashes and the row id).
fn body(tenant_id: &str, seq: i64, at: &DateTime<Utc>, actor: &Actor, e: &Entry<'_>) -> String {
    let mut v = content(at, actor, e);
    v.insert("tenant".into(), json!(tenant_id));
    v.insert("seq".into(), json!(seq));
    super::value::canonical_json(&Value::Object(v)).to_string()
}

/// The body's content but its tenant and sequence number.
fn content(at: &DateTime<Utc>, actor: &Actor, e: &Entry<'_>) -> Map<String, Value> {
    Map::from_iter([
        ("at".to_owned(), json!(super::time::format(at))),
        // Exactly the actor columns the table stores, so the hash can be recomputed from a row.
        (
            "actor".to_owned(),
            json!({"userId": actor.user_id, "apiKeyId": actor.api_key_id, "requestId": actor.request_id}),
        ),
        ("action".to_owned(), json!(e.action)),
        ("objectType".to_owned(), json!(e.object_type)),
        ("objectId".to_owned(), json!(e.object_id)),
        ("changes".to_owned(), e.changes.clone()),
    ])
}

fn chain(prev: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(body.as_bytes());
    crate::hex::encode(&h.finalize())
}

/// `{field: {old, new}}` for the keys whose values differ.
pub fn diff(old: &Map<String, Value>, new: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    for k in keys {
        let (o, n) = (old.get(k), new.get(k));
        if o != n {
            out.insert(k.clone(), json!({ "old": o, "new": n }));
        }
    }
    Value::Object(out)
}

/// Appends an entry inside `txn` (which must be the transaction of the change itself).
pub async fn append(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    entry: &Entry<'_>,
) -> Result<()> {
    append_with(txn, d, tenant_id, actor, entry, &[]).await
}

/// A write that goes with an audit entry: it appends one INSERT or UPDATE statement to a
/// buffer. On PostgreSQL the writes and the entry are one statement (each write a
/// data-modifying `WITH` part, which runs exactly once whether or not it is referenced); on
/// SQLite, whose writes cost no round trip, each runs on its own.
pub type Write<'w> = Box<dyn Fn(&mut SqlBuf) -> Result<()> + Send + Sync + 'w>;

/// Appends an entry and performs `writes` with it, inside `txn`.
///
/// On PostgreSQL that is one statement whose result is not read (a pipelined transaction sends
/// it with its COMMIT): it advances the tenant's chain head — creating it for the tenant's first
/// entry — and computes the entry's hash from the head's previous hash in SQL (`sha256` of the
/// same bytes `chain` hashes: the previous hash, then the canonical body, whose sequence number
/// only the head knows, written between the two parts `body_parts` returns). The head's row
/// lock orders the tenant's writers from there to their commit, so the chain never forks. On
/// SQLite, whose statements cost no round trip and whose writers are serialised anyway, the
/// head is read and the hash computed here.
pub async fn append_with(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    entry: &Entry<'_>,
    writes: &[Write<'_>],
) -> Result<()> {
    let at = super::time::now();
    // Stored and hashed alike in the form the database reads back, so `verify` can recompute
    // the hash from the row (PostgreSQL writes `1e16` back as `10000000000000000`).
    let entry = &Entry { changes: super::value::stable_numbers(&entry.changes), ..*entry };
    match d {
        Dialect::Postgres => {
            let (before, after) = body_parts(tenant_id, &at, actor, entry);
            let mut buf = SqlBuf::new(d);
            // Each part is sent once: both hash expressions name its placeholder.
            let genesis = buf.param(GENESIS.to_owned())?;
            let (before, after) = (buf.param(before)?, buf.param(after)?);
            // `chain` in SQL: SHA-256 of the previous hash and the body, as lowercase hex.
            let hash = |prev: &str, seq: &str| {
                format!("encode(sha256(convert_to({prev} || {before} || {seq} || {after}, 'UTF8')), 'hex')")
            };
            buf.push("WITH head AS (INSERT INTO audit_heads AS h (tenant_id, seq, hash, prev_hash) VALUES (");
            buf.bind(tenant_id.to_owned())
                .push(", 1, ")
                .push(&hash(&genesis, "'1'"))
                .push(", ")
                .push(&genesis);
            buf.push(") ON CONFLICT (tenant_id) DO UPDATE SET seq = h.seq + 1, prev_hash = h.hash, hash = ");
            buf.push(&hash("h.hash", "(h.seq + 1)::text")).push(" RETURNING seq, prev_hash, hash)");
            for (i, write) in writes.iter().enumerate() {
                buf.push(", w").push(&i.to_string()).push(" AS (");
                write(&mut buf)?;
                buf.push(")");
            }
            // The entry's news, numbered by the head only the statement knows.
            buf.push(", news AS (");
            let tenant = tenant_id.to_owned();
            outbox::push_computed::<AuditAppended>(
                &mut buf,
                tenant_id,
                |buf: &mut SqlBuf| {
                    buf.push("jsonb_build_object('tenantId', CAST(")
                        .bind(tenant)
                        .push(" AS TEXT), 'seq', seq)");
                },
                "head",
            );
            buf.push(")");
            buf.push(" ").push(ENTRY_INSERT).push("SELECT ");
            push_entry_values(&mut buf, tenant_id, &at, actor, entry)?;
            buf.push(", seq, prev_hash, hash FROM head");
            txn.execute(buf.into_statement()).await
        }
        Dialect::Sqlite => {
            let (seq, prev_hash) = advance_head(txn, d, tenant_id, 1).await?;
            let hash = chain(&prev_hash, &body(tenant_id, seq, &at, actor, entry));
            for write in writes {
                let mut one = SqlBuf::new(d);
                write(&mut one)?;
                txn.execute(one.into_statement()).await?;
            }
            let mut buf = SqlBuf::new(d);
            buf.push(ENTRY_INSERT).push("VALUES (");
            push_entry_values(&mut buf, tenant_id, &at, actor, entry)?;
            buf.push(", ").bind(seq).push(", ");
            buf.bind(prev_hash).push(", ").bind(hash.clone()).push(")");
            txn.execute(buf.into_statement()).await?;
            let mut buf = SqlBuf::new(d);
            buf.push("UPDATE audit_heads SET hash = ").bind(hash);
            buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned());
            txn.execute(buf.into_statement()).await?;
            outbox::write(txn, d, tenant_id, &AuditAppended { tenant_id: tenant_id.to_owned(), seq }).await
        }
    }
}

/// The canonical body of an entry (`body`) as the text before its sequence number and the text
/// after it: the body's keys are sorted, and all but `seq` and `tenant` sort before `seq`.
fn body_parts(tenant_id: &str, at: &DateTime<Utc>, actor: &Actor, e: &Entry<'_>) -> (String, String) {
    let mut before = super::value::canonical_json(&Value::Object(content(at, actor, e))).to_string();
    before.pop();
    before.push_str(",\"seq\":");
    let after = format!(",\"tenant\":{}}}", Value::String(tenant_id.to_owned()));
    (before, after)
}

/// Appends `entries`, in order, inside `txn` (the transaction of the changes they record: a
/// batch of writes), each kind of statement once for all of them rather than once per entry:
/// the head advanced by their number (on PostgreSQL its row lock orders the tenant's writers
/// from here to their commit, as `append_with`'s does), the entries (hashed here, each after
/// the one before), the head's new hash, and each entry's news.
pub async fn append_many(
    txn: &impl Exec,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    entries: &[Entry<'_>],
) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let at = super::time::now();
    let n = i64::try_from(entries.len()).map_err(|_| Error::Internal("too many audit entries".into()))?;
    let (last, mut prev) = advance_head(txn, d, tenant_id, n).await?;
    let mut rows = Vec::with_capacity(entries.len());
    for (seq, e) in (last - n + 1..).zip(entries) {
        // As `append_with`: stored and hashed alike in the form the database reads back.
        let e = Entry { changes: super::value::stable_numbers(&e.changes), ..*e };
        let hash = chain(&prev, &body(tenant_id, seq, &at, actor, &e));
        rows.push((e, seq, std::mem::replace(&mut prev, hash.clone()), hash));
    }
    for chunk in rows.chunks(ENTRY_CHUNK) {
        let mut buf = SqlBuf::new(d);
        buf.push(ENTRY_INSERT).push("VALUES ");
        for (i, (e, seq, prev_hash, hash)) in chunk.iter().enumerate() {
            buf.push(if i > 0 { ", (" } else { "(" });
            push_entry_values(&mut buf, tenant_id, &at, actor, e)?;
            buf.push(", ")
                .bind(*seq)
                .push(", ")
                .bind(prev_hash.clone())
                .push(", ")
                .bind(hash.clone())
                .push(")");
        }
        txn.execute(buf.into_statement()).await?;
        let news: Vec<AuditAppended> = chunk
            .iter()
            .map(|(_, seq, _, _)| AuditAppended { tenant_id: tenant_id.to_owned(), seq: *seq })
            .collect();
        let mut buf = SqlBuf::new(d);
        outbox::push_many(&mut buf, tenant_id, &news)?;
        txn.execute(buf.into_statement()).await?;
    }
    let Some((_, _, prev_hash, hash)) = rows.last() else { return Ok(()) };
    let mut buf = SqlBuf::new(d);
    buf.push("UPDATE audit_heads SET hash = ")
        .bind(hash.clone())
        .push(", prev_hash = ")
        .bind(prev_hash.clone());
    buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned());
    txn.execute(buf.into_statement()).await
}

/// The most entries one INSERT of `append_many` writes (12 bound values each).
const ENTRY_CHUNK: usize = 400;

/// Advances the tenant's chain head by `n` entries; returns the last new entry's sequence
/// number and the hash the first new entry follows. A tenant's first entry creates the head
/// first. (SQLite's single append, and every batch append.)
async fn advance_head(txn: &impl Exec, d: Dialect, tenant_id: &str, n: i64) -> Result<(i64, String)> {
    let advance = || {
        let mut buf = SqlBuf::new(d);
        buf.push("UPDATE audit_heads SET seq = seq + ").bind(n);
        buf.push(" WHERE tenant_id = ").bind(tenant_id.to_owned());
        buf.push(" RETURNING seq, hash");
        buf.into_statement()
    };
    let head = match txn.query_one(advance()).await? {
        Some(head) => head,
        None => {
            let mut buf = SqlBuf::new(d);
            buf.push("INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (").bind(tenant_id.to_owned());
            buf.push(", 0, ").bind(GENESIS.to_owned()).push(") ON CONFLICT (tenant_id) DO NOTHING");
            txn.execute(buf.into_statement()).await?;
            txn.query_one(advance()).await?.ok_or_else(|| Error::Internal("audit head missing".into()))?
        }
    };
    Ok((head.try_get("", "seq")?, head.try_get("", "hash")?))
}

/// The INSERT of an entry, up to its values: those `push_entry_values` binds, then the
/// sequence number and the two hashes.
const ENTRY_INSERT: &str = "INSERT INTO audit_log (tenant_id, at, actor_user_id, actor_api_key_id, request_id, \
                            action, object_type, object_id, changes, seq, prev_hash, hash) ";

/// The bound values of an entry, but its sequence number and hashes, comma-separated.
fn push_entry_values(
    buf: &mut SqlBuf,
    tenant_id: &str,
    at: &DateTime<Utc>,
    actor: &Actor,
    e: &Entry<'_>,
) -> Result<()> {
    buf.bind(tenant_id.to_owned()).push(", ").bind_ts(*at).push(", ");
    buf.bind(actor.user_id.clone()).push(", ").bind(actor.api_key_id.clone()).push(", ");
    buf.bind(actor.request_id.clone()).push(", ").bind(e.action.to_owned()).push(", ");
    buf.bind(e.object_type.to_owned()).push(", ").bind(e.object_id.map(str::to_owned)).push(", ");
    buf.bind_json(&e.changes)?;
    Ok(())
}

impl From<audit_log::Model> for AuditRow {
    fn from(m: audit_log::Model) -> AuditRow {
        AuditRow {
            id: m.id,
            seq: m.seq,
            at: m.at,
            actor: Actor {
                user_id: m.actor_user_id,
                api_key_id: m.actor_api_key_id,
                request_id: m.request_id,
                ..Actor::default()
            },
            action: m.action,
            object_type: m.object_type,
            object_id: m.object_id,
            changes: m.changes,
            prev_hash: m.prev_hash,
            hash: m.hash,
        }
    }
}

/// Entry `seq` of a tenant's trail (`auditAppended`), its personal values opened with `sealer`
/// (the server key's) where their subject's key still exists (`personal::reveal`).
pub async fn entry(
    conn: &impl ConnectionTrait,
    sealer: &Sealer,
    tenant_id: &str,
    seq: i64,
) -> Result<Option<AuditRow>> {
    let found = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant_id))
        .filter(audit_log::Column::Seq.eq(seq))
        .one(conn)
        .await?;
    let mut rows: Vec<AuditRow> = found.into_iter().map(AuditRow::from).collect();
    super::personal::reveal(conn, sealer, tenant_id, rows.iter_mut().map(AuditRow::sealed).collect()).await?;
    Ok(rows.pop())
}

/// Filter of `auditLog`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditFilter {
    pub action: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub actor_user_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A page of the log, newest first: entries with `seq < before_seq` (when given), their
/// personal values opened with `sealer` where their keys still exist.
pub async fn list(
    conn: &impl ConnectionTrait,
    sealer: &Sealer,
    d: Dialect,
    tenant_id: &str,
    filter: &AuditFilter,
    first: u64,
    before_seq: Option<i64>,
) -> Result<(Vec<AuditRow>, bool, i64)> {
    let mut matching = Condition::all().add(audit_log::Column::TenantId.eq(tenant_id));
    for (col, v) in [
        (audit_log::Column::Action, &filter.action),
        (audit_log::Column::ObjectType, &filter.object_type),
        (audit_log::Column::ObjectId, &filter.object_id),
        (audit_log::Column::ActorUserId, &filter.actor_user_id),
    ] {
        if let Some(v) = v {
            matching = matching.add(col.eq(v));
        }
    }
    for (from, v) in [(true, &filter.from), (false, &filter.to)] {
        if let Some(v) = v {
            let ts =
                super::time::parse(v).ok_or_else(|| Error::field("filter", "from/to must be RFC 3339"))?;
            // Compared as the entries are written (the engine's text form on SQLite).
            let ts = super::time::value(d, ts);
            let at = audit_log::Column::At;
            matching = matching.add(if from { at.gte(ts) } else { at.lte(ts) });
        }
    }
    let mut page = audit_log::Entity::find().filter(matching.clone());
    if let Some(b) = before_seq {
        page = page.filter(audit_log::Column::Seq.lt(b));
    }
    let rows = page.order_by_desc(audit_log::Column::Seq).limit(first + 1).all(conn).await?;
    let mut out: Vec<AuditRow> = rows.into_iter().map(AuditRow::from).collect();
    let more = out.len() as u64 > first;
    out.truncate(first as usize);
    super::personal::reveal(conn, sealer, tenant_id, out.iter_mut().map(AuditRow::sealed).collect()).await?;
    let total: Option<i64> = audit_log::Entity::find()
        .select_only()
        .column_as(Expr::col(Asterisk).count(), "n")
        .filter(matching)
        .into_tuple()
        .one(conn)
        .await?;
    Ok((out, more, total.unwrap_or(0)))
}

/// The result of `verifyAuditChain`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub ok: bool,
    pub checked: i64,
    /// The first entry that does not fit the chain (tampered, removed before it, or reordered).
    pub first_broken_seq: Option<i64>,
    pub first_broken_id: Option<i64>,
    pub reason: Option<String>,
}

/// Recomputes a tenant's chain in order, in pages, and reports the first broken link.
pub async fn verify(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Verification> {
    const PAGE: u64 = 1000;
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1;
    let mut checked = 0;
    loop {
        let rows = audit_log::Entity::find()
            .filter(audit_log::Column::TenantId.eq(tenant_id))
            .filter(audit_log::Column::Seq.gte(expected_seq))
            .order_by_asc(audit_log::Column::Seq)
            .limit(PAGE)
            .all(conn)
            .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let e = AuditRow::from(r);
            let broken = |reason: &str| Verification {
                ok: false,
                checked,
                first_broken_seq: Some(e.seq),
                first_broken_id: Some(e.id),
                reason: Some(reason.to_owned()),
            };
            if e.seq != expected_seq {
                return Ok(broken("an entry before this one is missing"));
            }
            if e.prev_hash != prev {
                return Ok(broken("prev_hash does not match the previous entry"));
            }
            let entry = Entry {
                action: &e.action,
                object_type: &e.object_type,
                object_id: e.object_id.as_deref(),
                changes: e.changes.clone(),
            };
            if chain(&prev, &body(tenant_id, e.seq, &e.at, &e.actor, &entry)) != e.hash {
                return Ok(broken("content does not match its hash"));
            }
            prev = e.hash.clone();
            expected_seq += 1;
            checked += 1;
        }
    }
    Ok(Verification { ok: true, checked, first_broken_seq: None, first_broken_id: None, reason: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_parts_enclose_the_sequence_number() {
        let actor = Actor::user("u-1", Some("req \"1\""));
        let entry = Entry {
            action: "record.create",
            object_type: "deal",
            object_id: Some("r-1"),
            changes: json!({"name": {"old": null, "new": "a \\ \"seq\":0"}, "zeta": {"old": 1, "new": 2}}),
        };
        let at = super::super::time::now();
        let (before, after) = body_parts("t-1", &at, &actor, &entry);
        for seq in [1, 42, 9_000_000_000] {
            assert_eq!(format!("{before}{seq}{after}"), body("t-1", seq, &at, &actor, &entry));
        }
    }
}
