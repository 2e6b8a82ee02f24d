//! Assembles schemas: the public one (no credential) and a tenant's (platform operations plus
//! every entity's generated types and operations).

use std::sync::Arc;

use async_graphql::dynamic::{Field, Object, Schema, SchemaBuilder, Subscription, Type};
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::types as t;
use entity::runtime::policy::Permissions;

use super::access::SchemaAccess;
use super::feature::{Feature, Features, Slot};
use super::resolvers::{aggregate, create, delete, find_many, find_one, subscription, update};
use super::{common, entity_types, platform};
use crate::error::ApiError;

/// Limits and switches applied to every schema (configured once, see `Config`).
#[derive(Debug, Clone)]
pub struct SchemaOptions {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub introspection: bool,
    pub suggestions: bool,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        SchemaOptions {
            max_depth: 15,
            max_complexity: 5000,
            max_aliases: 50,
            introspection: true,
            suggestions: true,
        }
    }
}

fn finish(b: SchemaBuilder, o: &SchemaOptions) -> Result<Schema, ApiError> {
    let mut b = b
        .limit_depth(o.max_depth)
        .limit_complexity(o.max_complexity)
        .extension(super::extension::Hooks { max_aliases: o.max_aliases });
    if !o.introspection {
        b = b.disable_introspection();
    }
    if !o.suggestions {
        b = b.disable_suggestions();
    }
    b.finish().map_err(|e| ApiError::Internal(format!("schema build: {e}")))
}

/// The schema of requests without a credential: the platform's public operations and the
/// features' (`Feature::public_mutations`).
pub fn build_public_schema(options: &SchemaOptions, features: Features) -> Result<Schema, ApiError> {
    let query = Object::new(t::QUERY).field(platform::api_version());
    let mutation = platform::PLATFORM
        .public_mutations()
        .into_iter()
        .chain(features.iter().flat_map(|f| f.public_mutations()))
        .fold(Object::new(t::MUTATION), Object::field);
    let mut b = Schema::build(t::QUERY, Some(t::MUTATION), None).register(query).register(mutation);
    b = common::register(b);
    for ty in platform::public_types() {
        b = b.register(ty);
    }
    finish(b, options)
}

/// A schema's SDL as the product publishes it (`tenantSchemaSdl`, `export-schema`): with the
/// scalars' `@specifiedBy`, which the default export leaves out, so that generators know what
/// a `JSON` value is.
pub fn sdl(schema: &Schema) -> String {
    schema.sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// A tenant's schema at one metadata version, as a role with `permissions` sees it.
pub fn build_tenant_schema(
    meta: &Arc<TenantMeta>,
    permissions: &Arc<Permissions>,
    options: &SchemaOptions,
    features: Features,
) -> Result<Schema, ApiError> {
    build_schema(&SchemaAccess::new(meta.clone(), permissions.clone()), options, features)
}

/// A tenant's schema for a role's view of its metadata: the platform's part and each feature's,
/// slot by slot (`Slot`), around every entity's generated types and operations.
pub fn build_schema(
    access: &SchemaAccess,
    options: &SchemaOptions,
    features: Features,
) -> Result<Schema, ApiError> {
    let parts: Vec<&dyn Feature> =
        std::iter::once(&platform::PLATFORM as &dyn Feature).chain(features.iter().copied()).collect();
    let slots: &[Slot] = if access.permissions.admin {
        &[Slot::Lead, Slot::Admin, Slot::Member]
    } else {
        &[Slot::Lead, Slot::Member]
    };
    let in_slots = |slots: &[Slot], each: &dyn Fn(&dyn Feature, Slot) -> Vec<Field>| -> Vec<Field> {
        slots.iter().flat_map(|&slot| parts.iter().flat_map(move |p| each(*p, slot))).collect()
    };
    let queries = |p: &dyn Feature, slot| p.queries(slot, access);
    let mutations = |p: &dyn Feature, slot| p.mutations(slot, access);

    let mut query = in_slots(slots, &queries).into_iter().fold(Object::new(t::QUERY), Object::field);
    let mut mutation = parts
        .iter()
        .flat_map(|p| p.public_mutations())
        .chain(in_slots(slots, &mutations))
        .fold(Object::new(t::MUTATION), Object::field);
    let mut subscription = parts
        .iter()
        .flat_map(|p| p.subscriptions(access))
        .fold(Subscription::new(t::SUBSCRIPTION), Subscription::field);
    let mut types: Vec<Type> = parts.iter().flat_map(|p| p.types(access)).collect();
    for a in &access.entities {
        query = query.field(find_one::field(a)).field(find_many::field(a)).field(aggregate::field(a));
        if a.create {
            mutation = mutation.field(create::field(a));
        }
        if a.update {
            mutation = mutation.field(update::field(a));
        }
        if a.delete {
            mutation = mutation.field(delete::field(a, true)).field(delete::field(a, false));
        }
        subscription = subscription.field(subscription::field(a));
        types.extend(entity_types::types(access, a));
        types.extend(aggregate::types(a).into_iter().map(Into::into));
        types.push(aggregate::date_group_input(a).into());
    }
    query = in_slots(&[Slot::Records], &queries).into_iter().fold(query, Object::field);
    mutation = in_slots(&[Slot::Records], &mutations).into_iter().fold(mutation, Object::field);
    // Every schema has a subscription root (the platform's notifications), so the socket also
    // serves queries.
    let mut b = Schema::build(t::QUERY, Some(t::MUTATION), Some(t::SUBSCRIPTION))
        .register(query)
        .register(mutation)
        .register(subscription);
    b = common::register(b);
    for ty in types {
        b = b.register(ty);
    }
    finish(b, options)
}

/// The builder in-process, without a server or a database: what a role's schema holds follows
/// from its permissions alone.
#[cfg(test)]
mod tests {
    use super::*;

    fn sdl_for(permissions: Permissions) -> String {
        let meta = Arc::new(TenantMeta::new(String::new(), 1, Vec::new()));
        let schema = build_tenant_schema(
            &meta,
            &Arc::new(permissions),
            &SchemaOptions::default(),
            crate::features::ALL,
        )
        .expect("the schema builds");
        sdl(&schema)
    }

    #[test]
    fn an_owners_schema_of_an_empty_tenant_is_schema_graphql() {
        let expected = include_str!("../../../schema.graphql");
        assert!(sdl_for(Permissions::full()) == expected, "run `cargo run -- export-schema`");
    }

    #[test]
    fn a_role_without_admin_gets_no_administration_operations() {
        let member = sdl_for(Permissions::from_stored(&serde_json::json!({})));
        for present in ["me: User!", "logout: Boolean!", "notifications("] {
            assert!(member.contains(present), "a member's schema lacks {present}");
        }
        for absent in ["defineEntity(", "inviteUser(", "createWorkflow(", "auditLog("] {
            assert!(!member.contains(absent), "a member's schema has {absent}");
        }
        let owner = sdl_for(Permissions::full());
        assert!(owner.contains("defineEntity(") && owner.contains("auditLog("));
    }
}
