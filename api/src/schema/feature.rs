//! The one way a product feature adds to a schema: it implements `Feature`, and the list of
//! features (`crate::features::ALL`) is handed to the builder, which names none of them. The
//! builder asks every feature for its root fields slot by slot, in the list's order, so where an
//! operation stands in the SDL follows from its slot and its feature's place in that list.

use async_graphql::dynamic::{Field, SubscriptionField, Type};

use super::access::{EntityAccess, SchemaAccess};

/// A read-only field a feature adds to an entity's object type, named apart so that the builder
/// can leave it out when the entity's definition already takes the name (its own field of that
/// name wins, in every role's schema alike). It is never in the entity's inputs, filter or order.
pub struct RecordField {
    pub name: &'static str,
    pub field: Field,
}

/// Where a feature's root fields stand among the schema's, in the order the builder fills them
/// (the SDL lists them so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Every role's operations that come right after the platform's own (`me`, `logout`…).
    Lead,
    /// Administrators' operations, after the platform's definition operations; asked only when
    /// the role may administer the tenant.
    Admin,
    /// Every role's operations, after the administration.
    Member,
    /// Operations over the tenant's entities, after each entity's generated ones.
    Records,
}

/// A product feature's part of the GraphQL API. Every method has an empty default, so a
/// feature implements only what it adds.
pub trait Feature: Send + Sync {
    /// Mutations of the public schema (no credential), which every tenant schema carries too.
    fn public_mutations(&self) -> Vec<Field> {
        Vec::new()
    }

    /// The types its public mutations use (in the public schema and every tenant schema).
    fn public_types(&self) -> Vec<Type> {
        Vec::new()
    }

    /// Root `Query` fields in `slot`, for a role that sees the tenant as `access` does.
    fn queries(&self, _slot: Slot, _access: &SchemaAccess) -> Vec<Field> {
        Vec::new()
    }

    /// Root `Mutation` fields in `slot`.
    fn mutations(&self, _slot: Slot, _access: &SchemaAccess) -> Vec<Field> {
        Vec::new()
    }

    /// Root `Subscription` fields (before the entities' own).
    fn subscriptions(&self, _access: &SchemaAccess) -> Vec<SubscriptionField> {
        Vec::new()
    }

    /// The types its fields use, for a role that sees the tenant as `access` does.
    fn types(&self, _access: &SchemaAccess) -> Vec<Type> {
        Vec::new()
    }

    /// Fields it adds to the object type of `entity` as that role sees it.
    fn record_fields(&self, _access: &SchemaAccess, _entity: &EntityAccess) -> Vec<RecordField> {
        Vec::new()
    }
}

/// The features a schema is built with, in the order their fields stand.
pub type Features = &'static [&'static dyn Feature];

/// Gives root fields for a role's view of the tenant.
pub type Fields = fn(&SchemaAccess) -> Vec<Field>;

/// A feature written as data: the functions that give its fields, slot by slot, and its types.
/// Most features are one of these; one whose parts do not fit implements `Feature` itself.
pub struct Declared {
    pub public_mutations: fn() -> Vec<Field>,
    pub public_types: fn() -> Vec<Type>,
    pub queries: &'static [(Slot, Fields)],
    pub mutations: &'static [(Slot, Fields)],
    pub subscriptions: fn(&SchemaAccess) -> Vec<SubscriptionField>,
    pub types: fn(&SchemaAccess) -> Vec<Type>,
    pub record_fields: fn(&SchemaAccess, &EntityAccess) -> Vec<RecordField>,
}

impl Declared {
    /// Nothing: the base a feature's declaration fills in.
    pub const EMPTY: Declared = Declared {
        public_mutations: Vec::new,
        public_types: Vec::new,
        queries: &[],
        mutations: &[],
        subscriptions: |_| Vec::new(),
        types: |_| Vec::new(),
        record_fields: |_, _| Vec::new(),
    };
}

fn in_slot(parts: &[(Slot, Fields)], slot: Slot, access: &SchemaAccess) -> Vec<Field> {
    parts.iter().filter(|(s, _)| *s == slot).flat_map(|(_, fields)| fields(access)).collect()
}

impl Feature for Declared {
    fn public_mutations(&self) -> Vec<Field> {
        (self.public_mutations)()
    }

    fn public_types(&self) -> Vec<Type> {
        (self.public_types)()
    }

    fn queries(&self, slot: Slot, access: &SchemaAccess) -> Vec<Field> {
        in_slot(self.queries, slot, access)
    }

    fn mutations(&self, slot: Slot, access: &SchemaAccess) -> Vec<Field> {
        in_slot(self.mutations, slot, access)
    }

    fn subscriptions(&self, access: &SchemaAccess) -> Vec<SubscriptionField> {
        (self.subscriptions)(access)
    }

    fn types(&self, access: &SchemaAccess) -> Vec<Type> {
        (self.types)(access)
    }

    fn record_fields(&self, access: &SchemaAccess, entity: &EntityAccess) -> Vec<RecordField> {
        (self.record_fields)(access, entity)
    }
}

/// `types()` for administrators, nothing for other roles (whose schema lacks the operations
/// that use them).
pub fn admin_types(access: &SchemaAccess, types: fn() -> Vec<Type>) -> Vec<Type> {
    admin_only(access, types)
}

/// `parts` (types, subscriptions) for an administrator's schema; nothing for anyone else's.
pub fn admin_only<T>(access: &SchemaAccess, parts: fn() -> Vec<T>) -> Vec<T> {
    if access.permissions.admin { parts() } else { Vec::new() }
}
