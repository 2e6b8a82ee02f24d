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
//! - A string holding the NUL character (U+0000), anywhere in any argument (a record value, a
//!   JSON key, a filter operand, `search`, a login), is refused: PostgreSQL can store none in
//!   text or JSONB (it failed there as INTERNAL), where SQLite would store it. Both backends
//!   refuse it alike, before anything is read or written: `VALIDATION_FAILED` with one entry
//!   per argument path holding one, named as input errors are (`title` and `email` inside
//!   `input`, `filter.title.eq`, `search`).
//!
//! Where the IDs are is the schema's to say: its registry (`async_graphql::registry`, public
//! but undocumented; the crate is pinned) types every argument and input field.

use async_graphql::ServerError;
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType,
    Selection, SelectionSet,
};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Positioned, Variables};
use async_graphql_value::{ConstValue, Value};
use entity::FieldError;
use entity::runtime::value::NO_NUL;

use crate::error::ApiError;

/// The argument whose members are named on their own in errors, as every input object's
/// fields are (`createDeal(input: {title})` → `title`).
const INPUT: &str = "input";

/// Coerces the `ID` inputs of `doc`'s operation `operation` (the one the request runs) and of
/// `variables`, then refuses a NUL character anywhere in its arguments. `registry` is the
/// schema's. A document whose operation cannot be picked is left as it is: validation answers
/// it.
pub fn prepare(
    registry: &Registry,
    doc: &mut ExecutableDocument,
    variables: &mut Variables,
    operation: Option<&str>,
) -> Result<(), ServerError> {
    let ExecutableDocument { operations, fragments } = doc;
    let Some(op) = selected(operations, operation) else { return Ok(()) };
    let op = &mut op.node;
    // Variables first, sent or defaulted: their declared types say where the IDs are (only a
    // value holding a number can hold an Int for one).
    let mut has_nul = false;
    for def in &mut op.variable_definitions {
        let def = &mut def.node;
        let sent = variables.get_mut(&def.name.node);
        let default = def.default_value.as_mut().map(|d| &mut d.node);
        for v in sent.into_iter().chain(default) {
            if holds_number(v) {
                coerce_ids(registry, &def.var_type.node.to_string(), v);
            }
            has_nul |= holds_nul(v);
        }
    }
    let mut has_int = false;
    for set in argument_sets(op, fragments) {
        visit_arguments(set, &mut |_, v| {
            has_int |= holds_number(v);
            has_nul |= holds_nul(v);
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
    if !has_nul {
        return Ok(());
    }
    let mut found = Vec::new();
    for set in argument_sets(op, fragments) {
        visit_arguments(set, &mut |name, v| {
            let value = substitute(v, op, variables);
            let members_named = name == INPUT && value.fields().is_some();
            nul_paths(&value, if members_named { "" } else { name }, &mut found);
        });
    }
    if found.is_empty() {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::new();
    found.retain(|p| seen.insert(p.clone()));
    let e =
        ApiError::Validation(found.into_iter().map(|p| FieldError::new(p, NO_NUL)).collect()).to_graphql();
    let mut refused = ServerError::new(e.message, None);
    refused.extensions = e.extensions;
    Err(refused)
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
    fn str(&self) -> Option<&str>;
    fn is_number(&self) -> bool;
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
            fn str(&self) -> Option<&str> {
                match self {
                    $ty::String(s) => Some(s),
                    _ => None,
                }
            }
            fn is_number(&self) -> bool {
                matches!(self, $ty::Number(_))
            }
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

/// Whether `v` holds a number anywhere.
fn holds_number<V: Input>(v: &V) -> bool {
    any(v, &V::is_number, &|_| false)
}

/// Whether `v` holds a NUL character anywhere, in a string or an object key.
fn holds_nul<V: Input>(v: &V) -> bool {
    any(v, &|x| x.str().is_some_and(|s| s.contains('\0')), &|k| k.contains('\0'))
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

/// An argument's value with the request's variables in it (a variable neither sent nor
/// defaulted is null, as the executor has it).
fn substitute(v: &Value, op: &OperationDefinition, variables: &Variables) -> ConstValue {
    v.clone()
        .into_const_with(|name| {
            let given = variables.get(&name).cloned();
            let default = || {
                op.variable_definitions
                    .iter()
                    .find(|d| d.node.name.node == name)
                    .and_then(|d| d.node.default_value.as_ref())
                    .map(|d| d.node.clone())
            };
            Ok::<_, std::convert::Infallible>(given.or_else(default).unwrap_or(ConstValue::Null))
        })
        .unwrap_or(ConstValue::Null)
}

/// Adds to `out` the path of every string in `v` (at `path`) holding a NUL character, named as
/// the filter's own errors are: an object in a list by its index (`filter.or[0].title.eq`), a
/// string in a list by the list (`filter.tags.containsAny`), and an object key holding one by
/// the object (a path names no such key).
fn nul_paths(v: &ConstValue, path: &str, out: &mut Vec<String>) {
    let at = |member: &str| if path.is_empty() { member.to_owned() } else { format!("{path}.{member}") };
    // Only `input`'s members are named without a prefix; `input` itself is named so.
    let here = || if path.is_empty() { INPUT.to_owned() } else { path.to_owned() };
    if v.str().is_some_and(|s| s.contains('\0')) {
        out.push(here());
    }
    for (i, item) in v.items().into_iter().flatten().enumerate() {
        match item.fields() {
            Some(_) => nul_paths(item, &format!("{path}[{i}]"), out),
            None => nul_paths(item, path, out),
        }
    }
    for (k, member) in v.fields().into_iter().flatten() {
        if k.contains('\0') {
            out.push(here());
        } else {
            nul_paths(member, &at(k), out);
        }
    }
}
