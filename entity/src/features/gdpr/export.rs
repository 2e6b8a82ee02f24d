//! `exportPersonalData`: one JSON document with the subject's records, the records linking to
//! them and every source's part (`sources`), read in one transaction that also audits the
//! export (the record ids and counts, never the values).

use serde_json::{Map, Value, json};

use super::{SOURCES, SourceCtx, Subject, find};
use crate::runtime::audit::{self, Actor};
use crate::runtime::time;
use crate::{Db, Result};

/// The export's format tag, so a reader knows what it holds.
pub const FORMAT: &str = "alphery.personal-data.v1";

/// The subject's personal data as one document (see the module doc).
pub async fn export(db: &Db, tenant_id: &str, actor: &Actor, subject: &Subject) -> Result<Value> {
    let txn = db.begin_tenant_write(tenant_id).await?;
    let found = find(db, &txn, tenant_id, subject).await?;
    let (linked, own): (Vec<_>, Vec<_>) = found.iter().partition(|r| r.linked);
    let mut doc = Map::new();
    doc.insert("format".into(), json!(FORMAT));
    doc.insert("exportedAt".into(), json!(time::format(&time::now())));
    doc.insert("subject".into(), subject_json(subject));
    doc.insert("records".into(), Value::Array(own.iter().map(|r| r.to_json()).collect()));
    doc.insert("linkedRecords".into(), Value::Array(linked.iter().map(|r| r.to_json()).collect()));
    let ctx = SourceCtx { db, txn: &txn, tenant_id, actor };
    let mut counts = Map::new();
    for source in SOURCES {
        let part = source.export(&ctx, &found).await?;
        counts.insert(source.name().to_owned(), json!(part.as_array().map_or(1, Vec::len)));
        doc.insert(source.name().to_owned(), part);
    }
    let ids = |list: &[&super::SubjectRecord]| list.iter().map(|r| r.record.id.clone()).collect::<Vec<_>>();
    let entry = audit::Entry {
        action: "personal_data.export",
        object_type: "personal_data",
        object_id: None,
        changes: json!({"records": ids(&own), "linkedRecords": ids(&linked), "sources": counts}),
    };
    audit::append(&txn, db.dialect, tenant_id, actor, &entry).await?;
    txn.commit().await?;
    Ok(Value::Object(doc))
}

/// How the subject was named, as the export repeats it to its requester.
fn subject_json(subject: &Subject) -> Value {
    match subject {
        Subject::Email(e) => json!({ "email": e }),
        Subject::Phone(p) => json!({ "phone": p }),
        Subject::Record { entity, id } => json!({ "entity": entity, "id": id }),
    }
}
