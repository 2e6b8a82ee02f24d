//! The `Upload` scalar of the GraphQL multipart request spec
//! (<https://github.com/jaydenseric/graphql-multipart-request-spec>): registered here once for
//! every schema, and read here by any resolver that takes a file. `POST /graphql` with a
//! `multipart/form-data` body (`http::graphql`) spools each file to a temporary file, so an
//! upload never sits in memory whole; a resolver reads it from there.

use async_graphql::UploadValue;
use async_graphql::dynamic::{ResolverContext, SchemaBuilder, TypeRef};
use entity::runtime::naming::types as t;

use crate::error::ApiError;

/// Registers `Upload` on a schema builder (`common::register`).
pub fn register(b: SchemaBuilder) -> SchemaBuilder {
    // async-graphql's own scalar: its values are the request's files, by position.
    debug_assert_eq!(TypeRef::UPLOAD, t::UPLOAD);
    b.enable_uploading()
}

/// The type of a required file argument.
pub fn required() -> TypeRef {
    TypeRef::named_nn(t::UPLOAD)
}

/// The file sent as argument `name`: its name, declared content type and spooled content.
pub fn argument(c: &ResolverContext<'_>, name: &str) -> async_graphql::Result<UploadValue> {
    let upload = c.args.try_get(name)?.upload()?;
    upload
        .value(c.ctx)
        .map_err(|e| ApiError::Internal(format!("reading the uploaded file: {e}")).to_graphql())
}
