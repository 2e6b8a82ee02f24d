//! A stored record as plain data: its columns (`Record`), its values (`data`: `RecordData`,
//! parsed lazily), and what a committed change of one tells the rest of the system
//! (`ChangeEvent`, which the store writes to the outbox). Below everything that reads records —
//! the filter's in-memory evaluation, sort keys, the store, live events, the features — and
//! above only the metadata that comparing two records needs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::meta::EntityDef;

pub mod data;

use data::RecordData;

/// One stored record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub entity_id: String,
    /// Values keyed by field key, in their stored form (see `value`).
    pub data: RecordData,
    pub owner_id: Option<String>,
    pub created_by: Option<String>,
    pub number: Option<i64>,
    pub record_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub version: i64,
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    Restored,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 4] =
        [ChangeKind::Created, ChangeKind::Updated, ChangeKind::Deleted, ChangeKind::Restored];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "CREATED",
            ChangeKind::Updated => "UPDATED",
            ChangeKind::Deleted => "DELETED",
            ChangeKind::Restored => "RESTORED",
        }
    }
}

/// A committed change, as written to the outbox and delivered to subscribers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeEvent {
    pub tenant_id: String,
    pub entity_id: String,
    pub kind: ChangeKind,
    pub record: Record,
    /// GraphQL names of the fields whose values changed.
    pub changed_fields: Vec<String>,
    /// The stored values before an update (keyed by field key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Map<String, Value>>,
    /// The columns a filter reads besides the values, before an update (`before`). Absent from
    /// rows of earlier versions: those read as unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_columns: Option<PreviousColumns>,
    /// Workflow hops that led to this change (0 for a person's or an integration's write).
    #[serde(default)]
    pub depth: u32,
    /// No workflow runs for this change (`Actor::workflows_off`: an import that switched them
    /// off); subscribers and webhooks still hear of it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub workflows_off: bool,
}

/// `ChangeEvent::previous_columns`: what an update may change of a record's columns that a
/// filter or a row rule can test (`filter::Target`), so that a subscriber can tell whether the
/// record matched before the change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PreviousColumns {
    pub owner_id: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl ChangeEvent {
    /// The record as it was before an update (`None` for other kinds of change, or an update
    /// written without its previous values): what a filter matched then.
    pub fn before(&self) -> Option<Record> {
        let (ChangeKind::Updated, Some(previous)) = (self.kind, &self.previous) else { return None };
        let mut before = self.record.clone();
        before.data = RecordData::from(previous.clone());
        if let Some(c) = &self.previous_columns {
            before.owner_id = c.owner_id.clone();
            before.updated_at = c.updated_at;
        }
        Some(before)
    }
}

impl Record {
    /// The GraphQL names of fields whose stored values differ between `self` and `other`.
    pub fn changed_fields(&self, other: &Record, entity: &EntityDef) -> Vec<String> {
        let mut out: Vec<String> = entity
            .fields
            .iter()
            .filter(|f| self.data.get(f.key.as_str()) != other.data.get(f.key.as_str()))
            .map(|f| f.graphql_name.clone())
            .collect();
        if self.owner_id != other.owner_id {
            out.push("owner".into());
        }
        out
    }
}
