//! File uploads over the GraphQL multipart request spec
//! (<https://github.com/jaydenseric/graphql-multipart-request-spec>): the `Upload` scalar in
//! every tenant schema, reading a request whose body is `multipart/form-data` (`operations`,
//! `map`, then the files), and reading an `Upload` argument in a resolver. A multipart request
//! may be as large as `MAX_UPLOAD_BYTES`; any other stays within `MAX_BODY_BYTES`. The one
//! place uploads are known, so every feature that takes a file (imports, attachments) shares it.

use async_graphql::BatchRequest;
use async_graphql::dynamic::{ResolverContext, SchemaBuilder};
use async_graphql::futures_util::io::Cursor;
use async_graphql::http::MultipartOptions;
use axum::body::Bytes;
use axum::http::{HeaderMap, header};

use crate::error::ApiError;

/// Files one request may carry.
const MAX_FILES: usize = 10;

/// Registers the `Upload` scalar.
pub fn register(b: SchemaBuilder) -> SchemaBuilder {
    b.enable_uploading()
}

/// The request's `Content-Type` when it is `multipart/form-data`.
pub fn multipart(headers: &HeaderMap) -> Option<&str> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = ct.split(';').next()?.trim();
    mime.eq_ignore_ascii_case("multipart/form-data").then_some(ct)
}

/// The operations of a multipart request, their `Upload` variables bound to its files (each at
/// most `max_file_bytes`).
pub async fn receive(
    content_type: &str,
    body: Bytes,
    max_file_bytes: usize,
) -> Result<BatchRequest, ApiError> {
    let options = MultipartOptions::default().max_file_size(max_file_bytes).max_num_files(MAX_FILES);
    async_graphql::http::receive_batch_body(Some(content_type), Cursor::new(body), options)
        .await
        .map_err(|e| ApiError::BadRequest(format!("invalid multipart request: {e}")))
}

/// The file of `Upload` argument `name`.
pub fn file(c: &ResolverContext<'_>, name: &str) -> Result<async_graphql::UploadValue, ApiError> {
    let arg =
        c.args.try_get(name).map_err(|_| ApiError::BadRequest(format!("`{name}`: a file is required")))?;
    let upload = arg.upload().map_err(|_| {
        ApiError::BadRequest(format!(
            "`{name}` must be a file sent as a multipart request (the GraphQL multipart request spec)"
        ))
    })?;
    upload.value(c).map_err(|e| ApiError::BadRequest(format!("`{name}`: the file cannot be read: {e}")))
}
