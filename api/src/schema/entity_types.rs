//! Types generated for one entity as a role sees it (shared/API.md § Generated per entity):
//! the object type with system fields, visible values, to-one and reverse relations; its
//! connection and edge; filter, order and field-enum inputs over visible fields; create/update
//! inputs over writable fields; and the change event type; plus the read-only fields features
//! add to the object type (`Feature::record_fields`). Pure functions of the metadata view;
//! resolvers come from `resolvers`.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Type, TypeRef,
};
use entity::runtime::meta::{EntityDef, FieldType};
use entity::runtime::naming::{self, EntityNames, types as t};
use entity::runtime::record::Record;

use super::access::{EntityAccess, SchemaAccess};
use super::args::sort_targets;
use super::common::{filter_type, input_type, output_type};
use super::feature::RecordField;
use super::lifecycle;
use super::resolvers::{relation, user};
use super::values::{ChangeValue, ConnectionValue, EdgeValue, lend, output, parent, parent_lent};

/// Every type one entity contributes to its tenant's schema; `extra`: the features' fields on
/// its object type.
pub fn types(access: &SchemaAccess, a: &Arc<EntityAccess>, extra: Vec<RecordField>) -> Vec<Type> {
    let n = a.names();
    let mut out: Vec<Type> = vec![
        with_extra(object(access, a, &n), access, a, extra).into(),
        connection(&n).into(),
        edge(&n).into(),
        filter_input(&a.view, &n).into(),
        order_input(&n).into(),
        field_enum(&a.view, &n).into(),
        change(&n).into(),
    ];
    if a.create {
        out.push(record_input(&a.writable, &n.create_input, true).into());
    }
    if a.update {
        out.push(record_input(&a.writable, &n.update_input, false).into());
    }
    out
}

/// A `Record` field read synchronously from the parent.
fn record_field(
    name: &str,
    ty: TypeRef,
    get: impl Fn(&Record) -> Option<Value> + Send + Sync + 'static,
) -> Field {
    // Synchronous on purpose: no future is boxed per value of a large page.
    Field::new(name, ty, move |ctx| match parent::<Record>(&ctx) {
        Ok(r) => FieldFuture::Value(get(r).map(FieldValue::value)),
        Err(e) => FieldFuture::new(async move { Err::<Option<Value>, _>(e) }),
    })
}

fn object(access: &SchemaAccess, a: &Arc<EntityAccess>, n: &EntityNames) -> Object {
    let e = &a.view;
    let mut o = Object::new(&n.type_name)
        .description(format!("{} (entity `{}`).", e.label_singular, e.name_singular))
        .field(record_field("id", TypeRef::named_nn(TypeRef::ID), |r| Some(Value::from(r.id.clone()))))
        .field(record_field("recordNumber", TypeRef::named(TypeRef::STRING), |r| {
            r.record_number.clone().map(Value::from)
        }))
        .field(record_field("createdAt", TypeRef::named_nn(t::DATE_TIME), |r| {
            Some(Value::from(entity::runtime::time::format(&r.created_at)))
        }))
        .field(record_field("updatedAt", TypeRef::named_nn(t::DATE_TIME), |r| {
            Some(Value::from(entity::runtime::time::format(&r.updated_at)))
        }))
        .field(user::field("createdBy", |r| r.created_by.clone()))
        .field(user::field("owner", |r| r.owner_id.clone()));
    for f in &e.fields {
        if f.ty == FieldType::Relation {
            if let Some(target) = f.related_entity_id.as_deref().and_then(|id| access.entity(id)) {
                o = o.field(relation::to_one(f, target));
            }
            continue;
        }
        let ty = match (f.ty, f.required) {
            (FieldType::MultiSelect, true) => TypeRef::named_nn_list_nn(TypeRef::STRING),
            (FieldType::MultiSelect, false) => TypeRef::named_nn_list(TypeRef::STRING),
            (ty, true) => TypeRef::named_nn(output_type(ty)),
            (ty, false) => TypeRef::named(output_type(ty)),
        };
        let (key, field_type) = (f.key.to_string(), f.ty);
        let field =
            record_field(&f.graphql_name, ty, move |r| r.data.get(&key).and_then(|v| output(field_type, v)))
                .description(f.label.clone());
        o = o.field(field);
        if let Some(moves) = lifecycle::transitions_field(a, f) {
            o = o.field(moves);
        }
    }
    for (rev, source) in access.reverse_relations(&a.full.id) {
        o = o.field(relation::reverse(&rev, &source));
    }
    o
}

/// The names the entity's definition takes on its type, whatever a role sees of it: the system
/// fields, its fields, their moves and the reverse relations to it (kept apart by
/// `defineEntity`'s name checks).
fn taken_names(access: &SchemaAccess, e: &EntityDef) -> BTreeSet<String> {
    let mut taken: BTreeSet<String> = naming::SYSTEM_FIELDS.iter().map(|s| (*s).to_owned()).collect();
    for f in &e.fields {
        taken.insert(f.graphql_name.clone());
        if f.lifecycle.is_some() {
            taken.insert(naming::transitions_field(&f.graphql_name));
        }
    }
    taken.extend(access.meta.reverse_relations(&e.id).into_iter().map(|r| r.name));
    taken
}

/// `o` with the features' fields whose names the definition leaves free: a tenant's own field
/// keeps its name, and the same for every role (the full definition decides, not a role's view).
fn with_extra(o: Object, access: &SchemaAccess, a: &EntityAccess, extra: Vec<RecordField>) -> Object {
    if extra.is_empty() {
        return o;
    }
    let mut taken = taken_names(access, &a.full);
    extra.into_iter().filter(|x| taken.insert(x.name.to_owned())).fold(o, |o, x| o.field(x.field))
}

fn connection(n: &EntityNames) -> Object {
    Object::new(&n.connection)
        .field(Field::new("edges", TypeRef::named_nn_list_nn(&n.edge), |ctx| {
            lend(
                parent_lent::<ConnectionValue>(&ctx)
                    .map(|c| c.edges.iter().map(|e| FieldValue::borrowed_any(e))),
            )
        }))
        .field(Field::new("nodes", TypeRef::named_nn_list_nn(&n.type_name), |ctx| {
            lend(
                parent_lent::<ConnectionValue>(&ctx)
                    .map(|c| c.edges.iter().map(|e| FieldValue::borrowed_any(&e.record))),
            )
        }))
        .field(Field::new("pageInfo", TypeRef::named_nn(t::PAGE_INFO), |ctx| {
            FieldFuture::new(async move {
                Ok(Some(FieldValue::owned_any(parent::<ConnectionValue>(&ctx)?.page_info.clone())))
            })
        }))
        .field(Field::new("totalCount", TypeRef::named_nn(TypeRef::INT), |ctx| {
            FieldFuture::new(async move {
                Ok(Some(Value::from(parent::<ConnectionValue>(&ctx)?.total.unwrap_or(0))))
            })
        }))
}

fn edge(n: &EntityNames) -> Object {
    Object::new(&n.edge)
        .field(Field::new("cursor", TypeRef::named_nn(TypeRef::STRING), |ctx| {
            FieldFuture::new(async move { Ok(Some(Value::from(parent::<EdgeValue>(&ctx)?.cursor.clone()))) })
        }))
        .field(Field::new("node", TypeRef::named_nn(&n.type_name), |ctx| {
            match parent_lent::<EdgeValue>(&ctx) {
                Ok(e) => FieldFuture::Value(Some(FieldValue::borrowed_any(&e.record))),
                Err(e) => FieldFuture::new(async move { Err::<Option<FieldValue<'_>>, _>(e) }),
            }
        }))
}

fn filter_input(e: &EntityDef, n: &EntityNames) -> InputObject {
    let mut o = InputObject::new(&n.filter)
        .field(InputValue::new("id", TypeRef::named(t::ID_FILTER)))
        .field(InputValue::new("recordNumber", TypeRef::named(t::STRING_FILTER)))
        .field(InputValue::new("createdAt", TypeRef::named(t::DATE_TIME_FILTER)))
        .field(InputValue::new("updatedAt", TypeRef::named(t::DATE_TIME_FILTER)))
        .field(InputValue::new("owner", TypeRef::named(t::ID_FILTER)));
    for f in &e.fields {
        if let Some(ft) = filter_type(f.ty) {
            o = o.field(InputValue::new(&f.graphql_name, TypeRef::named(ft)));
        }
    }
    o.field(InputValue::new("and", TypeRef::named_nn_list(&n.filter)))
        .field(InputValue::new("or", TypeRef::named_nn_list(&n.filter)))
        .field(InputValue::new("not", TypeRef::named(&n.filter)))
}

fn order_input(n: &EntityNames) -> InputObject {
    InputObject::new(&n.order_by).field(InputValue::new("field", TypeRef::named_nn(&n.field_enum))).field(
        InputValue::new("direction", TypeRef::named_nn(t::ORDER_DIRECTION))
            .default_value(Value::Enum(async_graphql::Name::new("ASC"))),
    )
}

fn field_enum(e: &EntityDef, n: &EntityNames) -> Enum {
    Enum::new(&n.field_enum).items(sort_targets(e).into_iter().map(|(name, _)| name))
}

fn change(n: &EntityNames) -> Object {
    Object::new(&n.change)
        .field(Field::new("kind", TypeRef::named_nn(t::CHANGE_KIND), |ctx| {
            FieldFuture::new(async move {
                let c = parent::<Arc<ChangeValue>>(&ctx)?;
                Ok(Some(Value::Enum(async_graphql::Name::new(c.kind.as_str()))))
            })
        }))
        .field(Field::new("record", TypeRef::named_nn(&n.type_name), |ctx| {
            FieldFuture::new(async move {
                Ok(Some(FieldValue::owned_any(parent::<Arc<ChangeValue>>(&ctx)?.record.clone())))
            })
        }))
        .field(Field::new("changedFields", TypeRef::named_nn_list_nn(TypeRef::STRING), |ctx| {
            FieldFuture::new(async move {
                let c = parent::<Arc<ChangeValue>>(&ctx)?;
                Ok(Some(Value::List(c.changed_fields.iter().cloned().map(Value::from).collect())))
            })
        }))
}

/// `Create…Input` (required fields without a default are non-null) or `Update…Input` (all
/// optional; an explicit null clears), over the fields the role may write.
fn record_input(e: &EntityDef, name: &str, create: bool) -> InputObject {
    let mut o = InputObject::new(name);
    for f in &e.fields {
        let scalar = input_type(f.ty);
        // A UID left out of a create is generated, so even a required one is optional there.
        let non_null = create && f.required && f.default.is_none() && f.ty != FieldType::Uid;
        let ty = match (f.ty, non_null) {
            (FieldType::MultiSelect, true) => TypeRef::named_nn_list_nn(TypeRef::STRING),
            (FieldType::MultiSelect, false) => TypeRef::named_nn_list(TypeRef::STRING),
            (_, true) => TypeRef::named_nn(scalar),
            (_, false) => TypeRef::named(scalar),
        };
        o = o.field(InputValue::new(&f.graphql_name, ty).description(f.label.clone()));
    }
    o.field(
        InputValue::new("owner", TypeRef::named(TypeRef::ID))
            .description("The owning user (defaults to the creator)."),
    )
}
