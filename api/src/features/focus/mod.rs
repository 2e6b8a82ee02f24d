//! Daily Focus in the GraphQL API: `dailyFocus(date)` (every role: the caller's ordered
//! missions for a day, each linking its records), `focusChanged(date)` (the same list pushed
//! when it changes), `focusRules(role)` (the rules a role's list is made from) and
//! `setFocusRules(role, rules)` (administrators). The rules are data of the engine
//! (`runtime::focus_rules`, loaded with the definitions); checking, storing and evaluating
//! them is `entity::features::focus`.

mod daily;
mod live;
mod rules;

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Type, TypeRef,
};
use entity::features::focus::eval::{Item, Linked};
use entity::runtime::focus_rules::FocusRule;
use entity::runtime::naming::focus::types as t;
use entity::runtime::naming::types as platform;

use crate::schema::access::SchemaAccess;
use crate::schema::feature::{Declared, Slot, admin_only};
use crate::schema::values::{parent, s, sync_field};

/// A JSON value as GraphQL's `JSON`.
fn json(v: &serde_json::Value) -> Option<Value> {
    Value::from_json(v.clone()).ok()
}

fn int(n: i64) -> Option<Value> {
    Some(Value::from(n))
}

fn rule_type() -> Object {
    Object::new(t::FOCUS_RULE)
        .description("A Daily Focus rule: which records of an entity make one mission of a role's list.")
        .field(sync_field::<FocusRule>("id", TypeRef::named_nn(TypeRef::ID), |r| s(&r.id)).description("The rule's id."))
        .field(
            sync_field::<FocusRule>("role", TypeRef::named(TypeRef::ID), |r| r.role_id.as_deref().and_then(s))
                .description("The role whose list it makes (null: every role's)."),
        )
        .field(
            sync_field::<FocusRule>("position", TypeRef::named_nn(TypeRef::INT), |r| int(r.position.into()))
                .description("Where its mission stands in a list (ascending)."),
        )
        .field(
            sync_field::<FocusRule>("entity", TypeRef::named_nn(TypeRef::STRING), |r| s(&r.entity))
                .description("The entity's `nameSingular`."),
        )
        .field(
            sync_field::<FocusRule>("filter", TypeRef::named_nn(platform::JSON), |r| json(&r.filter))
                .description("The filter, as the entity's list query takes it, placeholders (`$today`, `$startOfDay`, `$now`, `$me`) as written."),
        )
        .field(
            sync_field::<FocusRule>("orderBy", TypeRef::named_nn(platform::JSON), |r| json(&r.order_by))
                .description("The order, as the entity's list query takes it (`[{field, direction}]`)."),
        )
        .field(
            sync_field::<FocusRule>("limit", TypeRef::named_nn(TypeRef::INT), |r| int(r.limit.into()))
                .description("How many records its mission links (its count covers all of them)."),
        )
        .field(
            sync_field::<FocusRule>("title", TypeRef::named_nn(TypeRef::STRING), |r| s(&r.title))
                .description("The title template: `{count}` and `{entity}` are filled in."),
        )
        .field(
            sync_field::<FocusRule>("badge", TypeRef::named(TypeRef::STRING), |r| r.badge.as_deref().and_then(s))
                .description("A short tag shown beside the title (`overdue`, `pending`)."),
        )
}

fn rule_input() -> Type {
    let opt = |ty: &str| TypeRef::named(ty);
    InputObject::new(t::FOCUS_RULE_INPUT)
        .description("A Daily Focus rule as an administrator writes it.")
        .field(
            InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING))
                .description("The entity's `nameSingular`."),
        )
        .field(InputValue::new("filter", opt(platform::JSON)).description(
            "The filter, as the entity's list query takes it (every record when null). Placeholders: \
             `$today`/`$today±N` (a DATE), `$startOfDay`/`$startOfDay±N` (a DATETIME: the day's first \
             instant in the caller's zone), `$now`, `$me` (the caller's user id).",
        ))
        .field(
            InputValue::new("orderBy", opt(platform::JSON))
                .description("The order, as the entity's list query takes it: `[{\"field\": \"AMOUNT\", \"direction\": \"DESC\"}]`."),
        )
        .field(InputValue::new("limit", opt(TypeRef::INT)).description("How many records the mission links (1 to 50, default 5)."))
        .field(
            InputValue::new("title", TypeRef::named_nn(TypeRef::STRING))
                .description("The title template, e.g. `Call {count} high-value {entity}`."),
        )
        .field(InputValue::new("badge", opt(TypeRef::STRING)).description("A short tag shown beside the title."))
        .field(
            InputValue::new("position", opt(TypeRef::INT))
                .description("Where its mission stands among the caller's (default: its place in this list)."),
        )
        .into()
}

fn record_type() -> Object {
    Object::new(t::FOCUS_RECORD)
        .description("A record a mission links.")
        .field(
            sync_field::<Linked>("id", TypeRef::named_nn(TypeRef::ID), |r| s(&r.id))
                .description("The record's id."),
        )
        .field(
            sync_field::<Linked>("recordNumber", TypeRef::named(TypeRef::STRING), |r| {
                r.record_number.as_deref().and_then(s)
            })
            .description("Its record number, if its entity numbers records."),
        )
        .field(
            sync_field::<Linked>("label", TypeRef::named_nn(TypeRef::STRING), |r| s(&r.label))
                .description("What to call it: its first readable text value, else its record number."),
        )
}

fn item_type() -> Object {
    Object::new(t::FOCUS_ITEM)
        .description("One mission of a Daily Focus list: the records one rule matches for you.")
        .field(sync_field::<Item>("rule", TypeRef::named_nn(TypeRef::ID), |i| s(&i.rule_id)).description("The rule's id."))
        .field(
            sync_field::<Item>("position", TypeRef::named_nn(TypeRef::INT), |i| int(i.position.into()))
                .description("Its rule's position."),
        )
        .field(
            sync_field::<Item>("title", TypeRef::named_nn(TypeRef::STRING), |i| s(&i.title))
                .description("The mission, its count filled in (`Call 3 high-value leads`)."),
        )
        .field(
            sync_field::<Item>("badge", TypeRef::named(TypeRef::STRING), |i| i.badge.as_deref().and_then(s))
                .description("A short tag shown beside the title (`overdue`)."),
        )
        .field(
            sync_field::<Item>("count", TypeRef::named_nn(TypeRef::INT), |i| int(i.count))
                .description("How many records you may see match."),
        )
        .field(
            sync_field::<Item>("entity", TypeRef::named_nn(TypeRef::STRING), |i| s(&i.entity))
                .description("The entity's `nameSingular`."),
        )
        .field(
            sync_field::<Item>("filter", TypeRef::named_nn(platform::JSON), |i| json(&i.filter))
                .description("The rule's filter with its placeholders filled in: pass it to the entity's list query to see them all."),
        )
        .field(
            sync_field::<Item>("orderBy", TypeRef::named_nn(platform::JSON), |i| json(&i.order_by))
                .description("The rule's order, as the entity's list query takes it."),
        )
        .field(
            Field::new("records", TypeRef::named_nn_list_nn(t::FOCUS_RECORD), |c| {
                FieldFuture::new(async move {
                    let first = c.args.get("first").map(|v| v.i64()).transpose()?;
                    let records = &parent::<Item>(&c)?.records;
                    let n = first.map_or(records.len(), |n| usize::try_from(n.max(0)).unwrap_or(0));
                    let linked = records.iter().take(n).cloned().map(FieldValue::owned_any);
                    Ok(Some(FieldValue::list(linked)))
                })
            })
            .argument(
                InputValue::new("first", TypeRef::named(TypeRef::INT))
                    .description("At most this many (every linked record when null)."),
            )
            .description("The first records it matches, in the rule's order (up to the rule's limit)."),
        )
}

fn types(access: &SchemaAccess) -> Vec<Type> {
    let mut types: Vec<Type> =
        vec![rule_type().into(), record_type().into(), item_type().into(), daily::focus_type().into()];
    types.extend(admin_only(access, || vec![rule_input()]));
    types
}

/// Daily Focus: every role reads its list and its rules; administrators set the rules.
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| vec![daily::query(), rules::query()])],
    mutations: &[(Slot::Admin, |_| vec![rules::mutation()])],
    subscriptions: |_| vec![live::subscription()],
    types,
    ..Declared::EMPTY
};
