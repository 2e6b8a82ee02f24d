//! The one way a product feature adds to a schema: it implements `Feature`, and the list of
//! features (`crate::features::ALL`) is handed to the builder, which names none of them. The
//! builder asks every feature for its root fields slot by slot, in the list's order, so where an
//! operation stands in the SDL follows from its slot and its feature's place in that list.

use async_graphql::dynamic::{Field, SubscriptionField, Type};

use super::access::SchemaAccess;

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
}

/// The features a schema is built with, in the order their fields stand.
pub type Features = &'static [&'static dyn Feature];
