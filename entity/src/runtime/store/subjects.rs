//! The store's side of data-subject requests (GDPR, `features::gdpr`): finding every record,
//! live or soft-deleted, that holds an email address or phone number in a personal field, that
//! links to given records, or that has given ids; and erasing a record's personal fields.
//!
//! Erasure writes like an update — the record's index slots (generated from `data`), rollup
//! cells and ROLLUP parents follow in its transaction, and its change event goes to the outbox
//! — but its audit entry names the erased fields (`{"$erased": [...]}`) and holds none of their
//! values; the values of earlier entries are sealed under the record's key, which the caller
//! destroys in the same transaction (`personal::destroy`). A soft-deleted record is erased with
//! its audit entry only: it is in no list, cell or parent's value.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::write::stored_only;
use super::{Store, columns};
use crate::pipeline::Exec;
use crate::runtime::audit::{self, Actor};
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use crate::runtime::record::{ChangeKind, Record};
use crate::runtime::sql::text_expr;
use crate::runtime::time;
use crate::sql_buf::SqlBuf;
use crate::{Dialect, Result};

/// The member of an erasure's audit entry that names the erased fields (GraphQL names).
pub const ERASED: &str = "$erased";

impl<'a> Store<'a> {
    /// Records of `entity`, live or soft-deleted, whose field among `fields` holds `value`
    /// (compared without regard to case, as addresses are).
    pub async fn holding(
        &self,
        conn: &impl Exec,
        entity: &EntityDef,
        fields: &[&FieldDef],
        value: &str,
    ) -> Result<Vec<Record>> {
        let value = value.trim().to_lowercase();
        self.select_where(conn, entity, |buf, d| {
            buf.push("(");
            for (i, f) in fields.iter().enumerate() {
                buf.push(if i == 0 { "" } else { " OR " });
                buf.push("LOWER(").push(&text_expr(d, &f.key)).push(") = ").bind(value.clone());
            }
            buf.push(")");
        })
        .await
    }

    /// Records of `entity`, live or soft-deleted, whose RELATION field among `fields` points at
    /// one of `ids`.
    pub async fn linking(
        &self,
        conn: &impl Exec,
        entity: &EntityDef,
        fields: &[&FieldDef],
        ids: &[String],
    ) -> Result<Vec<Record>> {
        self.select_where(conn, entity, |buf, d| {
            buf.push("(");
            for (i, f) in fields.iter().enumerate() {
                buf.push(if i == 0 { "" } else { " OR " });
                buf.push(&text_expr(d, &f.key)).push(" IN (");
                for (j, id) in ids.iter().enumerate() {
                    buf.push(if j == 0 { "" } else { ", " }).bind(id.clone());
                }
                buf.push(")");
            }
            buf.push(")");
        })
        .await
    }

    /// Record `id` of `entity`, live or soft-deleted.
    pub async fn any_by_id(&self, conn: &impl Exec, entity: &EntityDef, id: &str) -> Result<Option<Record>> {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let found = self.select_where(conn, entity, |buf, _| {
            buf.push("id = ").bind_record_id(id);
        });
        Ok(found.await?.pop())
    }

    /// Every record of `entity`, live or soft-deleted, oldest first (the tenant's export).
    pub async fn all_of(&self, conn: &impl Exec, entity: &EntityDef) -> Result<Vec<Record>> {
        self.select_where(conn, entity, |buf, _| {
            buf.push("1 = 1");
        })
        .await
    }

    /// The tenant's records of `entity` (live or soft-deleted) for which `condition` holds.
    async fn select_where(
        &self,
        conn: &impl Exec,
        entity: &EntityDef,
        condition: impl FnOnce(&mut SqlBuf, Dialect),
    ) -> Result<Vec<Record>> {
        let d = self.d();
        let mut buf = SqlBuf::new(d);
        buf.push("SELECT ").push(&columns(d, entity)).push(" FROM records WHERE tenant_id = ");
        buf.bind(self.tenant_id.to_owned()).push(" AND entity_id = ").bind(entity.id.clone());
        buf.push(" AND ");
        condition(&mut buf, d);
        buf.push(" ORDER BY created_at, id");
        conn.query_all(buf.into_statement()).await?.iter().map(Record::from_row).collect()
    }

    /// Erases `record`'s personal fields in `txn` (null, or a pseudonym where the field is
    /// required: `pseudonym`); returns the erased fields' GraphQL names (none: nothing written).
    pub async fn erase_in(
        &self,
        txn: &impl Exec,
        meta: &TenantMeta,
        entity: &EntityDef,
        record: &Record,
        actor: &Actor,
    ) -> Result<Vec<String>> {
        let mut data = stored_only(entity, &record.data);
        let mut erased = Vec::new();
        for f in entity.fields.iter().filter(|f| f.personal && f.is_stored()) {
            if data.get(f.key.as_str()).is_some_and(|v| !v.is_null()) {
                data.insert(f.key.to_string(), pseudonym(f, &record.id));
                erased.push(f.graphql_name.clone());
            }
        }
        if erased.is_empty() {
            return Ok(erased);
        }
        let mut new = record.clone();
        new.data = self.computed(txn, entity, &data).await?.into();
        new.updated_at = time::now();
        new.version += 1;
        let tenant_id = self.tenant_id;
        let write: audit::Write<'_> = Box::new(|buf: &mut SqlBuf| {
            buf.push("UPDATE records SET data = ");
            buf.bind_json(&data)?;
            buf.push(", updated_at = ").bind_ts(new.updated_at);
            buf.push(", version = version + 1 WHERE tenant_id = ").bind(tenant_id.to_owned());
            buf.push(" AND id = ").bind_record_id(&record.id);
            Ok(())
        });
        let changes = json!({ ERASED: erased });
        if record.deleted_at.is_some() {
            let entry = audit::Entry {
                action: "record.update",
                object_type: &entity.name_singular,
                object_id: Some(&record.id),
                changes,
            };
            audit::append_with(txn, self.d(), tenant_id, actor, &entry, &[write]).await?;
        } else {
            let kind = (ChangeKind::Updated, &new, Some(record));
            self.record_change(txn, meta, actor, entity, kind, erased.clone(), changes, write).await?;
        }
        Ok(erased)
    }
}

/// What an erased field holds: nothing, unless it is required, when a value of its type that
/// names no one (unique per record and field, so a unique field stays unique).
fn pseudonym(f: &FieldDef, record_id: &str) -> Value {
    if !f.required {
        return Value::Null;
    }
    let mut h = Sha256::new();
    h.update(record_id.as_bytes());
    h.update(f.key.as_str().as_bytes());
    let tag = crate::hex::encode(&h.finalize()[..6]);
    match f.ty {
        FieldType::Text | FieldType::Textarea => json!(format!("erased-{tag}")),
        FieldType::Email => json!(format!("erased-{tag}@erased.invalid")),
        FieldType::Url => json!(format!("https://erased.invalid/{tag}")),
        FieldType::Json => Value::Object(Map::new()),
        // No value of these types can stand for a person without being one: cleared.
        FieldType::Phone
        | FieldType::Number
        | FieldType::Currency
        | FieldType::Boolean
        | FieldType::Date
        | FieldType::Datetime
        | FieldType::Select
        | FieldType::MultiSelect
        | FieldType::Relation
        | FieldType::File
        | FieldType::Uid => Value::Null,
    }
}
