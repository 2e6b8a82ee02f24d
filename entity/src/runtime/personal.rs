//! Personal data in the audit trail: crypto-shredding.
//!
//! A field marked `personal` (`FieldDef::personal`) holds personal data. The **subject** of a
//! personal value is the record that holds it: each such record gets one data key (256 bits,
//! `subject_keys`, sealed with the server key bound to its tenant and key id). When a write's
//! audit entry holds a personal field's `{old, new}`, that pair is sealed under the record's key
//! (AES-256-GCM, bound to the tenant, record and field) and stored as
//! `{"$sealed": {"key": <key id>, "value": "v1.…"}}`. The entry's hash covers that ciphertext,
//! so destroying the key row (`destroy`: the erasure of a data subject) leaves
//! `verifyAuditChain` intact while the old values can no longer be read: reads (`reveal`)
//! show a sealed pair whose key is gone as `{"erased": true}`.
//!
//! A person identified by an email address or a phone number is the set of records whose
//! personal EMAIL or PHONE fields hold it (`features::gdpr`), so their keys are that person's.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};

use super::meta::EntityDef;
use crate::models::subject_key;
use crate::pipeline::Exec;
use crate::sealed::{Sealer, random_fill};
use crate::sql_buf::SqlBuf;
use crate::{Db, Error, Result};

/// The member that marks a sealed `{old, new}` pair in an audit entry's changes.
pub const SEALED: &str = "$sealed";

/// What a sealed pair reads as once its key is destroyed.
pub fn erased() -> Value {
    json!({ "erased": true })
}

/// What a data key is sealed for (with the server key): its tenant and id.
fn key_context(tenant_id: &str, key_id: &str) -> String {
    format!("subject-key/{tenant_id}/{key_id}")
}

/// What a field's sealed pair is bound to: a pair copied onto another record or field does not
/// open.
fn value_context(tenant_id: &str, subject_id: &str, field: &str) -> String {
    format!("personal/{tenant_id}/{subject_id}/{field}")
}

/// Seals, in `changes` (an audit entry's `{field: {old, new}}`), the pairs of `entity`'s personal
/// fields under the key of record `subject_id`, creating the key in `txn` when the record has
/// none (its first personal value, or its first since an erasure destroyed the last). Changes
/// without a personal field cost nothing.
pub async fn seal_changes(
    txn: &impl Exec,
    db: &Db,
    tenant_id: &str,
    entity: &EntityDef,
    subject_id: &str,
    changes: &mut Value,
) -> Result<()> {
    let Value::Object(map) = changes else { return Ok(()) };
    let fields: Vec<&str> = entity
        .fields
        .iter()
        .filter(|f| f.personal && map.contains_key(f.key.as_str()))
        .map(|f| f.key.as_str())
        .collect();
    if fields.is_empty() {
        return Ok(());
    }
    let (key_id, key) = subject_key(txn, db, tenant_id, subject_id).await?;
    for field in fields {
        if let Some(pair) = map.remove(field) {
            let plain = serde_json::to_vec(&pair)?;
            let sealed = key.seal(&plain, &value_context(tenant_id, subject_id, field))?;
            map.insert(field.to_owned(), json!({ SEALED: { "key": key_id, "value": sealed } }));
        }
    }
    Ok(())
}

/// The data key of record `subject_id` (its id and a sealer of it), created when it has none.
async fn subject_key(
    txn: &impl Exec,
    db: &Db,
    tenant_id: &str,
    subject_id: &str,
) -> Result<(String, Sealer)> {
    let server = db.sealer()?;
    let existing = |buf: &mut SqlBuf| {
        buf.push("SELECT id, sealed_key FROM subject_keys WHERE tenant_id = ").bind(tenant_id.to_owned());
        buf.push(" AND subject_id = ").bind(subject_id.to_owned());
    };
    let mut buf = SqlBuf::new(db.dialect);
    existing(&mut buf);
    let mut row = txn.query_one(buf.into_statement()).await?;
    if row.is_none() {
        let id = uuid::Uuid::new_v4().to_string();
        let mut raw = [0u8; 32];
        random_fill(&mut raw)?;
        let sealed = server.seal(&raw, &key_context(tenant_id, &id))?;
        let mut buf = SqlBuf::new(db.dialect);
        buf.push("INSERT INTO subject_keys (id, tenant_id, subject_id, sealed_key, created_at) VALUES (");
        buf.bind(id).push(", ").bind(tenant_id.to_owned()).push(", ").bind(subject_id.to_owned());
        buf.push(", ").bind(sealed).push(", ").bind_ts(super::time::now());
        buf.push(") ON CONFLICT (tenant_id, subject_id) DO NOTHING RETURNING id, sealed_key");
        row = txn.query_one(buf.into_statement()).await?;
        if row.is_none() {
            // A concurrent writer created it first: theirs is the record's key.
            let mut buf = SqlBuf::new(db.dialect);
            existing(&mut buf);
            row = txn.query_one(buf.into_statement()).await?;
        }
    }
    let row = row.ok_or_else(|| Error::Internal("subject key missing".into()))?;
    let (id, sealed): (String, String) = (row.try_get("", "id")?, row.try_get("", "sealed_key")?);
    let key = open_key(server, tenant_id, &id, &sealed)
        .ok_or_else(|| Error::Internal("a subject key does not open with the server key".into()))?;
    Ok((id, key))
}

/// The data key stored as `sealed_key` in key row `key_id`, opened with the server key.
pub fn open_key(server: &Sealer, tenant_id: &str, key_id: &str, sealed_key: &str) -> Option<Sealer> {
    Sealer::with_key(&server.open(sealed_key, &key_context(tenant_id, key_id))?).ok()
}

/// The `{old, new}` pair `sealed` holds for `field` of record `subject_id`, opened with `key`.
pub fn open_pair(
    key: &Sealer,
    tenant_id: &str,
    subject_id: &str,
    field: &str,
    sealed: &str,
) -> Option<Value> {
    serde_json::from_slice(&key.open(sealed, &value_context(tenant_id, subject_id, field))?).ok()
}

/// The key id of a sealed pair (`{"$sealed": {"key", "value"}}`), if `pair` is one.
fn sealed_key_id(pair: &Value) -> Option<&str> {
    pair.get(SEALED)?.get("key")?.as_str()
}

/// Opens, in place, the sealed pairs of audit entries' changes, each given with the record it
/// is about (`audit::AuditRow::sealed`; one statement for all their keys): a pair whose key
/// exists reads as it was written, one whose key was destroyed as `erased()`.
pub async fn reveal(
    conn: &impl ConnectionTrait,
    server: &Sealer,
    tenant_id: &str,
    mut entries: Vec<(&str, &mut Value)>,
) -> Result<()> {
    let mut ids: Vec<String> = entries
        .iter()
        .filter_map(|(_, changes)| changes.as_object())
        .flat_map(|m| m.values().filter_map(sealed_key_id))
        .map(str::to_owned)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort();
    ids.dedup();
    let keys: HashMap<String, Sealer> = subject_key::Entity::find()
        .filter(subject_key::Column::TenantId.eq(tenant_id))
        .filter(subject_key::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|k| Some((k.id.clone(), open_key(server, tenant_id, &k.id, &k.sealed_key)?)))
        .collect();
    for (subject, changes) in entries.iter_mut() {
        if let Value::Object(map) = changes {
            open_pairs(map, &keys, tenant_id, subject);
        }
    }
    Ok(())
}

/// `map`'s sealed pairs opened with `keys` (or erased).
fn open_pairs(map: &mut Map<String, Value>, keys: &HashMap<String, Sealer>, tenant_id: &str, subject: &str) {
    for (field, pair) in map.iter_mut() {
        let Some(key_id) = sealed_key_id(pair) else { continue };
        let opened = keys.get(key_id).and_then(|key| {
            open_pair(key, tenant_id, subject, field, pair.get(SEALED)?.get("value")?.as_str()?)
        });
        *pair = opened.unwrap_or_else(erased);
    }
}

/// Destroys the data keys of `subject_ids` in `txn` (crypto-shredding): every audit value
/// sealed under them becomes unreadable. Returns how many keys there were.
pub async fn destroy(conn: &impl ConnectionTrait, tenant_id: &str, subject_ids: &[String]) -> Result<u64> {
    if subject_ids.is_empty() {
        return Ok(0);
    }
    let done = subject_key::Entity::delete_many()
        .filter(subject_key::Column::TenantId.eq(tenant_id))
        .filter(subject_key::Column::SubjectId.is_in(subject_ids.iter().cloned()))
        .exec(conn)
        .await?;
    Ok(done.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_pair_opens_with_its_key_and_reads_erased_without_it() {
        let key = Sealer::with_key(&[7u8; 32]).expect("a key");
        let pair = json!({"old": null, "new": "ada@example.com"});
        let sealed = key.seal(&serde_json::to_vec(&pair).expect("json"), &value_context("t", "r", "email"));
        let stored = json!({ "email": { SEALED: { "key": "k1", "value": sealed.expect("sealed") } } });
        let text = stored.to_string();
        assert!(!text.contains("ada@example.com"), "the stored form is not the clear text");
        let mut with_key = stored.as_object().cloned().expect("an object");
        open_pairs(&mut with_key, &HashMap::from([("k1".to_owned(), key)]), "t", "r");
        assert_eq!(with_key["email"], pair);
        let mut without = stored.as_object().cloned().expect("an object");
        open_pairs(&mut without, &HashMap::new(), "t", "r");
        assert_eq!(without["email"], erased());
    }
}
