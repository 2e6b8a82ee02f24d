//! A template's demo data: sample records (`demo` in the file) that `applyTemplate(…, demoData:
//! true)` creates after the template's parts, in the same transaction and through the record
//! store like any create (validation, numbering, audit, change events — so the template's
//! workflows run on them once committed). A record may name an earlier one by its `ref`: a
//! value `"$ref"` becomes that record's id (a relation to it).

use std::collections::HashMap;

use sea_orm::DatabaseTransaction;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::prefix;
use crate::runtime::audit::Actor;
use crate::runtime::meta::TenantMeta;
use crate::runtime::store::{Caller, Store, WriteRequest};
use crate::{Db, Error, FieldError, Result};

/// One sample record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoRecord {
    /// The entity, by its singular name.
    pub entity: String,
    /// A name later records use (`"$name"`) to relate to this one.
    #[serde(default, rename = "ref")]
    pub reference: Option<String>,
    /// The values, by GraphQL field name, as a create takes them.
    pub values: Map<String, Value>,
}

/// Creates `records` in order in the tenant (whose definitions are `meta`); how many.
pub async fn create(
    txn: &DatabaseTransaction,
    db: &Db,
    meta: &TenantMeta,
    records: &[DemoRecord],
    actor: &Actor,
) -> Result<usize> {
    let store = Store::new(db, &meta.tenant_id);
    let mut ids: HashMap<&str, String> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        let at = format!("demo[{i}]");
        let entity = meta.entity_by_name(&r.entity).ok_or_else(|| {
            Error::Validation(vec![FieldError::new(format!("template.{at}.entity"), "no such entity")])
        })?;
        let input: Map<String, Value> = r
            .values
            .iter()
            .map(|(k, v)| {
                let named = v.as_str().and_then(|s| s.strip_prefix('$')).and_then(|n| ids.get(n));
                (k.clone(), named.map_or_else(|| v.clone(), |id| Value::String(id.clone())))
            })
            .collect();
        let w =
            WriteRequest { meta, entity, input: &input, owner: None, caller: Caller::unrestricted(actor) };
        let record = store.create_in(txn, w).await.map_err(|e| prefix(e, &at))?;
        if let Some(name) = &r.reference {
            ids.insert(name, record.id);
        }
    }
    Ok(records.len())
}
