//! What every operation's arguments pass before anything runs, in one place for every
//! transport (HTTP, socket) and operation (`limits::RequestChecks` calls `prepare` with the
//! parsed document): literals in the document and the request's variables alike.
//!
//! - An `ID` input given an Int (`id: 123`, `in: [123]`, a variable `$id: ID!` sent or
//!   defaulted as `123`) becomes its decimal string, as the GraphQL spec coerces it (ID input
//!   coercion). async-graphql's dynamic schema accepts the Int but hands it on as a number,
//!   which every reader of an ID (arguments, filters, relation fields) would refuse or miss;
//!   after this, each sees a string. The number is then an id like any other: one that names no record, or
//!   one refused as a malformed id would be.
//!
//! Where the IDs are is the schema's to say: its registry (`async_graphql::registry`, public
//! but undocumented; the crate is pinned) types every argument and input field.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType,
    Selection, SelectionSet,
};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::{ConstValue, Value};

/// Coerces the `ID` inputs of `doc`'s operation `operation` (the one the request runs) and of
/// `variables`. `registry` is the schema's. A document whose operation cannot be picked is
/// left as it is: validation answers it.
pub fn prepare(
    registry: &Registry,
    doc: &mut ExecutableDocument,
    variables: &mut Variables,
    operation: Option<&str>,
) {
    let ExecutableDocument { operations, fragments } = doc;
    let Some(op) = selected(operations, operation) else { return };
    let op = &mut op.node;
    // Variables first, sent or defaulted: their declared types say where the IDs are (only a
    // value holding a number can hold an Int for one).
    let number = |v: &ConstValue| any(v, &|x| matches!(x, ConstValue::Number(_)), &|_| false);
    for def in &mut op.variable_definitions {
        let def = &mut def.node;
        let sent = variables.get_mut(&def.name.node);
        let default = def.default_value.as_mut().map(|d| &mut d.node);
        for v in sent.into_iter().chain(default) {
            if number(v) {
                coerce_ids(registry, &def.var_type.node.to_string(), v);
            }
        }
    }
    let mut has_int = false;
    for set in argument_sets(op, fragments) {
        visit_arguments(set, &mut |_, v| {
            has_int |= any(v, &|x| matches!(x, Value::Number(_)), &|_| false);
        });
    }
    if has_int {
        let root = root_type(registry, op.ty);
        coerce_set(registry, &mut op.selection_set.node, root);
        for f in fragments.values_mut() {
            let on = f.node.type_condition.node.on.node.to_string();
            coerce_set(registry, &mut f.node.selection_set.node, &on);
        }
    }
}

/// The selection sets whose arguments run: the operation's and every fragment's.
fn argument_sets<'a>(
    op: &'a OperationDefinition,
    fragments: &'a std::collections::HashMap<Name, Positioned<FragmentDefinition>>,
) -> impl Iterator<Item = &'a SelectionSet> {
    std::iter::once(&op.selection_set.node).chain(fragments.values().map(|f| &f.node.selection_set.node))
}

/// The operation a request runs, picked as the executor picks it.
fn selected<'a>(
    operations: &'a mut DocumentOperations,
    name: Option<&str>,
) -> Option<&'a mut Positioned<OperationDefinition>> {
    match (operations, name) {
        (DocumentOperations::Single(op), None) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get_mut(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values_mut().next(),
        _ => None,
    }
}

/// The root type an operation of type `ty` selects from.
fn root_type(registry: &Registry, ty: OperationType) -> &str {
    match ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => registry.subscription_type.as_deref(),
    }
    .unwrap_or_default()
}

/// Calls `f` with the name and value of every field argument in `set`, nested selections
/// included (fragment spreads are not followed: each fragment is visited on its own).
fn visit_arguments(set: &SelectionSet, f: &mut impl FnMut(&str, &Value)) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    f(name.node.as_str(), &value.node);
                }
                visit_arguments(&field.node.selection_set.node, f);
            }
            Selection::InlineFragment(inline) => visit_arguments(&inline.node.selection_set.node, f),
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Coerces the ID literals in the arguments of `set`, whose fields belong to type `parent`.
fn coerce_set(registry: &Registry, set: &mut SelectionSet, parent: &str) {
    for item in &mut set.items {
        match &mut item.node {
            Selection::Field(field) => {
                let field = &mut field.node;
                let meta = registry.types.get(parent).and_then(|t| t.field_by_name(field.name.node.as_str()));
                let Some(meta) = meta else { continue };
                for (name, value) in &mut field.arguments {
                    if let Some(arg) = meta.args.get(name.node.as_str()) {
                        coerce_ids(registry, &arg.ty, &mut value.node);
                    }
                }
                coerce_set(
                    registry,
                    &mut field.selection_set.node,
                    MetaTypeName::concrete_typename(&meta.ty),
                );
            }
            Selection::InlineFragment(inline) => {
                let on = match &inline.node.type_condition {
                    Some(c) => c.node.on.node.to_string(),
                    None => parent.to_owned(),
                };
                coerce_set(registry, &mut inline.node.selection_set.node, &on);
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// An input value, written in the document (`Value`, which may name variables) or sent as a
/// variable (`ConstValue`): what the walks here read and change.
trait Input: Sized {
    fn items(&self) -> Option<&[Self]>;
    fn fields(&self) -> Option<&IndexMap<Name, Self>>;
    fn items_mut(&mut self) -> Option<&mut Vec<Self>>;
    fn fields_mut(&mut self) -> Option<&mut IndexMap<Name, Self>>;
    /// An integer becomes its decimal string (ID input coercion).
    fn int_to_string(&mut self);
}

macro_rules! input {
    ($ty:ident) => {
        impl Input for $ty {
            fn items(&self) -> Option<&[Self]> {
                match self {
                    $ty::List(items) => Some(items),
                    _ => None,
                }
            }
            fn fields(&self) -> Option<&IndexMap<Name, Self>> {
                match self {
                    $ty::Object(fields) => Some(fields),
                    _ => None,
                }
            }
            fn items_mut(&mut self) -> Option<&mut Vec<Self>> {
                match self {
                    $ty::List(items) => Some(items),
                    _ => None,
                }
            }
            fn fields_mut(&mut self) -> Option<&mut IndexMap<Name, Self>> {
                match self {
                    $ty::Object(fields) => Some(fields),
                    _ => None,
                }
            }
            fn int_to_string(&mut self) {
                if let $ty::Number(n) = self
                    && n.is_i64()
                {
                    *self = $ty::String(n.to_string());
                }
            }
        }
    };
}

input!(Value);
input!(ConstValue);

/// Whether `v` or anything in it matches `value`, or any object key in it matches `key`.
fn any<V: Input>(v: &V, value: &impl Fn(&V) -> bool, key: &impl Fn(&str) -> bool) -> bool {
    value(v)
        || v.items().is_some_and(|items| items.iter().any(|i| any(i, value, key)))
        || v.fields().is_some_and(|fields| fields.iter().any(|(k, v)| key(k) || any(v, value, key)))
}

/// Coerces the IDs in `v`, a value of input type `ty` (`ID!`, `[ID!]`, `DealFilter`, …).
fn coerce_ids<V: Input>(registry: &Registry, ty: &str, v: &mut V) {
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => coerce_ids(registry, inner, v),
        MetaTypeName::List(inner) => match v.items_mut() {
            Some(items) => items.iter_mut().for_each(|i| coerce_ids(registry, inner, i)),
            // A single value where a list is expected is a list of one.
            None => coerce_ids(registry, inner, v),
        },
        MetaTypeName::Named("ID") => v.int_to_string(),
        MetaTypeName::Named(name) => {
            let (Some(MetaType::InputObject { input_fields, .. }), Some(fields)) =
                (registry.types.get(name), v.fields_mut())
            else {
                return;
            };
            for (k, member) in fields.iter_mut() {
                if let Some(f) = input_fields.get(k.as_str()) {
                    coerce_ids(registry, &f.ty, member);
                }
            }
        }
    }
}
