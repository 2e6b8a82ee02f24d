//! Assembles schemas: the public one (no credential) and a tenant's (platform operations plus
//! every entity's generated types and operations).

use std::sync::Arc;

use async_graphql::dynamic::{Object, Schema, SchemaBuilder, Subscription};
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::types as t;
use entity::runtime::policy::Permissions;

use super::access::SchemaAccess;
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

/// The schema of requests without a credential.
pub fn build_public_schema(options: &SchemaOptions) -> Result<Schema, ApiError> {
    let query = Object::new(t::QUERY).field(platform::api_version());
    let mut mutation = Object::new(t::MUTATION);
    for f in platform::public_mutations() {
        mutation = mutation.field(f);
    }
    let mut b = Schema::build(t::QUERY, Some(t::MUTATION), None).register(query).register(mutation);
    b = common::register(b);
    for ty in platform::public_types() {
        b = b.register(ty);
    }
    finish(b, options)
}

/// A tenant's schema at one metadata version, as a role with `permissions` sees it.
/// A schema's SDL as the product publishes it (`tenantSchemaSdl`, `export-schema`): with the
/// scalars' `@specifiedBy`, which the default export leaves out, so that generators know what
/// a `JSON` value is.
pub fn sdl(schema: &Schema) -> String {
    schema.sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

pub fn build_tenant_schema(
    meta: &Arc<TenantMeta>,
    permissions: &Arc<Permissions>,
    options: &SchemaOptions,
) -> Result<Schema, ApiError> {
    build_schema(&SchemaAccess::new(meta.clone(), permissions.clone()), options)
}

/// A tenant's schema for a role's view of its metadata.
pub fn build_schema(access: &SchemaAccess, options: &SchemaOptions) -> Result<Schema, ApiError> {
    let permissions = &access.permissions;
    let mut query = Object::new(t::QUERY).field(platform::api_version());
    for f in platform::tenant_queries() {
        query = query.field(f);
    }
    if permissions.admin {
        for f in crate::features::admin::queries()
            .into_iter()
            .chain(crate::features::workflows::queries())
            .chain(crate::features::webhooks::queries())
            .chain(crate::features::dead_jobs::queries())
        {
            query = query.field(f);
        }
    }
    for f in crate::features::notifications::queries()
        .into_iter()
        .chain(crate::features::approvals::queries())
        .chain(crate::features::templates::queries())
        .chain(crate::features::dashboards::queries())
    {
        query = query.field(f);
    }
    let mut mutation = Object::new(t::MUTATION);
    for f in platform::public_mutations().into_iter().chain(platform::tenant_mutations(access)) {
        mutation = mutation.field(f);
    }
    for f in crate::features::notifications::mutations(permissions.admin)
        .into_iter()
        .chain(crate::features::approvals::user_mutations())
    {
        mutation = mutation.field(f);
    }
    let mut subscription =
        Subscription::new(t::SUBSCRIPTION).field(crate::features::notifications::subscription());
    let mut types = Vec::new();
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
    // The CRM operations, when the tenant has its entities and the role may use them.
    mutation = crate::features::crm::move_deal(access)
        .into_iter()
        .chain(crate::features::crm::convert_lead(access))
        .fold(mutation, |m, f| m.field(f));
    types.extend(crate::features::crm::conversion_type(access).map(Into::into));
    // Every schema has a subscription root (notifications), so the socket also serves queries.
    let has_subscriptions = true;
    let mut b = Schema::build(t::QUERY, Some(t::MUTATION), has_subscriptions.then_some(t::SUBSCRIPTION))
        .register(query)
        .register(mutation);
    if has_subscriptions {
        b = b.register(subscription);
    }
    b = common::register(b);
    let mut admin_types = if permissions.admin { crate::features::admin::types() } else { Vec::new() };
    if permissions.admin {
        admin_types.extend(crate::features::workflows::types());
        admin_types.extend(crate::features::webhooks::types());
        admin_types.extend(crate::features::dead_jobs::types());
        admin_types.push(super::tenant::input_type().into());
    }
    admin_types.extend(crate::features::notifications::types());
    admin_types.extend(crate::features::approvals::types(permissions.admin));
    admin_types.extend(crate::features::templates::types());
    admin_types.extend(crate::features::dashboards::types(permissions.admin));
    for ty in
        platform::public_types().into_iter().chain(platform::tenant_types()).chain(admin_types).chain(types)
    {
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
        let schema = build_tenant_schema(&meta, &Arc::new(permissions), &SchemaOptions::default())
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
