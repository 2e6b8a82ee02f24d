//! Relative-date triggers: a workflow owes one run per record whose DATE_TIME field plus the
//! trigger's offset passed since the last scan (and that matches its condition), keyed by the
//! record and its date value, so moving the date arms the trigger again.

use chrono::{DateTime, SecondsFormat, Utc};
use entity::features::workflows::Workflow;
use entity::runtime::filter::Target;
use entity::runtime::meta::TenantMeta;
use entity::runtime::sql::{Direction, SortKey};
use entity::{Db, Result};
use serde_json::{Value, json};

use super::records::{self, Due};

/// The runs a `relative_date` trigger (`field` + `offset_minutes`) owes for `(from, to]`;
/// `None` when the workflow's entity or field is gone.
pub(super) async fn due(
    db: &Db,
    w: &Workflow,
    field: &str,
    offset_minutes: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<Due>> {
    let meta = TenantMeta::load_for(db, &w.tenant_id).await?;
    let Some(entity) = meta.entity_by_id(&w.entity_id) else { return Ok(None) };
    let Some(def) = entity.field_by_graphql(field).or_else(|| entity.field_by_key(field)) else {
        return Ok(None);
    };
    // field + offset ∈ (from, to]  ⇔  field ∈ (from − offset, to − offset]
    let offset = chrono::Duration::minutes(offset_minutes);
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Micros, true);
    let window = json!({ def.graphql_name.clone(): {"gt": stamp(from - offset), "lte": stamp(to - offset)} });
    let filter = match &w.definition.condition {
        Some(c) => json!({"and": [window, c]}),
        None => window,
    };
    let order = SortKey { target: Target::Field(Box::new(def.clone())), direction: Direction::Asc };
    let key = |id: &str, data: &Value| {
        format!("date:{id}:{}", data.get(def.key.as_str()).and_then(Value::as_str).unwrap_or_default())
    };
    let due = records::matching(db, &w.tenant_id, entity, Some(filter), Some(order), key).await?;
    Ok(Some(due))
}
