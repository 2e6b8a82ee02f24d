//! Assembles schemas: the public one (no credential) and a tenant's (platform operations plus
//! every entity's generated types and operations).

use std::sync::Arc;

use async_graphql::dynamic::{Object, Schema, SchemaBuilder, Subscription};
use entity::runtime::meta::TenantMeta;
use entity::runtime::naming::types as t;

use super::resolvers::{create, delete, find_many, find_one, subscription, update};
use super::{common, entity_types, platform};
use crate::error::ApiError;

/// Query depth allowed before execution (hardening continues with the access issue).
const MAX_DEPTH: usize = 32;

fn finish(b: SchemaBuilder) -> Result<Schema, ApiError> {
    b.limit_depth(MAX_DEPTH).finish().map_err(|e| ApiError::Internal(format!("schema build: {e}")))
}

/// The schema of requests without a credential.
pub fn build_public_schema() -> Result<Schema, ApiError> {
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
    finish(b)
}

/// A tenant's schema at one metadata version.
pub fn build_tenant_schema(meta: &Arc<TenantMeta>) -> Result<Schema, ApiError> {
    let mut query = Object::new(t::QUERY).field(platform::api_version());
    for f in platform::tenant_queries(meta) {
        query = query.field(f);
    }
    let mut mutation = Object::new(t::MUTATION);
    for f in platform::public_mutations().into_iter().chain(platform::tenant_mutations()) {
        mutation = mutation.field(f);
    }
    let mut subscription = Subscription::new(t::SUBSCRIPTION);
    let mut types = Vec::new();
    for e in &meta.entities {
        query = query.field(find_one::field(e)).field(find_many::field(e));
        mutation = mutation
            .field(create::field(meta, e))
            .field(update::field(meta, e))
            .field(delete::field(meta, e, true))
            .field(delete::field(meta, e, false));
        subscription = subscription.field(subscription::field(e));
        types.extend(entity_types::types(meta, e));
    }
    // A subscription root without fields is invalid GraphQL: a tenant with no entities has none.
    let has_subscriptions = !meta.entities.is_empty();
    let mut b = Schema::build(t::QUERY, Some(t::MUTATION), has_subscriptions.then_some(t::SUBSCRIPTION))
        .register(query)
        .register(mutation);
    if has_subscriptions {
        b = b.register(subscription);
    }
    b = common::register(b);
    for ty in platform::public_types().into_iter().chain(platform::tenant_types()).chain(types) {
        b = b.register(ty);
    }
    finish(b)
}
