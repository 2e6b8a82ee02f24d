//! GDPR: data-subject requests and the tenant's own export and deletion.
//!
//! A **data subject** is named by an email address, a phone number, or one record
//! (`Subject`). By address or number, the subject's records are every record, live or
//! soft-deleted, of every entity whose personal EMAIL (or PHONE) field holds it (compared
//! without regard to case); by record, that record. Each of those records is a subject record
//! with its own data key (`runtime::personal`). The **linked records** are those whose RELATION
//! fields point at a subject record (a deal of the contact): exported, not erased (their
//! personal fields, if any, are about someone else unless they hold the same address, when they
//! are subject records themselves).
//!
//! `export` (`exportPersonalData`) gathers the subject records, the linked records and what
//! every personal-data source holds about them (`sources`: the audit trail's entries, decrypted;
//! attachments plug in there), and audits the export without personal values. `erase`
//! (`erasePersonalData`), in one transaction, clears the personal fields of every subject
//! record (`Store::erase_in`), lets every source erase its part (the audit trail: the subject
//! records' keys are destroyed, crypto-shredding their sealed values), and audits the erasure
//! without personal values. `tenant` holds the owner's export of the whole tenant and its
//! deletion after a grace period.

pub mod export;
pub mod sources;
pub mod tenant;

use std::sync::Arc;

use sea_orm::DatabaseTransaction;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::runtime::audit::{self, Actor};
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use crate::runtime::personal;
use crate::runtime::record::Record;
use crate::runtime::store::Store;
use crate::runtime::time;
use crate::{Db, Error, FieldError, Result};

pub use export::export;
pub use sources::{PersonalDataSource, SOURCES, SourceCtx};

/// `PersonalDataSubject` as given: exactly one of `email`, `phone`, or `entity` with `id`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubjectInput {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub entity: Option<String>,
    pub id: Option<String>,
}

/// Whom a request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Email(String),
    Phone(String),
    Record { entity: String, id: String },
}

impl Subject {
    /// The subject `input` names; VALIDATION_FAILED unless it names exactly one.
    pub fn parse(input: SubjectInput) -> Result<Subject> {
        let given = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        match (given(input.email), given(input.phone), given(input.entity), given(input.id)) {
            (Some(e), None, None, None) => Ok(Subject::Email(e)),
            (None, Some(p), None, None) => Ok(Subject::Phone(p)),
            (None, None, Some(entity), Some(id)) => Ok(Subject::Record { entity, id }),
            _ => Err(Error::Validation(vec![FieldError::new(
                "subject",
                "give exactly one of email, phone, or entity with id",
            )])),
        }
    }
}

/// One record of a request, with its entity; `linked`: it links to a subject record.
#[derive(Debug, Clone)]
pub struct SubjectRecord {
    pub entity: Arc<EntityDef>,
    pub record: Record,
    pub linked: bool,
}

impl SubjectRecord {
    /// The record as an export shows it: its columns and its stored values by GraphQL name.
    pub fn to_json(&self) -> Value {
        let (e, r) = (&self.entity, &self.record);
        let data: Map<String, Value> = e
            .fields
            .iter()
            .filter_map(|f| Some((f.graphql_name.clone(), r.data.get(f.key.as_str())?.clone())))
            .collect();
        json!({
            "entity": e.name_singular, "id": r.id, "recordNumber": r.record_number,
            "createdAt": time::format(&r.created_at), "updatedAt": time::format(&r.updated_at),
            "deletedAt": r.deleted_at.as_ref().map(time::format),
            "data": data,
        })
    }
}

/// The subject's records, then the records linking to them, read in `txn`.
pub async fn find(
    db: &Db,
    txn: &DatabaseTransaction,
    tenant_id: &str,
    subject: &Subject,
) -> Result<Vec<SubjectRecord>> {
    // Every entity, switched on or off: the data is there either way.
    let meta = TenantMeta::load(txn, tenant_id).await?;
    let store = Store::new(db, tenant_id);
    let mut found = Vec::new();
    let by_value = match subject {
        Subject::Email(v) => Some((FieldType::Email, v)),
        Subject::Phone(v) => Some((FieldType::Phone, v)),
        Subject::Record { entity, id } => {
            let e = meta.entity_named(entity)?.clone();
            let record = store
                .any_by_id(txn, &e, id)
                .await?
                .ok_or_else(|| Error::NotFound(e.label_singular.clone()))?;
            found.push(SubjectRecord { entity: e, record, linked: false });
            None
        }
    };
    if let Some((ty, value)) = by_value {
        for e in &meta.entities {
            let fields: Vec<&FieldDef> = e.fields.iter().filter(|f| f.personal && f.ty == ty).collect();
            if fields.is_empty() {
                continue;
            }
            for record in store.holding(txn, e, &fields, value).await? {
                found.push(SubjectRecord { entity: e.clone(), record, linked: false });
            }
        }
    }
    let ids: Vec<String> = found.iter().map(|s| s.record.id.clone()).collect();
    if ids.is_empty() {
        return Ok(found);
    }
    let targets: Vec<String> = found.iter().map(|s| s.entity.id.clone()).collect();
    for e in &meta.entities {
        let relations: Vec<&FieldDef> = e
            .fields
            .iter()
            .filter(|f| f.ty == FieldType::Relation)
            .filter(|f| f.related_entity_id.as_ref().is_some_and(|t| targets.contains(t)))
            .collect();
        if relations.is_empty() {
            continue;
        }
        for record in store.linking(txn, e, &relations, &ids).await? {
            if !ids.contains(&record.id) {
                found.push(SubjectRecord { entity: e.clone(), record, linked: true });
            }
        }
    }
    Ok(found)
}

/// What an erasure did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Erasure {
    /// Subject records whose personal fields were erased.
    pub records: u64,
    /// Personal field values erased.
    pub fields: u64,
    /// Subject keys destroyed (audit values crypto-shredded).
    pub keys_destroyed: u64,
}

/// Erases the subject's personal data in one transaction of the tenant (see the module doc).
pub async fn erase(db: &Db, tenant_id: &str, actor: &Actor, subject: &Subject) -> Result<Erasure> {
    let txn = db.begin_tenant_write(tenant_id).await?;
    let found = find(db, &txn, tenant_id, subject).await?;
    let meta = TenantMeta::load(&txn, tenant_id).await?;
    let store = Store::new(db, tenant_id);
    let subjects: Vec<SubjectRecord> = found.into_iter().filter(|s| !s.linked).collect();
    let mut out = Erasure::default();
    let mut summary = Vec::new();
    for s in &subjects {
        let erased = store.erase_in(&txn, &meta, &s.entity, &s.record, actor).await?;
        out.records += u64::from(!erased.is_empty());
        out.fields += erased.len() as u64;
        summary.push(json!({"entity": s.entity.name_singular, "id": s.record.id, "fields": erased}));
    }
    let ctx = SourceCtx { db, txn: &txn, tenant_id, actor };
    let mut by_source = Map::new();
    for source in SOURCES {
        by_source.insert(source.name().to_owned(), json!(source.erase(&ctx, &subjects).await?));
    }
    let ids: Vec<String> = subjects.iter().map(|s| s.record.id.clone()).collect();
    out.keys_destroyed = personal::destroy(&txn, tenant_id, &ids).await?;
    let entry = audit::Entry {
        action: "personal_data.erase",
        object_type: "personal_data",
        object_id: None,
        changes: json!({"records": summary, "keysDestroyed": out.keys_destroyed, "sources": by_source}),
    };
    audit::append(&txn, db.dialect, tenant_id, actor, &entry).await?;
    txn.commit().await?;
    Ok(out)
}
