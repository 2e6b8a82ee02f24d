//! Assembles schemas: the public one (no credential) and a tenant's (platform operations plus
//! every entity's generated types and operations).

use std::sync::Arc;

use async_graphql::dynamic::{Field, Object, Schema, SchemaBuilder, Subscription, Type};
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::types as t;
use entity::runtime::policy::Permissions;

use super::access::SchemaAccess;
use super::feature::{Feature, Features, Slot};
use super::resolvers::{aggregate, bulk, create, delete, find_many, find_one, subscription, update};
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
    for ty in platform::public_types().into_iter().chain(features.iter().flat_map(|f| f.public_types())) {
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
    let mut types: Vec<Type> =
        parts.iter().flat_map(|p| p.public_types().into_iter().chain(p.types(access))).collect();
    for a in &access.entities {
        query = query.field(find_one::field(a)).field(find_many::field(a)).field(aggregate::field(a));
        if a.create {
            mutation = mutation.field(create::field(a)).field(bulk::create_field(a));
        }
        if a.update {
            mutation = mutation.field(update::field(a)).field(bulk::update_field(a));
        }
        if a.delete {
            mutation = mutation
                .field(delete::field(a, true))
                .field(delete::field(a, false))
                .field(bulk::delete_field(a));
        }
        if a.create || a.update || a.delete {
            types.push(bulk::result_type(a).into());
        }
        subscription = subscription.field(subscription::field(a));
        let extra = parts.iter().flat_map(|p| p.record_fields(access, a)).collect();
        types.extend(entity_types::types(access, a, extra));
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
    b = super::upload::register(b);
    for ty in types {
        b = b.register(ty);
    }
    finish(b, options)
}

/// The builder in-process, without a server or a database: what a role's schema holds follows
/// from the tenant's definitions (drafted as `defineEntity` checks them) and the role's
/// permissions alone.
#[cfg(test)]
mod tests {
    use entity::runtime::definitions::draft_entity;
    use entity::runtime::definitions::input::EntityInput;
    use serde_json::json;

    use super::*;

    fn sdl_for(permissions: Permissions) -> String {
        sdl_of(&Arc::new(TenantMeta::new(String::new(), 1, Vec::new())), permissions)
    }

    fn sdl_of(meta: &Arc<TenantMeta>, permissions: Permissions) -> String {
        let schema = build_tenant_schema(
            meta,
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

    /// A tenant's metadata with `defs` (`defineEntity` inputs) defined in order, each checked
    /// against those before it as `defineEntity` checks it.
    fn meta_with(defs: &[serde_json::Value]) -> Arc<TenantMeta> {
        let mut entities = Vec::new();
        for d in defs {
            let input: EntityInput = serde_json::from_value(d.clone()).expect("an entity input");
            let before = TenantMeta::new(String::new(), 1, entities.clone());
            entities.push(Arc::new(draft_entity(&input, &before).expect("a valid definition")));
        }
        Arc::new(TenantMeta::new(String::new(), 1, entities))
    }

    /// A company, and a deal that points at it.
    fn sales() -> Arc<TenantMeta> {
        let field = |key: &str, ty: &str| json!({ "key": key, "label": key, "type": ty });
        meta_with(&[
            json!({ "nameSingular": "company", "namePlural": "companies", "labelSingular": "Company",
                    "labelPlural": "Companies", "fields": [field("name", "TEXT")] }),
            json!({ "nameSingular": "deal", "namePlural": "deals", "labelSingular": "Deal",
                    "labelPlural": "Deals", "fields": [
                        { "key": "title", "label": "Title", "type": "TEXT", "required": true },
                        field("amount", "CURRENCY"),
                        field("margin", "NUMBER"),
                        { "key": "stage", "label": "Stage", "type": "SELECT", "options": ["Open", "Won"] },
                        { "key": "company", "label": "Company", "type": "RELATION", "relatedEntity": "company" },
                    ] }),
        ])
    }

    /// The block of `sdl` that opens with `head` (a type or input), up to its closing brace.
    fn block<'s>(sdl: &'s str, head: &str) -> &'s str {
        let start = sdl.find(head).unwrap_or_else(|| panic!("the SDL has no {head}"));
        let len = sdl[start..].find("\n}").expect("a closed block");
        &sdl[start..start + len]
    }

    #[test]
    fn an_entity_gets_its_type_filter_and_operations() {
        let sdl = sdl_of(&sales(), Permissions::full());
        let deal = block(&sdl, "type Deal {");
        for field in
            ["title: String!", "amount: Decimal", "margin: Float", "stage: String", "company: Company"]
        {
            assert!(deal.contains(field), "Deal lacks {field}: {deal}");
        }
        assert!(block(&sdl, "input UpdateDealInput {").contains("company: ID"));
        for present in [
            "input DealFilter {",
            "deals(",
            "createDeal(input: CreateDealInput!): Deal!",
            "updateDeal(id: ID!, input: UpdateDealInput!): Deal!",
            "type Company {",
        ] {
            assert!(sdl.contains(present), "the schema lacks {present}");
        }
    }

    #[test]
    fn field_and_action_rules_shape_a_roles_types() {
        let role = json!({
            "deal": { "actions": ["read", "update"], "fields": { "margin": "none", "amount": "read" } },
            "company": { "actions": ["read"] },
        });
        let sdl = sdl_of(&sales(), Permissions::from_stored(&role));
        let deal = block(&sdl, "type Deal {");
        assert!(!deal.contains("margin"), "a field marked none is absent: {deal}");
        assert!(deal.contains("amount: Decimal"), "a read field is readable: {deal}");
        let update = block(&sdl, "input UpdateDealInput {");
        assert!(!update.contains("amount") && update.contains("title: String"), "{update}");
        assert!(sdl.contains("updateDeal(") && !sdl.contains("createDeal("));
        assert!(!sdl.contains("updateCompany(") && !sdl.contains("deleteDeal("));
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

    #[test]
    fn an_entity_switched_off_leaves_the_schema_and_the_shape_with_the_relations_to_it() {
        let on = sales();
        let mut entities: Vec<_> = on.entities.iter().map(|e| (**e).clone()).collect();
        entities[0].switched_off = true;
        let off =
            TenantMeta::new(String::new(), 1, entities.into_iter().map(Arc::new).collect()).switched_on();
        let sdl = sdl_of(&Arc::new(off.clone()), Permissions::full());
        assert!(!sdl.contains("Company") && !sdl.contains("companies("), "the company is still there");
        let deal = block(&sdl, "type Deal {");
        assert!(deal.contains("title: String!") && !deal.contains("company"), "{deal}");
        let full = Permissions::full();
        assert_ne!(crate::schema::shape::of(&on, &full), crate::schema::shape::of(&off, &full));
        assert_eq!(on.switched_on().entities.len(), 2, "nothing is off");
    }
}
