//! The GraphQL schema, built at runtime per tenant, in layers (ARCHITECTURE.md § Style):
//! metadata (`entity::runtime::meta`, pure data) → types (`common`, `entity_types`,
//! `platform`: definitions → dynamic objects, inputs and enums, every name from
//! `entity::runtime::naming`) → resolvers (`resolvers`, one file per operation) → execution
//! (`args` turns arguments into the filter AST and list arguments for the store). `registry`
//! caches one compiled schema per shape (`shape`: definitions without ids, and permissions)
//! and each tenant's own view of its definitions; `compiled` answers plain reads
//! the schema has validated before without the executor. Every schema runs with one extension
//! (`extension`), which among other things gives every answer's errors their public face
//! (`errors`).

pub mod access;
pub mod args;
pub mod build;
pub mod common;
pub mod compiled;
pub mod ctx;
pub mod definition_docs;
pub mod definition_views;
pub mod deletion;
pub mod entity_types;
pub mod errors;
pub mod extension;
pub mod feature;
pub mod i18n;
pub mod inputs;
pub mod lifecycle;
pub mod limits;
pub mod loader;
pub mod news;
pub mod options;
pub mod order;
pub mod parse_cache;
pub mod platform;
pub mod resolvers;
pub mod shape;
pub mod typed;
pub mod upload;
pub mod values;

pub use build::{SchemaOptions, build_public_schema, build_tenant_schema};
