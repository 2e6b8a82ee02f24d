//! `timeline(entity, id, first, after, kinds): TimelineConnection!` — a record's "Smart Feed"
//! (`entity::features::crm::timeline`), newest first, as the caller may read it: the record
//! must be one it reads (its entity readable, the record within its row rule), changes show
//! only fields its view holds, related records only those it reads, and emails and workflow
//! runs only administrators (who alone may list them elsewhere). Every role whose
//! schema has the entity may ask; the related entities are the CRM roles' `timelineEntities`
//! (every one when unset), their activity's records shown as notes.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{Enum, Field, FieldFuture, FieldValue, InputValue, Object, Type, TypeRef};
use entity::features::crm::timeline::{self, Change, Cursor, Item, Kind, Related, Request};
use entity::runtime::filter::Filter;
use entity::runtime::naming::crm::{fields as f, types as t};
use entity::runtime::naming::types as pt;
use entity::runtime::record::Record;

use crate::error::{ApiError, gql};
use crate::schema::access::EntityAccess;
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::resolvers::store;
use crate::schema::values::{PageInfoValue, parent, s, sync_field, ts};

/// Items when `first` is not given.
const DEFAULT_FIRST: i64 = 20;

/// The record a timeline or a 360° view is about, read as the caller reads it, with the
/// entities related to it that the caller reads (and its row rule on each).
pub struct Subject {
    pub entity: Arc<EntityAccess>,
    pub record: Record,
    related: Vec<(Arc<EntityAccess>, Option<Filter>)>,
    activity: Option<String>,
}

impl Subject {
    /// Reads `entity` and `id` from the arguments: `NOT_FOUND` for an entity the caller does
    /// not read or a record outside its row rule.
    pub async fn of(c: &async_graphql::dynamic::ResolverContext<'_>) -> async_graphql::Result<Subject> {
        let access = ctx::access(c)?;
        let name = args::string(c, "entity")?;
        let entity = access
            .entities
            .iter()
            .find(|a| a.full.name_singular == name)
            .cloned()
            .ok_or_else(|| ApiError::NotFound(format!("entity `{name}`")))?;
        let id = args::record_id(c)?;
        let row = ctx::row_filter(c, &entity.full)?;
        let record = store(c)?
            .get(&entity.full, &id, row.as_ref())
            .await
            .map_err(gql)?
            .ok_or_else(|| ApiError::NotFound(entity.full.label_singular.clone()))?;
        let roles = &access.meta.crm;
        let shown = |n: &str| roles.timeline_entities.as_ref().is_none_or(|l| l.iter().any(|x| x == n));
        let mut related = Vec::new();
        for a in access.entities.iter().filter(|a| shown(&a.full.name_singular)) {
            let links =
                a.view.fields.iter().any(|f| f.related_entity_id.as_deref() == Some(entity.full.id.as_str()));
            if links {
                related.push((a.clone(), ctx::row_filter(c, &a.full)?));
            }
        }
        Ok(Subject { entity, record, related, activity: roles.activity.clone() })
    }

    /// The related entities as the engine takes them.
    pub fn related(&self) -> Vec<Related<'_>> {
        self.related
            .iter()
            .map(|(a, row)| Related {
                view: &a.view,
                row: row.as_ref(),
                notes: self.activity.as_deref() == Some(a.full.name_singular.as_str()),
            })
            .collect()
    }
}

/// A page of items with their cursors.
struct Shown {
    items: Vec<Item>,
    info: PageInfoValue,
}

fn json(v: &serde_json::Value) -> Option<Value> {
    Value::from_json(v.clone()).ok()
}

/// `TimelineKind`, `TimelineChange`, `TimelineItem`, `TimelineEdge`, `TimelineConnection`.
pub fn types() -> Vec<Type> {
    let string = || TypeRef::named(TypeRef::STRING);
    let kind = Enum::new(t::TIMELINE_KIND)
        .description("What a timeline item shows.")
        .items(Kind::ALL.map(Kind::as_str));
    let change = Object::new(t::TIMELINE_CHANGE)
        .description("One field of an audited change: its value before and after.")
        .field(sync_field::<Change>("field", TypeRef::named_nn(TypeRef::STRING), |c| s(&c.field)))
        .field(sync_field::<Change>("old", TypeRef::named(pt::JSON), |c| json(&c.old)))
        .field(sync_field::<Change>("new", TypeRef::named(pt::JSON), |c| json(&c.new)));
    let item = Object::new(t::TIMELINE_ITEM)
        .description("One event of a record's timeline.")
        .field(sync_field::<Item>("kind", TypeRef::named_nn(t::TIMELINE_KIND), |i| {
            Some(Value::Enum(async_graphql::Name::new(i.kind.as_str())))
        }))
        .field(sync_field::<Item>("at", TypeRef::named_nn(pt::DATE_TIME), |i| ts(&i.at)))
        .field(sync_field::<Item>("id", TypeRef::named_nn(TypeRef::ID), |i| s(&i.id)).description(
            "What the item shows: an audit entry's sequence number, a record's, email's, run's or decision's id.",
        ))
        .field(sync_field::<Item>("title", TypeRef::named_nn(TypeRef::STRING), |i| s(&i.title)))
        .field(
            sync_field::<Item>("actor", TypeRef::named(TypeRef::ID), |i| i.actor.as_deref().and_then(s))
                .description("The user who did it."),
        )
        .field(Field::new("changes", TypeRef::named_nn_list_nn(t::TIMELINE_CHANGE), |c| {
            FieldFuture::new(async move {
                let i = parent::<Item>(&c)?;
                Ok(Some(FieldValue::list(i.changes.iter().cloned().map(FieldValue::owned_any))))
            })
        }).description("CHANGE: the fields you may read that changed."))
        .field(
            sync_field::<Item>("entity", string(), |i| i.entity.as_deref().and_then(s))
                .description("RELATED, NOTE: the related record's entity."),
        )
        .field(sync_field::<Item>("recordId", TypeRef::named(TypeRef::ID), |i| i.record_id.as_deref().and_then(s)))
        .field(
            sync_field::<Item>("record", TypeRef::named(pt::JSON), |i| i.record.as_ref().and_then(json))
                .description("RELATED, NOTE: the related record's fields you may read."),
        )
        .field(
            sync_field::<Item>("status", string(), |i| i.status.as_deref().and_then(s))
                .description("EMAIL, WORKFLOW_RUN: its status; APPROVAL: the state the decision led to."),
        );
    let edge = Object::new(t::TIMELINE_EDGE)
        .field(sync_field::<Item>("cursor", TypeRef::named_nn(TypeRef::STRING), |i| {
            Some(Value::from(i.cursor()))
        }))
        .field(Field::new("node", TypeRef::named_nn(t::TIMELINE_ITEM), |c| {
            FieldFuture::new(async move { Ok(Some(FieldValue::owned_any(parent::<Item>(&c)?.clone()))) })
        }));
    let items = |c: &async_graphql::dynamic::ResolverContext<'_>| -> async_graphql::Result<Vec<Item>> {
        Ok(parent::<Shown>(c)?.items.clone())
    };
    let connection = Object::new(t::TIMELINE_CONNECTION)
        .field(Field::new("edges", TypeRef::named_nn_list_nn(t::TIMELINE_EDGE), move |c| {
            FieldFuture::new(async move {
                Ok(Some(FieldValue::list(items(&c)?.into_iter().map(FieldValue::owned_any))))
            })
        }))
        .field(Field::new("nodes", TypeRef::named_nn_list_nn(t::TIMELINE_ITEM), move |c| {
            FieldFuture::new(async move {
                Ok(Some(FieldValue::list(items(&c)?.into_iter().map(FieldValue::owned_any))))
            })
        }))
        .field(Field::new("pageInfo", TypeRef::named_nn(pt::PAGE_INFO), |c| {
            FieldFuture::new(
                async move { Ok(Some(FieldValue::owned_any(parent::<Shown>(&c)?.info.clone()))) },
            )
        }));
    vec![kind.into(), change.into(), item.into(), edge.into(), connection.into()]
}

/// `timeline(entity, id, first, after, kinds)`.
pub fn query() -> Field {
    Field::new(f::TIMELINE, TypeRef::named_nn(t::TIMELINE_CONNECTION), |c| {
        FieldFuture::new(async move {
            let state = ctx::state(&c)?;
            let max = state.config.max_page_size;
            let first = args::opt_int(&c, "first")?.unwrap_or(DEFAULT_FIRST);
            let first = usize::try_from(first)
                .ok()
                .filter(|n| *n as u64 <= max)
                .ok_or_else(|| ApiError::BadRequest(format!("`first` must be between 0 and {max}")))?;
            let after = args::opt_string(&c, "after")?;
            let cursor = after.as_deref().map(Cursor::decode).transpose().map_err(gql)?;
            let mut kinds: Vec<Kind> = match c.args.get("kinds").filter(|v| !v.is_null()) {
                Some(v) => v
                    .list()?
                    .iter()
                    .map(|k| {
                        let name = k.enum_name()?;
                        Kind::parse(name).ok_or_else(|| ApiError::BadRequest(format!("no kind `{name}`")).into())
                    })
                    .collect::<async_graphql::Result<_>>()?,
                None => Kind::ALL.to_vec(),
            };
            // Workflow runs and emails are the administrators' to see (`workflowRuns`, `emails`):
            // an email's text may quote fields the caller may not read.
            if !ctx::principal(&c)?.permissions.admin {
                kinds.retain(|k| !matches!(k, Kind::Email | Kind::WorkflowRun));
            }
            let subject = Subject::of(&c).await?;
            let req = Request {
                view: &subject.entity.view,
                record: &subject.record,
                related: subject.related(),
                kinds,
                first,
                after: cursor,
            };
            let page = timeline::page(&store(&c)?, &state.sealer, &req).await.map_err(gql)?;
            let info = PageInfoValue {
                has_next: page.has_next,
                has_previous: after.is_some(),
                start: page.items.first().map(Item::cursor),
                end: page.items.last().map(Item::cursor),
            };
            Ok(Some(FieldValue::owned_any(Shown { items: page.items, info })))
        })
    })
    .argument(InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING)).description("The record's entity (`nameSingular`)."))
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)).description("At most this many items (default 20)."))
    .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)).description("The `endCursor` of the page before."))
    .argument(
        InputValue::new("kinds", TypeRef::named_nn_list(t::TIMELINE_KIND))
            .description("Only these kinds of items (every kind when absent)."),
    )
    .description(
        "A record's timeline, newest first: its changes (fields you may read), related records and notes you may read, \
         the emails and runs of its workflows (administrators), and the decisions on its approvals.",
    )
}
