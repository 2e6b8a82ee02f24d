//! A record's timeline ("Smart Feed"): one newest-first feed merging its audited changes
//! (field, old → new, actor), the records related to it (anything with a RELATION field to
//! it, one level; those of the activity entity as notes), the emails its workflow runs sent,
//! those runs, and the decisions on its approval requests. Every item is read as the caller
//! may read it: changes of the fields its view holds, related records within its row rules
//! and views. Pages are cut at a cursor of (time, kind, id) and cost one statement per source,
//! never one per item.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Map, Value, json};

use crate::models::audit_log;
use crate::runtime::cursor;
use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::{EntityDef, FieldType};
use crate::runtime::record::Record;
use crate::runtime::sql::{Direction, SortKey};
use crate::runtime::store::{ListArgs, Store};
use crate::runtime::{personal, time};
use crate::sealed::Sealer;
use crate::sql_buf::SqlBuf;
use crate::{Error, Result};

/// How many of a record's emails, workflow runs or approval decisions a page looks at (the
/// newest): these are few per record, so they are read whole and cut in memory.
const PLATFORM_CAP: u64 = 500;

/// What an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Change,
    Related,
    Note,
    Email,
    WorkflowRun,
    Approval,
}

impl Kind {
    pub const ALL: [Kind; 6] =
        [Kind::Change, Kind::Related, Kind::Note, Kind::Email, Kind::WorkflowRun, Kind::Approval];

    /// The public enum value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Change => "CHANGE",
            Kind::Related => "RELATED",
            Kind::Note => "NOTE",
            Kind::Email => "EMAIL",
            Kind::WorkflowRun => "WORKFLOW_RUN",
            Kind::Approval => "APPROVAL",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One field of a change: its GraphQL name and its values before and after.
#[derive(Debug, Clone)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// One item of a timeline.
#[derive(Debug, Clone)]
pub struct Item {
    pub at: DateTime<Utc>,
    pub kind: Kind,
    /// The id of what it shows (an audit entry's sequence number, a record's, an email's…).
    pub id: String,
    pub title: String,
    /// Who did it, when a user did.
    pub actor: Option<String>,
    pub changes: Vec<Change>,
    /// A related record's entity (`nameSingular`) and id.
    pub entity: Option<String>,
    pub record_id: Option<String>,
    /// A related record's readable fields (GraphQL names), with `id` and `createdAt`.
    pub record: Option<Value>,
    /// An email's or run's status, an approval decision's resulting state.
    pub status: Option<String>,
}

impl Item {
    /// Its place in the feed: newest first, then by kind and id (both descending).
    fn key(&self) -> (DateTime<Utc>, &'static str, &str) {
        (self.at, self.kind.as_str(), self.id.as_str())
    }

    /// Its cursor.
    pub fn cursor(&self) -> String {
        cursor::encode(SIGNATURE, &[json!(time::format(&self.at)), json!(self.kind.as_str()), json!(self.id)])
    }
}

const SIGNATURE: &str = "timeline";

/// A position in a timeline: items strictly after it (older) follow.
#[derive(Debug, Clone)]
pub struct Cursor {
    at: DateTime<Utc>,
    kind: &'static str,
    id: String,
}

impl Cursor {
    pub fn decode(s: &str) -> Result<Cursor> {
        let bad = || Error::BadRequest("`after` is not a cursor of a timeline".into());
        let v = cursor::decode(SIGNATURE, 3, s)?;
        let at = v[0].as_str().and_then(time::parse).ok_or_else(bad)?;
        let kind = v[1].as_str().and_then(Kind::parse).ok_or_else(bad)?.as_str();
        let id = v[2].as_str().ok_or_else(bad)?.to_owned();
        Ok(Cursor { at, kind, id })
    }

    fn passed(&self, item: &Item) -> bool {
        item.key() < (self.at, self.kind, self.id.as_str())
    }
}

/// An entity whose records relate to the timeline's record, as the caller reads it.
pub struct Related<'a> {
    /// The caller's view of the entity (readable fields only).
    pub view: &'a EntityDef,
    pub row: Option<&'a Filter>,
    /// Its records show as notes (it plays the CRM's activity).
    pub notes: bool,
}

/// What a page asks for.
pub struct Request<'a> {
    /// The caller's view of the record's entity, and the record (read within its row rule).
    pub view: &'a EntityDef,
    pub record: &'a Record,
    pub related: Vec<Related<'a>>,
    /// The kinds to show.
    pub kinds: Vec<Kind>,
    pub first: usize,
    pub after: Option<Cursor>,
}

impl Request<'_> {
    fn wants(&self, k: Kind) -> bool {
        self.kinds.contains(&k)
    }

    /// Rows a source reads for a page: enough for the page, and for the items of its time that
    /// earlier pages showed (cut away in memory).
    fn per_source(&self) -> u64 {
        (self.first as u64) * 2 + 1
    }
}

/// A page: its items and whether more follow.
pub struct Page {
    pub items: Vec<Item>,
    pub has_next: bool,
}

/// A page of `req.record`'s timeline.
pub async fn page(store: &Store<'_>, sealer: &Sealer, req: &Request<'_>) -> Result<Page> {
    let mut items = Vec::new();
    if req.wants(Kind::Change) {
        items.extend(changes(store, sealer, req).await?);
    }
    for r in &req.related {
        let kind = if r.notes { Kind::Note } else { Kind::Related };
        if req.wants(kind) {
            items.extend(related(store, req, r, kind).await?);
        }
    }
    let platform = [Kind::Email, Kind::WorkflowRun, Kind::Approval];
    if platform.iter().any(|k| req.wants(*k)) {
        items.extend(platform_items(store, req).await?);
    }
    items.retain(|i| req.wants(i.kind) && req.after.as_ref().is_none_or(|c| c.passed(i)));
    items.sort_by(|a, b| b.key().cmp(&a.key()));
    let has_next = items.len() > req.first;
    items.truncate(req.first);
    Ok(Page { items, has_next })
}

/// The record's audited changes, each with only the fields the caller's view holds; an update
/// that changed none of them is left out.
async fn changes(store: &Store<'_>, sealer: &Sealer, req: &Request<'_>) -> Result<Vec<Item>> {
    let d = store.db.dialect;
    let txn = store.db.begin_tenant_read(store.tenant_id).await?;
    let mut q = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(store.tenant_id))
        .filter(audit_log::Column::ObjectType.eq(req.view.name_singular.as_str()))
        .filter(audit_log::Column::ObjectId.eq(req.record.id.as_str()))
        .filter(audit_log::Column::Action.starts_with("record."));
    if let Some(c) = &req.after {
        q = q.filter(audit_log::Column::At.lte(time::value(d, c.at)));
    }
    let mut rows = q
        .order_by_desc(audit_log::Column::At)
        .order_by_desc(audit_log::Column::Seq)
        .limit(req.per_source())
        .all(&txn)
        .await?;
    let sealed = rows.iter_mut().map(|r| (req.record.id.as_str(), &mut r.changes)).collect();
    personal::reveal(&txn, sealer, store.tenant_id, sealed).await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let changes = readable_changes(req.view, &r.changes);
            let verb = r.action.trim_start_matches("record.");
            if verb == "update" && changes.is_empty() {
                return None;
            }
            Some(Item {
                at: r.at,
                kind: Kind::Change,
                // Zero-padded, so that ids compare as their numbers do.
                id: format!("{:020}", r.seq),
                // created, updated, deleted, restored
                title: format!("{} {verb}d", req.view.label_singular),
                actor: r.actor_user_id,
                changes,
                entity: None,
                record_id: None,
                record: None,
                status: None,
            })
        })
        .collect())
}

/// `{key: {old, new}}` as changes of the fields `view` holds (and of the owner).
fn readable_changes(view: &EntityDef, changes: &Value) -> Vec<Change> {
    let Some(m) = changes.as_object() else { return Vec::new() };
    m.iter()
        .filter_map(|(k, pair)| {
            let field = match k.as_str() {
                "$owner" => "owner".to_owned(),
                key => view.field_by_key(key)?.graphql_name.clone(),
            };
            Some(Change { field, old: pair["old"].clone(), new: pair["new"].clone() })
        })
        .collect()
}

/// The records of `r` linked to the record through any of its RELATION fields the caller
/// reads, newest first: one statement per such field.
async fn related(store: &Store<'_>, req: &Request<'_>, r: &Related<'_>, kind: Kind) -> Result<Vec<Item>> {
    let target = req.record.entity_id.as_str();
    let mut out = Vec::new();
    for link in r
        .view
        .fields
        .iter()
        .filter(|f| f.ty == FieldType::Relation && f.related_entity_id.as_deref() == Some(target))
    {
        let mut filter = json!({ link.graphql_name.clone(): {"eq": req.record.id} });
        if let Some(c) = &req.after {
            filter["createdAt"] = json!({"lte": time::format(&c.at)});
        }
        let order = vec![SortKey { target: Target::CreatedAt, direction: Direction::Desc }];
        let limit = req.per_source();
        let args = ListArgs {
            filter: Some(Filter::parse(r.view, &filter)?),
            order,
            first: Some(limit),
            ..ListArgs::default()
        }
        .restrict(r.row);
        for rec in store.list(r.view, &args, limit).await?.records {
            if out.iter().any(|i: &Item| i.id == rec.id) {
                continue;
            }
            out.push(Item {
                at: rec.created_at,
                kind,
                id: rec.id.clone(),
                title: title_of(r.view, &rec),
                actor: rec.created_by.clone(),
                changes: Vec::new(),
                entity: Some(r.view.name_singular.clone()),
                record_id: Some(rec.id.clone()),
                record: Some(shown(r.view, &rec)),
                status: None,
            });
        }
    }
    Ok(out)
}

/// What to call a record: its first readable text value, else its record number, else its id.
pub fn title_of(view: &EntityDef, r: &Record) -> String {
    view.fields
        .iter()
        .filter(|f| matches!(f.ty, FieldType::Text | FieldType::Textarea | FieldType::Email))
        .find_map(|f| r.data.get(f.key.as_str()).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .map(str::to_owned)
        .or_else(|| r.record_number.clone())
        .unwrap_or_else(|| r.id.clone())
}

/// A record as the caller reads it: `id`, `recordNumber`, `createdAt` and the values of the
/// fields `view` holds (GraphQL names).
pub fn shown(view: &EntityDef, r: &Record) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(r.id));
    m.insert("recordNumber".into(), json!(r.record_number));
    m.insert("createdAt".into(), json!(time::format(&r.created_at)));
    for f in &view.fields {
        if let Some(v) = r.data.get(f.key.as_str()) {
            m.insert(f.graphql_name.clone(), v.clone());
        }
    }
    Value::Object(m)
}

/// The record's workflow runs, the emails sent about it and the decisions on its approval
/// requests (one statement each, in one read transaction).
async fn platform_items(store: &Store<'_>, req: &Request<'_>) -> Result<Vec<Item>> {
    let (d, tenant, id) = (store.db.dialect, store.tenant_id, req.record.id.as_str());
    let statements = [
        (
            Kind::Email,
            // By the email's own link to the record (the index `emails_by_record`).
            "SELECT e.id, e.subject AS title, e.status, e.created_at AS at, CAST(NULL AS VARCHAR(36)) AS actor FROM emails e \
             WHERE e.tenant_id = ",
            " AND e.record_id = ",
            " ORDER BY e.created_at DESC",
        ),
        (
            Kind::WorkflowRun,
            "SELECT r.id, w.name AS title, r.status, r.started_at AS at, CAST(NULL AS VARCHAR(36)) AS actor FROM workflow_runs r \
             JOIN workflows w ON w.id = r.workflow_id WHERE r.tenant_id = ",
            " AND r.record_id = ",
            " ORDER BY r.started_at DESC",
        ),
        (
            Kind::Approval,
            "SELECT a.id, p.name AS title, a.to_state AS status, a.decided_at AS at, a.decided_by AS actor \
             FROM approval_decisions a JOIN approval_requests q ON q.id = a.request_id \
             JOIN approval_policies p ON p.id = q.policy_id WHERE q.tenant_id = ",
            " AND q.record_id = ",
            " ORDER BY a.decided_at DESC",
        ),
    ];
    let txn = store.db.begin_tenant_read(tenant).await?;
    let mut out = Vec::new();
    for (kind, head, by_record, order) in statements {
        if !req.wants(kind) {
            continue;
        }
        let mut buf = SqlBuf::new(d);
        buf.push(head).bind(tenant.to_owned()).push(by_record).bind(id.to_owned());
        buf.push(order).push(&format!(" LIMIT {PLATFORM_CAP}"));
        for row in txn.query_all_raw(buf.into_statement()).await? {
            let Some(at) = time::column(&row, d, "at")? else { continue };
            let title: String = row.try_get("", "title")?;
            let status: Option<String> = row.try_get("", "status")?;
            out.push(Item {
                at,
                kind,
                id: row.try_get("", "id")?,
                title: match kind {
                    Kind::Email => format!("Email: {title}"),
                    Kind::WorkflowRun => format!("Workflow: {title}"),
                    _ => format!("Approval: {title}"),
                },
                actor: row.try_get("", "actor")?,
                changes: Vec::new(),
                entity: None,
                record_id: None,
                record: None,
                status,
            });
        }
    }
    txn.commit().await?;
    Ok(out)
}
