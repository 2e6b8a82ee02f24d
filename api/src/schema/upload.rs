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

/// The file sent as argument `name`: its name, declared content type and spooled content. A
/// missing file, or a value that is not one of the request's files, is the caller's mistake.
pub fn argument(c: &ResolverContext<'_>, name: &str) -> Result<UploadValue, ApiError> {
    let arg =
        c.args.try_get(name).map_err(|_| ApiError::BadRequest(format!("`{name}`: a file is required")))?;
    let upload = arg.upload().map_err(|_| {
        ApiError::BadRequest(format!(
            "`{name}` must be a file sent as a multipart request (the GraphQL multipart request spec)"
        ))
    })?;
    upload.value(c.ctx).map_err(|e| ApiError::BadRequest(format!("`{name}`: the file cannot be read: {e}")))
}
