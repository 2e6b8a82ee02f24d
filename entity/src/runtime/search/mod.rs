//! Full-text search of fields marked `searchable`: one entry per (record, field) in
//! `record_search` (migration 41), shared by every tenant, holding the field's text. The
//! database derives what it searches from the text (PostgreSQL: a `tsvector` under a GIN index
//! on `(tenant_id, doc)`; SQLite: an FTS5 table whose match always names the tenant), so one
//! index serves 10,000 tenants without an index per tenant. An entry per field, not per record,
//! lets a search leave out the fields a role may not read: a word found only in such a field
//! finds nothing (`query`).
//!
//! Entries are written in the transaction of every record write (`writes`: create, update,
//! delete and restore; the store adds them to the statements of `record_change`), so a search
//! sees exactly the committed records. Marking a field `searchable` writes the entries of
//! existing records (`assign`, from every definition change): the first `BATCH` in the change's
//! transaction, the rest in a job (`OutboxEvent::SearchBuild`), a transaction per batch, so no
//! other tenant waits. Searches read a field's entries once all are written
//! (`FieldDef::search_used`); until then, and for an entity with no such field, `search:` is
//! the substring match it always was. Unmarking a field, removing it or its entity removes its
//! entries in that change's transaction (`forget`).

pub mod query;
pub mod text;

use std::collections::BTreeSet;

use sea_orm::ConnectionTrait;
use serde_json::{Map, Value};

use super::audit;
use super::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use super::outbox::{self, SearchBuild};
use super::sql;
use crate::sql_buf::SqlBuf;
use crate::{Db, Dialect, Result};

/// Records a back-fill writes per transaction: more than this goes on in a job.
pub const BATCH: u64 = 2_000;

/// The text a search finds of a stored value of `f`: trimmed text, or a MULTI_SELECT's options
/// joined; `None` for no value (no entry is kept).
pub fn body(f: &FieldDef, v: Option<&Value>) -> Option<String> {
    let text = match v? {
        Value::String(s) => s.trim().to_owned(),
        Value::Array(items) => {
            items.iter().filter_map(Value::as_str).map(str::trim).collect::<Vec<_>>().join(", ")
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Object(_) => return None,
    };
    (kept(f) && !text.is_empty()).then_some(text)
}

/// Whether writes keep entries of `f`: searchable and stored (its back-fill may be under way).
fn kept(f: &FieldDef) -> bool {
    f.searchable && f.is_stored() && f.ty.searchable()
}

/// One entry to write: field key and text.
type Entry = (String, String);

/// The statements that bring record `record_id`'s entries from `before` to `after` (its stored
/// values before and after the write; `None`: not live): an upsert of the fields whose text is
/// new or changed, and a delete of those whose text is gone. Nothing for an entity with no
/// searchable field, so such writes cost nothing more.
pub fn writes<'w>(
    tenant_id: &str,
    entity: &EntityDef,
    record_id: &str,
    before: Option<&Map<String, Value>>,
    after: Option<&Map<String, Value>>,
) -> Vec<audit::Write<'w>> {
    let (mut upserts, mut gone): (Vec<Entry>, Vec<String>) = (Vec::new(), Vec::new());
    for f in entity.fields.iter().filter(|f| kept(f)) {
        let old = before.and_then(|d| body(f, d.get(f.key.as_str())));
        let new = after.and_then(|d| body(f, d.get(f.key.as_str())));
        match new {
            Some(text) if old.as_ref() != Some(&text) => upserts.push((f.key.to_string(), text)),
            Some(_) => {}
            None if old.is_some() => gone.push(f.key.to_string()),
            None => {}
        }
    }
    let mut out: Vec<audit::Write<'w>> = Vec::new();
    let (tenant, entity_id, id) = (tenant_id.to_owned(), entity.id.clone(), record_id.to_owned());
    if !gone.is_empty() {
        let (tenant, id) = (tenant.clone(), id.clone());
        out.push(Box::new(move |buf: &mut SqlBuf| {
            push_delete(buf, &tenant, &id, &gone);
            Ok(())
        }));
    }
    if !upserts.is_empty() {
        out.push(Box::new(move |buf: &mut SqlBuf| {
            let rows: Vec<(&str, &str, &str)> =
                upserts.iter().map(|(k, t)| (id.as_str(), k.as_str(), t.as_str())).collect();
            push_upsert(buf, &tenant, &entity_id, &rows, true);
            Ok(())
        }));
    }
    out
}

/// `DELETE` of record `record_id`'s entries of the fields `keys`.
fn push_delete(buf: &mut SqlBuf, tenant_id: &str, record_id: &str, keys: &[String]) {
    buf.push("DELETE FROM record_search WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND record_id = ").bind_record_id(record_id).push(" AND field_key IN (");
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.bind(k.clone());
    }
    buf.push(")");
}

/// `INSERT` of entries (record id, field key, text). `replace`: a record write's newer text
/// replaces an entry; otherwise (a back-fill, which read the record earlier) an entry that a
/// write made meanwhile stays.
fn push_upsert(
    buf: &mut SqlBuf,
    tenant_id: &str,
    entity_id: &str,
    rows: &[(&str, &str, &str)],
    replace: bool,
) {
    buf.push("INSERT INTO record_search (tenant_id, entity_id, record_id, field_key, body) VALUES ");
    for (i, (id, key, text)) in rows.iter().enumerate() {
        if i > 0 {
            buf.push(", ");
        }
        buf.push("(").bind(tenant_id.to_owned()).push(", ").bind(entity_id.to_owned()).push(", ");
        buf.bind_record_id(id)
            .push(", ")
            .bind((*key).to_owned())
            .push(", ")
            .bind((*text).to_owned())
            .push(")");
    }
    buf.push(" ON CONFLICT (record_id, field_key) DO ");
    buf.push(if replace { "UPDATE SET body = excluded.body" } else { "NOTHING" });
}

/// Removes the entries of field `key` of `entity_id` (unmarked or removed), or of every field
/// of the entity (`None`: the entity is deleted), in the caller's transaction.
pub async fn forget(
    conn: &impl ConnectionTrait,
    d: Dialect,
    tenant_id: &str,
    entity_id: &str,
    key: Option<&str>,
) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("DELETE FROM record_search WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND entity_id = ").bind(entity_id.to_owned());
    if let Some(k) = key {
        buf.push(" AND field_key = ").bind(k.to_owned());
    }
    conn.execute_raw(buf.into_statement()).await?;
    Ok(())
}

/// Whether an entity's entries are all written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Done,
    More,
}

/// In every definition change's transaction (after the metadata version was bumped): for each
/// entity with a searchable field whose entries are not all written, a first batch of them
/// (`converge`); a larger entity's rest is left to a job (`OutboxEvent::SearchBuild`).
pub async fn assign(conn: &impl ConnectionTrait, d: Dialect, tenant_id: &str) -> Result<()> {
    let mut buf = SqlBuf::new(d);
    buf.push("SELECT DISTINCT entity_id FROM field_defs WHERE tenant_id = ").bind(tenant_id.to_owned());
    buf.push(" AND searchable = ").bind(true).push(" AND search_ready = ").bind(false);
    let rows = conn.query_all_raw(buf.into_statement()).await?;
    let entities: BTreeSet<String> =
        rows.iter().map(|r| r.try_get::<String>("", "entity_id")).collect::<std::result::Result<_, _>>()?;
    if entities.is_empty() {
        return Ok(());
    }
    let meta = TenantMeta::load(conn, tenant_id).await?;
    for entity_id in entities {
        if converge(conn, d, &meta, &entity_id, false).await? == Progress::More {
            outbox::write(conn, d, tenant_id, &SearchBuild { entity_id }).await?;
        }
    }
    Ok(())
}

/// One batch of the entity's missing entries: for each searchable field not yet ready, at most
/// `BATCH` live records with a value and no entry get one. When a field has no such record
/// left it becomes ready; with `announce` (a job) the tenant's metadata version is bumped too,
/// so every instance reloads the definitions and starts searching the field's entries.
pub async fn converge(
    conn: &impl ConnectionTrait,
    d: Dialect,
    meta: &TenantMeta,
    entity_id: &str,
    announce: bool,
) -> Result<Progress> {
    let Some(entity) = meta.entity_by_id(entity_id) else { return Ok(Progress::Done) };
    let tenant_id = meta.tenant_id.as_str();
    let mut progress = Progress::Done;
    let mut ready = Vec::new();
    for f in entity.fields.iter().filter(|f| kept(f) && !f.search_ready) {
        let text = sql::text_expr(d, &f.key);
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT ").push(sql::record_id_text(d)).push(" AS id, ").push(&text);
        buf.push(" AS v FROM records WHERE tenant_id = ").bind(tenant_id.to_owned());
        buf.push(" AND entity_id = ").bind(entity_id.to_owned()).push(" AND deleted_at IS NULL AND ");
        // What `body` keeps no entry of is not asked for again in the next batch.
        buf.push("COALESCE(trim(").push(&text).push("), '') NOT IN ('', '[]') AND NOT EXISTS ");
        buf.push("(SELECT 1 FROM record_search s WHERE s.record_id = records.id AND s.field_key = ");
        buf.bind(f.key.to_string()).push(") LIMIT ").push(&BATCH.to_string());
        let rows = conn.query_all_raw(buf.into_statement()).await?;
        let mut entries = Vec::new();
        for r in &rows {
            let id: String = r.try_get("", "id")?;
            let v: String = r.try_get("", "v")?;
            // A MULTI_SELECT's value reads back as its JSON array.
            let value = if f.ty == FieldType::MultiSelect {
                serde_json::from_str(&v).unwrap_or(Value::String(v))
            } else {
                Value::String(v)
            };
            if let Some(text) = body(f, Some(&value)) {
                entries.push((id, text));
            }
        }
        if !entries.is_empty() {
            let key = f.key.to_string();
            let rows: Vec<(&str, &str, &str)> =
                entries.iter().map(|(id, t)| (id.as_str(), key.as_str(), t.as_str())).collect();
            let mut buf = SqlBuf::new(d);
            push_upsert(&mut buf, tenant_id, entity_id, &rows, false);
            conn.execute_raw(buf.into_statement()).await?;
        }
        if rows.len() as u64 >= BATCH {
            progress = Progress::More;
        } else {
            ready.push(f.id.clone());
        }
    }
    for id in &ready {
        let mut buf = SqlBuf::new(d);
        buf.push("UPDATE field_defs SET search_ready = ").bind(true).push(" WHERE id = ").bind(id.clone());
        conn.execute_raw(buf.into_statement()).await?;
    }
    if announce && !ready.is_empty() {
        super::signals::metadata_changed(conn, d, tenant_id).await?;
    }
    Ok(progress)
}

/// A back-fill job (`OutboxEvent::SearchBuild`): batches of `converge`, each in a transaction
/// of its own with the definitions as they then are, until the entity's entries are written.
/// Idempotent.
pub async fn run_job(db: &Db, tenant_id: &str, entity_id: &str) -> Result<()> {
    loop {
        let txn = db.begin_tenant_write(tenant_id).await?;
        let meta = TenantMeta::load(&txn, tenant_id).await?;
        let progress = converge(&txn, db.dialect, &meta, entity_id, true).await?;
        txn.commit().await?;
        if progress == Progress::Done {
            return Ok(());
        }
    }
}
