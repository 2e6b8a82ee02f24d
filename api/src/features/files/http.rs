//! The document vault over plain HTTP, with the same credentials as `/graphql`
//! (`Authorization: Bearer …` or `X-Api-Key`):
//! - `POST /files?name=contract.pdf` — the request body is the file, `Content-Type` its type;
//!   answers 201 with the file (`id` to attach it or to give a FILE field);
//! - `GET /files/<id>` — the content, streamed, once `access::file` allows it: 403 for a record
//!   outside the caller's row rule (or a field or entity it may not read), 404 for a file of
//!   another tenant, deleted, or of a deleted record.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use entity::features::files::{self as vault, StoredFile};
use entity::runtime::audit::Actor;
use entity::runtime::store::download_path;
use futures_util::TryStreamExt;
use serde_json::json;

use super::access::{self, Need};
use super::ingest;
use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::http::graphql::{error_response, json_body};
use crate::http::registry::CompiledSchema;
use crate::http::request::{self, Credential};
use crate::http::state::AppState;
use crate::schema::ctx::RequestId;
use crate::services::Txn;

/// The file as `POST /files` answers it (the fields of GraphQL's `Attachment`).
pub fn view(f: &StoredFile) -> serde_json::Value {
    json!({
        "id": f.id, "name": f.name, "mimeType": f.content_type, "size": f.size, "sha256": f.sha256,
        "url": download_path(&f.id),
    })
}

/// The caller of a request, with its tenant's schema (its view of the entities).
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Principal, std::sync::Arc<CompiledSchema>), ApiError> {
    let resolved = request::resolve(state, Credential::from_headers(headers)?).await?;
    match (resolved.principal, resolved.compiled) {
        (Some(p), Some(compiled)) => Ok((p, compiled)),
        _ => Err(ApiError::Unauthenticated("authentication required".into())),
    }
}

/// `POST /files`.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Body,
) -> Response {
    let rid = RequestId::from_headers(&headers);
    let stored = async {
        let (p, _) = caller(&state, &headers).await?;
        let actor = Actor { api_key_id: p.api_key_id.clone(), ..Actor::user(&p.user_id, Some(&rid.0)) };
        let name = query.get("name").map(String::as_str).unwrap_or("file");
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let chunks = body.into_data_stream().map_err(std::io::Error::other);
        ingest::ingest(&state, &p, &actor, name, content_type, chunks).await
    }
    .await;
    match stored {
        Ok(f) => json_body(StatusCode::CREATED, &rid, &view(&f)),
        Err(e) => refused(&state, &headers, &rid, e),
    }
}

/// `GET /files/<id>`.
pub async fn download(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let rid = RequestId::from_headers(&headers);
    let found = async {
        let (p, compiled) = caller(&state, &headers).await?;
        let tenant = p.tenant_id.as_str();
        let file = state
            .in_tenant(tenant, Txn::Read, async |txn| vault::get(txn, tenant, &id).await)
            .await?
            .ok_or_else(|| ApiError::NotFound("file".into()))?;
        access::file(&state, &p, &compiled.access, &file, Need::Read).await?;
        let content = state
            .files
            .get(&file.sha256)
            .await
            .map_err(|e| ApiError::Internal(format!("reading file {}: {e}", file.id)))?
            .ok_or_else(|| ApiError::Internal(format!("the store lost the content of file {}", file.id)))?;
        Ok::<_, ApiError>((file, content))
    }
    .await;
    let (file, content) = match found {
        Ok(found) => found,
        Err(e) => return refused(&state, &headers, &rid, e),
    };
    let mut resp = Body::from_stream(content).into_response();
    let h = resp.headers_mut();
    let plain =
        |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, plain(&file.content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    h.insert(header::ETAG, plain(&format!("\"{}\"", file.sha256)));
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&file.name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    // Served as a download of what it says it is, never sniffed into something a browser runs.
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    if let Ok(v) = HeaderValue::from_str(&rid.0) {
        h.insert("x-request-id", v);
    }
    resp
}

/// `attachment` with the name as ASCII (`filename`) and UTF-8 (`filename*`, RFC 6266).
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' })
        .collect();
    let encoded = crate::storage::sigv4::uri_encode(name, false);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn refused(state: &AppState, headers: &HeaderMap, rid: &RequestId, e: ApiError) -> Response {
    state.metrics().error(e.code());
    error_response(headers, rid, e.http_status(), &e)
}
