//! `GET /export/{entity}?format=csv|jsonl&filter=<json>&fields=a,b` — an entity's records as
//! a file (`Content-Disposition: attachment`), streamed as its pages are read
//! (`entity::features::exports`: the checks, the pages, the audit entry).
//! The same credentials as `/graphql` (`Authorization: Bearer …` or `X-Api-Key`); what is
//! refused before the first byte (no credential, an entity the role cannot read, no `export`
//! permission, a bad filter or column) answers with the GraphQL error body and its status.
//! `GET /exports/{id}` downloads the file of a finished export job (`exportRecords`) under the
//! same credentials: the job must be the caller's tenant's and the caller's own (or the caller
//! an administrator), and the caller's role must still export its entity. The tenant's archive
//! (`startTenantExport`) is downloaded there by the tenant's owner alone (anyone else in the
//! tenant: FORBIDDEN), each download audited (`tenant.export_downloaded`).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response as HttpResponse;
use entity::features::exports::jobs::ExportJob;
use entity::features::exports::{self, Ask, Asker, Format, Plan, Sink};
use entity::runtime::policy::Action;
use entity::runtime::{audit, outbox};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::graphql::error_response;
use super::request::{self, Credential};
use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::features::exports::may_see;
use crate::http::state::AppState;
use crate::schema::ctx::{OwnSchema, RequestId};
use crate::services::Txn;

/// Bytes read from an export's file at a time.
const FILE_CHUNK: usize = 64 * 1024;

/// The query string of an export.
#[derive(Debug, serde::Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
    filter: Option<String>,
    fields: Option<String>,
}

pub async fn export(
    State(state): State<AppState>,
    Path(entity): Path<String>,
    Query(q): Query<ExportQuery>,
    headers: HeaderMap,
) -> HttpResponse {
    let rid = RequestId::from_headers(&headers);
    answer(&state, &headers, &rid, start(&state, &entity, q, &headers, &rid).await)
}

/// `GET /exports/{id}`: the file of a finished export job.
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> HttpResponse {
    let rid = RequestId::from_headers(&headers);
    answer(&state, &headers, &rid, serve_file(&state, &id, &headers, &rid).await)
}

fn answer(
    state: &AppState,
    headers: &HeaderMap,
    rid: &RequestId,
    response: Result<HttpResponse, ApiError>,
) -> HttpResponse {
    response.unwrap_or_else(|e| {
        state.metrics().error(e.code());
        error_response(headers, rid, e.http_status(), &e)
    })
}

/// The caller of an export request: the principal and its role's view of the tenant.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<request::Caller, ApiError> {
    let credential = Credential::from_headers(headers)?;
    if matches!(credential, Credential::None) {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    }
    let caller = request::resolve(state, credential).await?;
    if caller.principal.is_none() || caller.compiled.is_none() {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    }
    Ok(caller)
}

/// Checks the download and streams the file.
async fn serve_file(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    rid: &RequestId,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(state, headers).await?;
    let (Some(p), Some(compiled)) = (&caller.principal, &caller.compiled) else {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    };
    let job = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| exports::jobs::get(txn, &p.tenant_id, id).await)
        .await?
        .ok_or_else(|| ApiError::NotFound("export job".into()))?;
    let archive = exports::tenant::is_archive(&job);
    if archive && !may_see(p, &job) {
        // The tenant's archive is its owner's alone, whoever else in the tenant asks.
        return Err(ApiError::Forbidden("only the tenant's owner may download the tenant's archive".into()));
    }
    // Another tenant's job, or another user's, is as one that does not exist.
    if !may_see(p, &job) {
        return Err(ApiError::NotFound("export job".into()));
    }
    let (content_type, name) = if archive {
        (exports::tenant::CONTENT_TYPE, format!("tenant-export-{}.zip", job.created_at.format("%Y%m%d")))
    } else {
        let meta = &compiled.access().meta;
        let exportable =
            meta.entity_by_name(&job.entity).is_some_and(|e| p.permissions.can(e, Action::Export));
        if !exportable {
            return Err(ApiError::Forbidden("your role may not export this entity".into()));
        }
        let format = Format::parse(&job.format)?;
        (format.content_type(), format!("{}.{}", job.entity, format.extension()))
    };
    let path = exports::jobs::file_path(&state.config.data_dir, &job)
        .ok_or_else(|| ApiError::Conflict(format!("the export is {}, not done", job.status)))?;
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::Internal(format!("export file {}: {e}", path.display())))?;
    if archive {
        audit_download(state, p, &job, rid).await?;
    }
    // Read a chunk at a time as the client takes them: constant memory, as when it was written.
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        loop {
            let mut chunk = vec![0u8; FILE_CHUNK];
            let read = match file.read(&mut chunk).await {
                Ok(0) => return,
                Ok(n) => Ok(Bytes::from({
                    chunk.truncate(n);
                    chunk
                })),
                Err(e) => Err(e),
            };
            let failed = read.is_err();
            if tx.send(read).await.is_err() || failed {
                return;
            }
        }
    });
    Ok(file_response(Body::from_stream(ReceiverStream::new(rx)), content_type, &name, rid))
}

/// The owner's download of the tenant's archive, audited (`tenant.export_downloaded`) before
/// the first byte goes out.
async fn audit_download(
    state: &AppState,
    p: &Principal,
    job: &ExportJob,
    rid: &RequestId,
) -> Result<(), ApiError> {
    let actor = p.actor(Some(rid.0.clone()));
    let entry = audit::Entry {
        action: "tenant.export_downloaded",
        object_type: "export_job",
        object_id: Some(&job.id),
        changes: serde_json::json!({"sizeBytes": job.size_bytes}),
    };
    let d = state.db.dialect;
    let write = state.in_tenant(&p.tenant_id, Txn::Write, async |txn| {
        audit::append(txn, d, &p.tenant_id, &actor, &entry).await
    });
    let (done, wrote) = outbox::tracked(write).await;
    // The entry's news is committed: the tailer tells live listeners now.
    if wrote {
        state.dispatcher.wake();
    }
    done
}

/// Checks the export and starts streaming it.
async fn start(
    state: &AppState,
    entity: &str,
    q: ExportQuery,
    headers: &HeaderMap,
    rid: &RequestId,
) -> Result<HttpResponse, ApiError> {
    let caller = caller(state, headers).await?;
    let (Some(p), Some(compiled)) = (&caller.principal, &caller.compiled) else {
        return Err(ApiError::Unauthenticated("authentication required".into()));
    };
    let format = Format::parse(q.format.as_deref().unwrap_or("csv"))?;
    let filter = q
        .filter
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("`filter` is not JSON: {e}")))?;
    let fields =
        q.fields.map(|f| f.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect());
    let ask = Ask { entity: entity.to_owned(), format, filter, fields };
    let who = Asker {
        tenant_id: &p.tenant_id,
        user_id: &p.user_id,
        attributes: &p.attributes,
        permissions: &p.permissions,
        actor: p.actor(Some(rid.0.clone())),
    };
    let plan = Plan::build(&compiled.access().meta, who, ask)?;
    let file = plan.file_name();
    // A few pages in flight at most: a slow reader holds the export back, not memory.
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let state = state.clone();
    tokio::spawn(async move {
        let mut sink = Channel(tx.clone());
        let (done, wrote) = outbox::tracked(exports::run(&state.db, &plan, &mut sink)).await;
        // The audit entry's news is committed: the tailer tells live listeners now.
        if wrote {
            state.dispatcher.wake();
        }
        if let Err(e) = done {
            tracing::warn!(error = %e, entity = %plan.entity.name_singular, "export stopped");
            // The body ends with an error, so the client sees a broken transfer, not a short file.
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    Ok(file_response(Body::from_stream(ReceiverStream::new(rx)), format.content_type(), &file, rid))
}

/// A file answer: its type, `Content-Disposition: attachment` with `name`, and the request id.
fn file_response(body: Body, content_type: &'static str, name: &str, rid: &RequestId) -> HttpResponse {
    let mut response = HttpResponse::new(body);
    *response.status_mut() = StatusCode::OK;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&rid.0) {
        h.insert("x-request-id", v);
    }
    response
}

/// The response body as an export's sink.
struct Channel(mpsc::Sender<Result<Bytes, std::io::Error>>);

impl Sink for Channel {
    async fn write(&mut self, chunk: Vec<u8>, _rows: u64) -> entity::Result<bool> {
        Ok(self.0.send(Ok(Bytes::from(chunk))).await.is_ok())
    }
}
