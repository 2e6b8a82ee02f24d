//! UID traceability: `validateUid(entity, field, value)` checks a UID against its field's
//! pattern and check character (no database needed); `traceUp(entity, uid)` and
//! `traceDown(entity, uid)` walk the genealogy link of an entity (its RELATION field to
//! itself marked `validation.genealogy`: component → assembly) over any depth up to
//! `maxDepth`, as the caller's role sees the records — only records within its row rule
//! (and only what is reached through them), only UID values of fields it may read, and only
//! along a link it may read. Every role's schema has them.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, Type, TypeRef,
};
use entity::runtime::meta::{FieldDef, FieldType};
use entity::runtime::naming::uids::{fields as f, types as t};
use entity::runtime::store::{Trace, TraceNode};
use entity::runtime::uid;

use crate::error::{ApiError, gql};
use crate::schema::access::EntityAccess;
use crate::schema::args;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::schema::resolvers::store;
use crate::schema::values::{s, sync_field};

/// Links a walk follows when `maxDepth` is not given, and the most it may ask for.
const DEFAULT_DEPTH: i64 = 20;
const MAX_DEPTH: i64 = 100;

/// `validateUid`'s answer.
struct Checked {
    valid: bool,
    reason: Option<String>,
}

/// One node of a walk as the API shows it.
struct Shown {
    node: TraceNode,
    entity: String,
    uid: Option<String>,
}

fn types() -> Vec<Type> {
    let nn = |ty: &str| TypeRef::named_nn(ty.to_owned());
    vec![
        Object::new(t::UID_CHECK)
            .description("Whether a value is a UID of a field: its pattern and its check character.")
            .field(sync_field::<Checked>("valid", nn(TypeRef::BOOLEAN), |c| Some(Value::from(c.valid))))
            .field(
                sync_field::<Checked>("reason", TypeRef::named(TypeRef::STRING), |c| {
                    c.reason.as_deref().and_then(s)
                })
                .description("Why it is not one (null when valid)."),
            )
            .into(),
        Object::new(t::TRACE_NODE)
            .description("A record a genealogy walk (`traceUp`, `traceDown`) reached.")
            .field(sync_field::<Shown>("id", nn(TypeRef::ID), |n| s(&n.node.record.id)))
            .field(sync_field::<Shown>("entity", nn(TypeRef::STRING), |n| s(&n.entity)))
            .field(
                sync_field::<Shown>("uid", TypeRef::named(TypeRef::STRING), |n| n.uid.as_deref().and_then(s))
                    .description("The record's UID (its entity's first UID field you may read)."),
            )
            .field(
                sync_field::<Shown>("depth", nn(TypeRef::INT), |n| Some(Value::from(n.node.depth)))
                    .description("Links from the record the walk started at (0: that record)."),
            )
            .field(
                sync_field::<Shown>("path", TypeRef::named_nn_list_nn(TypeRef::ID), |n| {
                    Some(Value::List(n.node.path.iter().cloned().map(Value::from).collect()))
                })
                .description("The ids from the start to this record, both included."),
            )
            .into(),
    ]
}

/// The entity named `name` among those the caller may read.
fn readable<'a>(c: &ResolverContext<'a>, name: &str) -> async_graphql::Result<&'a Arc<EntityAccess>> {
    let access = ctx::access(c)?;
    let found = access.entities.iter().find(|a| a.full.name_singular == name);
    Ok(found.ok_or_else(|| ApiError::BadRequest(format!("`entity`: no entity named `{name}`")))?)
}

/// The UID field `field` (GraphQL name) of entity `entity`, both readable by the caller.
fn uid_field<'a>(c: &ResolverContext<'a>) -> async_graphql::Result<&'a FieldDef> {
    let a = readable(c, &args::string(c, "entity")?)?;
    let name = args::string(c, "field")?;
    let found = a.view.field_by_graphql(&name).filter(|x| x.ty == FieldType::Uid);
    Ok(found
        .ok_or_else(|| ApiError::BadRequest(format!("`field`: `{name}` is not a UID field you may read")))?)
}

fn checked(field: &FieldDef, value: &str) -> FieldValue<'static> {
    FieldValue::owned_any(match uid::validate(field, value) {
        Ok(()) => Checked { valid: true, reason: None },
        Err(reason) => Checked { valid: false, reason: Some(reason) },
    })
}

/// `validateUid(entity, field, value)` or, with `many`, `validateUids(entity, field, values)`.
fn validate_uid(many: bool) -> Field {
    let (name, ty) = if many {
        (f::VALIDATE_UIDS, TypeRef::named_nn_list_nn(t::UID_CHECK))
    } else {
        (f::VALIDATE_UID, TypeRef::named_nn(t::UID_CHECK))
    };
    let field = Field::new(name, ty, move |c| {
        FieldFuture::new(async move {
            let field = uid_field(&c)?;
            if !many {
                return Ok(Some(checked(field, &args::string(&c, "value")?)));
            }
            let values = c.args.try_get("values")?.list()?;
            let answers = values
                .iter()
                .map(|v| Ok(checked(field, v.string()?)))
                .collect::<async_graphql::Result<Vec<_>>>()?;
            Ok(Some(FieldValue::list(answers)))
        })
    })
    .argument(text_arg("entity", "The entity (`nameSingular`)."))
    .argument(text_arg("field", "The UID field (GraphQL name)."));
    if many {
        let values = InputValue::new("values", TypeRef::named_nn_list_nn(TypeRef::STRING));
        field
            .argument(values.description("The values to check."))
            .description("`validateUid` of each of `values`, in their order.")
    } else {
        field.argument(text_arg("value", "The value to check.")).description(VALIDATE_UID)
    }
}

/// What `validateUid` answers.
const VALIDATE_UID: &str = "Whether `value` is a UID of the field: it fits the field's pattern and its check character (ISO 7064 MOD 37-2) matches, which catches every single wrong character and every swap of two neighbours.";

/// A required `String!` argument.
fn text_arg(name: &str, description: &str) -> InputValue {
    InputValue::new(name, TypeRef::named_nn(TypeRef::STRING)).description(description.to_owned())
}

/// `traceUp` or `traceDown`.
fn trace(name: &'static str, way: Trace, what: &'static str) -> Field {
    Field::new(name, TypeRef::named_nn_list_nn(t::TRACE_NODE), move |c| {
        FieldFuture::new(async move {
            let a = readable(&c, &args::string(&c, "entity")?)?;
            let depth = args::opt_int(&c, "maxDepth")?.unwrap_or(DEFAULT_DEPTH);
            if !(1..=MAX_DEPTH).contains(&depth) {
                return Err(
                    ApiError::BadRequest(format!("`maxDepth` must be between 1 and {MAX_DEPTH}")).into()
                );
            }
            let link = uid::genealogy_link(&a.full).ok_or_else(|| {
                ApiError::BadRequest(format!("`{}` has no genealogy link", a.full.name_singular))
            })?;
            if a.view.field_by_key(link.key.as_str()).is_none() {
                return Err(ApiError::Forbidden(format!("you may not read `{}`", link.graphql_name)).into());
            }
            let row = ctx::row_filter(&c, &a.full)?;
            let value = args::string(&c, "uid")?;
            let nodes =
                store(&c)?.trace(&a.full, link, &value, way, depth, row.as_ref()).await.map_err(gql)?;
            let shown_uid = uid::fields(&a.view).next().map(|x| x.key.clone());
            let shown = nodes.into_iter().map(|node| {
                let uid = shown_uid
                    .as_ref()
                    .and_then(|k| node.record.data.get(k.as_str())?.as_str().map(str::to_owned));
                FieldValue::owned_any(Shown { node, entity: a.full.name_singular.clone(), uid })
            });
            Ok(Some(FieldValue::list(shown)))
        })
    })
    .argument(text_arg("entity", "The entity (`nameSingular`)."))
    .argument(text_arg("uid", "The UID of the record to start at."))
    .argument(
        InputValue::new("maxDepth", TypeRef::named(TypeRef::INT))
            .description("Follow at most this many links (default 20, at most 100)."),
    )
    .description(what)
}

fn queries() -> Vec<Field> {
    vec![
        validate_uid(false),
        validate_uid(true),
        trace(
            f::TRACE_UP,
            Trace::Up,
            "The record with this UID and the assemblies it is part of, link by link up its entity's genealogy link: nearest first, each with its depth and path. Only records your role may see, and what is reached through them.",
        ),
        trace(
            f::TRACE_DOWN,
            Trace::Down,
            "The record with this UID and every component in it, over any depth down its entity's genealogy link: nearest first, each with its depth and path. Only records your role may see, and what is reached through them.",
        ),
    ]
}

/// UID traceability (every role).
pub static FEATURE: Declared =
    Declared { queries: &[(Slot::Records, |_| queries())], types: |_| types(), ..Declared::EMPTY };
