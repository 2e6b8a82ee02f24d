//! Lifecycles in GraphQL (`entity::runtime::lifecycle`): `FieldDefinition.lifecycle` and its
//! types, the `lifecycle` member of `FieldInput`/`UpdateFieldInput`, and on a record type the
//! field of next values a lifecycle field may take for the caller (`statusTransitions`).

use async_graphql::Value;
use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Type, TypeRef,
};
use entity::runtime::lifecycle::{Lifecycle, Transition};
use entity::runtime::meta::FieldDef;
use entity::runtime::naming::{self, types as t};
use entity::runtime::record::Record;

use super::access::EntityAccess;
use super::ctx;
use super::definition_views::FieldDefView;
use super::values::{parent, sync_field};

const LIFECYCLE_DOC: &str = "The moves allowed between a SELECT field's options, and who may make them: \
     `initial` (the values a record may be created with; empty: any), `transitions` (`from` → `to`, \
     limited to `roles` when given). Setting the value a record already has is no move; a write \
     breaking the lifecycle is VALIDATION_FAILED with `from`, `to` and `allowed` in its \
     `extensions.fields` entry.";

const MEMBER_DOC: &str =
    "A SELECT field's lifecycle (see `FieldLifecycle`); in `UpdateFieldInput`, `null` removes it.";

fn texts(items: &[String]) -> Option<Value> {
    Some(Value::List(items.iter().cloned().map(Value::from).collect()))
}

/// The lifecycle types and inputs.
pub fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    let strings = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    let lifecycle = Object::new(t::FIELD_LIFECYCLE)
        .description(LIFECYCLE_DOC)
        .field(sync_field::<Lifecycle>("initial", strings(), |l| texts(&l.initial)))
        .field(Field::new("transitions", TypeRef::named_nn_list_nn(t::FIELD_TRANSITION), |c| {
            FieldFuture::new(async move {
                let l = parent::<Lifecycle>(&c)?;
                Ok(Some(FieldValue::list(l.transitions.iter().cloned().map(FieldValue::owned_any))))
            })
        }));
    let transition = Object::new(t::FIELD_TRANSITION)
        .description("One allowed move; `roles` empty: anyone who may update the field.")
        .field(sync_field::<Transition>("from", string(), |x| Some(Value::from(x.from.clone()))))
        .field(sync_field::<Transition>("to", string(), |x| Some(Value::from(x.to.clone()))))
        .field(sync_field::<Transition>("roles", strings(), |x| texts(&x.roles)));
    let list = || TypeRef::named_nn_list(TypeRef::STRING);
    vec![
        lifecycle.into(),
        transition.into(),
        InputObject::new(t::FIELD_LIFECYCLE_INPUT)
            .description(MEMBER_DOC)
            .field(InputValue::new("initial", list()))
            .field(InputValue::new("transitions", TypeRef::named_nn_list(t::FIELD_TRANSITION_INPUT)))
            .into(),
        InputObject::new(t::FIELD_TRANSITION_INPUT)
            .field(InputValue::new("from", string()))
            .field(InputValue::new("to", string()))
            .field(InputValue::new("roles", list()))
            .into(),
    ]
}

/// `FieldDefinition.lifecycle`.
pub fn definition_field() -> Field {
    Field::new("lifecycle", TypeRef::named(t::FIELD_LIFECYCLE), |c| {
        FieldFuture::new(async move {
            Ok(parent::<FieldDefView>(&c)?.def.lifecycle.clone().map(FieldValue::owned_any))
        })
    })
    .description("The field's lifecycle (see `FieldLifecycle`), when it has one.")
}

/// The `lifecycle` member of the field inputs.
pub fn input_member() -> InputValue {
    InputValue::new("lifecycle", TypeRef::named(t::FIELD_LIFECYCLE_INPUT)).description(MEMBER_DOC)
}

/// `<field>Transitions` on the record type, for a lifecycle field the role may update: the
/// values the record may move to next, for the caller's role.
pub fn transitions_field(a: &EntityAccess, f: &FieldDef) -> Option<Field> {
    f.lifecycle.as_ref()?;
    let writable = a.update && a.writable.field_by_key(f.key.as_str()).is_some();
    if !writable {
        return None;
    }
    let (index, key) = (a.index, f.key.to_string());
    let name = naming::transitions_field(&f.graphql_name);
    let field = Field::new(name, TypeRef::named_nn_list_nn(TypeRef::STRING), move |c| {
        let key = key.clone();
        FieldFuture::new(async move {
            let record = parent::<Record>(&c)?;
            // This request's tenant's own definition (a compiled schema is shared).
            let entity = &ctx::entity(&c, index)?.full;
            let role = ctx::principal(&c)?.role.clone();
            let next = entity
                .field_by_key(&key)
                .and_then(|f| Some((f, f.lifecycle.as_ref()?)))
                .map(|(f, l)| {
                    let from = record.data.get(&key).and_then(serde_json::Value::as_str);
                    l.next(&f.options, from, Some(&role))
                })
                .unwrap_or_default();
            Ok(texts(&next).map(FieldValue::value))
        })
    });
    Some(field.description(format!("The values `{}` may be set to next, for you.", f.graphql_name)))
}
