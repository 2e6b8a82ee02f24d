//! GraphQL over HTTP (the graphql-http spec): `POST /graphql` with a JSON body (single or
//! batch) or a multipart one carrying files (the GraphQL multipart request spec), and
//! `GET /graphql?query=…` for queries only. Every error leaves with an `extensions.code`;
//! internal errors carry the request id instead of their cause (the executor's answers come
//! labelled by the schema's extension; what this transport refuses itself it labels alike,
//! `schema::errors`). Each operation (and each request refused before one ran) is logged and
//! timed (`observe`).

use std::sync::Arc;
use std::time::Instant;

use async_graphql::http::MultipartOptions;
use async_graphql::parser::types::OperationType;
use async_graphql::{
    BatchRequest, BatchResponse, Executor, ParseRequestError, Request, Response, ServerError, Variables,
};
use axum::body::Bytes;
use axum::extract::{FromRequest, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response as HttpResponse};
use entity::runtime::outbox;
use entity::{ErrorCode, ReadScope};
use futures_util::TryStreamExt;
use tracing::Instrument;

use super::observe::{self, Answered};
use super::request::{self, Credential};
use crate::auth::principal::Principal;
use crate::error::ApiError;
use crate::http::registry::CompiledSchema;
use crate::http::state::AppState;
use crate::schema::compiled::{Lookup, Plan};
use crate::schema::ctx::{ClientIp, RequestId};
use crate::schema::errors::{self, Operation};
use crate::schema::i18n::RequestLanguage;

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// Most files one multipart request may carry.
const MAX_UPLOADS: usize = 10;

/// `POST /graphql`: a JSON body, or a `multipart/form-data` one (the GraphQL multipart request
/// spec: `operations`, `map`, then the files, each spooled to a temporary file as it arrives
/// and refused once it passes `UPLOAD_MAX_BYTES`).
pub async fn post(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> HttpResponse {
    let started = Instant::now();
    let rid = RequestId::from_headers(&headers);
    let span = tracing::info_span!("graphql", request_id = %rid.0);
    async move {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if let Some(ct) =
            content_type.filter(|ct| ct.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
        {
            let options = MultipartOptions::default()
                .max_file_size(usize::try_from(state.config.upload_max_bytes).unwrap_or(usize::MAX))
                .max_num_files(MAX_UPLOADS);
            let body =
                request.into_body().into_data_stream().map_err(std::io::Error::other).into_async_read();
            let batch = match async_graphql::http::receive_batch_body(Some(ct), body, options).await {
                Ok(b) => b,
                Err(ParseRequestError::PayloadTooLarge) => {
                    let limit = state.config.upload_max_bytes;
                    let e = ApiError::Validation(vec![entity::FieldError::new(
                        "file",
                        format!("is larger than the upload limit of {limit} bytes"),
                    )]);
                    return refuse(&state, &headers, &rid, started, StatusCode::PAYLOAD_TOO_LARGE, &e);
                }
                Err(e) => {
                    let e = ApiError::BadRequest(format!("invalid multipart GraphQL request: {e}"));
                    return refuse(&state, &headers, &rid, started, StatusCode::BAD_REQUEST, &e);
                }
            };
            return execute(&state, Envelope { headers, rid, started, client }, batch, false).await;
        }
        // A body over MAX_BODY_BYTES (or one that cannot be read) still gets a coded error.
        let body = match Bytes::from_request(request, &state).await {
            Ok(b) => b,
            Err(rejection) => {
                let status = rejection.status();
                let e = ApiError::BadRequest(match status {
                    StatusCode::PAYLOAD_TOO_LARGE => {
                        format!("the request body is larger than {} bytes", state.config.max_body_bytes)
                    }
                    _ => format!("the request body could not be read: {}", rejection.body_text()),
                });
                return refuse(&state, &headers, &rid, started, status, &e);
            }
        };
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(JSON)));
        if !is_json {
            let e = ApiError::BadRequest("Content-Type must be application/json".into());
            return refuse(&state, &headers, &rid, started, StatusCode::UNSUPPORTED_MEDIA_TYPE, &e);
        }
        let batch: BatchRequest = match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                let e = ApiError::BadRequest(format!("invalid GraphQL request body: {e}"));
                return refuse(&state, &headers, &rid, started, StatusCode::BAD_REQUEST, &e);
            }
        };
        execute(&state, Envelope { headers, rid, started, client }, batch, false).await
    }
    .instrument(span)
    .await
}

/// `GET /graphql?query=…` (queries only). A browser that opens `/graphql` itself (no query,
/// HTML accepted) is sent to GraphiQL instead of a "missing query" error.
pub async fn get(
    State(state): State<AppState>,
    client: ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> HttpResponse {
    let started = Instant::now();
    let rid = RequestId::from_headers(&headers);
    let span = tracing::info_span!("graphql", request_id = %rid.0);
    async move {
        let request = match async_graphql::http::parse_query_string(query.as_deref().unwrap_or_default()) {
            Ok(r) => r,
            Err(e) => {
                let e = ApiError::BadRequest(format!("invalid query string: {e}"));
                return refuse(&state, &headers, &rid, started, StatusCode::BAD_REQUEST, &e);
            }
        };
        if request.query.is_empty() && accepts_html(&headers) {
            return Redirect::to(super::graphiql::PAGE_PATH).into_response();
        }
        execute(&state, Envelope { headers, rid, started, client }, BatchRequest::Single(request), true).await
    }
    .instrument(span)
    .await
}

/// The client takes HTML: a browser's address bar (GraphQL clients ask for JSON).
fn accepts_html(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |m| {
            let mut parts = m.split(';').map(str::trim);
            let html = parts.next().is_some_and(|t| t.eq_ignore_ascii_case("text/html"));
            let refused = |p: &str| {
                let q = p.split_once('=').filter(|(k, _)| k.trim().eq_ignore_ascii_case("q"));
                q.and_then(|(_, v)| v.trim().parse::<f32>().ok()).is_some_and(|q| q <= 0.0)
            };
            html && !parts.any(refused)
        },
    )
}

fn is_mutation(r: &Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&r.query) else { return false };
    doc.operations.iter().any(|(name, op)| {
        let selected = match (&r.operation_name, name) {
            (Some(wanted), Some(name)) => wanted.as_str() == name.as_str(),
            (Some(_), None) => false,
            (None, _) => true,
        };
        selected && op.node.ty == OperationType::Mutation
    })
}

/// The answers of a single or batched request.
fn responses(response: &BatchResponse) -> &[Response] {
    match response {
        BatchResponse::Single(r) => std::slice::from_ref(r),
        BatchResponse::Batch(rs) => rs,
    }
}

/// Counts the request and its errors.
fn record(state: &AppState, response: &BatchResponse) {
    state.metrics().http_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for e in responses(response).iter().flat_map(|r| &r.errors) {
        if let Some(async_graphql::Value::String(code)) = e.extensions.as_ref().and_then(|x| x.get("code"))
            && let Some(code) = ErrorCode::parse(code)
        {
            state.metrics().error(code);
        }
    }
}

/// What a GraphQL request came with besides its operations.
struct Envelope {
    headers: HeaderMap,
    rid: RequestId,
    started: Instant,
    client: ClientIp,
}

/// Runs a request, counting its database round trips (`x-sql-statements` when configured).
/// The request runs in a task of its own: a client that hangs up mid-request drops this
/// handler's future, and a transaction dropped between two of its statements would leave
/// its pooled connection mid-transaction; the task instead runs to its COMMIT or ROLLBACK.
async fn execute(state: &AppState, envelope: Envelope, batch: BatchRequest, via_get: bool) -> HttpResponse {
    let (headers, rid, started) = (envelope.headers.clone(), envelope.rid.clone(), envelope.started);
    let task_state = state.clone();
    let task = tokio::spawn(
        async move {
            let state = &task_state;
            let counter = entity::stats::Counter::default();
            // On the heap from the start: the request's future is tens of kilobytes (the
            // executor's state machine), and each move of it inline (into this task, its span,
            // the trackers below) was a copy of all of it, a tenth of a get's instructions.
            let request = Box::pin(run(state, envelope, batch, via_get));
            let (mut resp, wrote) = outbox::tracked(entity::stats::counted(&counter, request)).await;
            // Every transaction of the request has ended: the tailers read what it wrote now.
            if wrote {
                state.dispatcher.wake();
            }
            // Access signals this request committed reach the other instances before its
            // response does (see `jobs::peers`).
            state.dispatcher.peers().flush().await;
            if state.config.sql_stats_header {
                resp.headers_mut().insert("x-sql-statements", HeaderValue::from(counter.get()));
            }
            resp
        }
        .in_current_span(),
    );
    match task.await {
        Ok(resp) => resp,
        Err(e) => {
            let e = ApiError::Internal(format!("request task failed: {e}"));
            refuse(state, &headers, &rid, started, StatusCode::INTERNAL_SERVER_ERROR, &e)
        }
    }
}

async fn run(state: &AppState, envelope: Envelope, batch: BatchRequest, via_get: bool) -> HttpResponse {
    let Envelope { headers, rid, started, client } = envelope;
    let (headers, rid) = (&headers, &rid);
    if let BatchRequest::Batch(items) = &batch
        && items.len() > state.config.max_batch
    {
        let e =
            ApiError::BadRequest(format!("a batch may carry at most {} operations", state.config.max_batch));
        return refuse(state, headers, rid, started, StatusCode::BAD_REQUEST, &e);
    }
    if via_get && batch.iter().any(is_mutation) {
        let e = ApiError::BadRequest("mutations must be sent with POST".into());
        let mut resp = refuse(state, headers, rid, started, StatusCode::METHOD_NOT_ALLOWED, &e);
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    let caller = match Credential::from_headers(headers) {
        Ok(c) => request::resolve(state, c).await,
        Err(e) => Err(e),
    };
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return refuse(state, headers, rid, started, e.http_status(), &e),
    };
    // A plain read this schema has answered before runs as its compiled plan, charged the
    // complexity the executor measured when it answered the text first (it validates, the plan
    // does not); the first time, the executor answers and the plan is learnt from its success.
    let mut learn = None;
    let mut prepaid = false;
    if let (BatchRequest::Single(r), Some(p), Some(compiled)) = (&batch, &caller.principal, &caller.compiled)
    {
        match compiled.shared.plans.lookup(&r.query, r.operation_name.as_deref()) {
            Lookup::Plan(plan) => {
                let answered = |code| Answered {
                    name: plan.name(),
                    kind: Some(OperationType::Query),
                    tenant: Some(&p.tenant_id),
                    code,
                    compiled: true,
                };
                if let Err(e) = state.limiter.operation(p, plan.cost()).await {
                    state.metrics().http_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    state.metrics().error(e.code());
                    observe::answered(state, rid, started, answered(e.code().as_str()));
                    return error_response(headers, rid, e.http_status(), &e);
                }
                if let Some(resp) = compiled_read(state, headers, rid, p, compiled, &plan, &r.variables).await
                {
                    observe::answered(state, rid, started, answered("OK"));
                    return resp;
                }
                // Declined: the executor answers, without charging the operation again.
                prepaid = true;
            }
            Lookup::Unknown => learn = Some((r.query.clone(), r.operation_name.clone())),
            Lookup::Executor => {}
        }
    }
    let measured = learn.is_some().then(|| Arc::new(crate::rate::Measured::default()));
    let tenant = caller.principal.as_ref().map(|p| p.tenant_id.as_str());
    let mut operations: Vec<Arc<Operation>> = Vec::with_capacity(1);
    // Each request of a batch gets its own data (loaders, the read connection its resolvers
    // share, given back once it has run, and its operation, which the schema's extension
    // notes and labels its errors for).
    let mut scopes = Vec::new();
    let mut with_data = |mut r: Request| {
        let scope = caller.principal.as_ref().and_then(|p| ReadScope::new(&state.db, &p.tenant_id));
        scopes.extend(scope.clone());
        r.data = request::request_data(state, &caller, rid, client, scope);
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        r.data.insert(RequestLanguage::new(accept));
        operations.push(Operation::of(&mut r));
        if prepaid {
            r.data.insert(crate::rate::Prepaid);
        }
        if let Some(m) = &measured {
            r.data.insert(m.clone());
        }
        r
    };
    let batch = match batch {
        BatchRequest::Single(r) => BatchRequest::Single(with_data(r)),
        BatchRequest::Batch(rs) => BatchRequest::Batch(rs.into_iter().map(with_data).collect()),
    };
    let response = caller.schema.execute_batch(batch).await;
    for scope in scopes {
        scope.finish().await;
    }
    let failed_before_execution = matches!(&response, BatchResponse::Single(r) if before_execution(r));
    if let (Some((query, operation)), BatchResponse::Single(r), Some(compiled)) =
        (learn, &response, &caller.compiled)
        && r.errors.is_empty()
    {
        let cost = measured.map_or(1, |m| m.get());
        compiled.shared.plans.learn(&query, operation.as_deref(), &compiled.access, cost);
    }
    record(state, &response);
    for (r, operation) in responses(&response).iter().zip(&operations) {
        let answered = Answered {
            name: operation.logged_name(),
            kind: operation.kind(),
            tenant,
            code: observe::response_code(r),
            compiled: false,
        };
        observe::answered(state, rid, started, answered);
    }
    let refused = refused(&response);
    let (content_type, status) = if accepts_graphql_response(headers) {
        (GRAPHQL_RESPONSE, if failed_before_execution { StatusCode::BAD_REQUEST } else { StatusCode::OK })
    } else {
        (JSON, StatusCode::OK)
    };
    let status = if refused.is_some() { StatusCode::TOO_MANY_REQUESTS } else { status };
    let mut resp = match &response {
        // Failed before execution: the result has no `data` entry at all (GraphQL spec,
        // "Response Format"; GraphQL over HTTP), not `data: null`.
        BatchResponse::Single(r) if failed_before_execution => {
            json_response(status, content_type, rid, &RequestErrors { errors: &r.errors })
        }
        _ => json_response(status, content_type, rid, &response),
    };
    if let Some(seconds) = refused {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    resp
}

/// When rate limits refused the whole request (every operation has no data and only
/// `RATE_LIMITED` errors): the longest `retryAfter`, for HTTP 429 and `Retry-After`.
fn refused(response: &BatchResponse) -> Option<u64> {
    let mut longest = None;
    for r in responses(response) {
        if r.errors.is_empty() || !matches!(r.data, async_graphql::Value::Null) {
            return None;
        }
        for e in &r.errors {
            let ext = e.extensions.as_ref()?;
            match (ext.get("code"), ext.get("retryAfter")) {
                (Some(async_graphql::Value::String(code)), Some(async_graphql::Value::Number(n)))
                    if ErrorCode::parse(code) == Some(ErrorCode::RateLimited) =>
                {
                    longest = longest.max(n.as_u64());
                }
                _ => return None,
            }
        }
    }
    longest
}

/// The result of a request that failed before execution.
#[derive(serde::Serialize)]
struct RequestErrors<'a> {
    errors: &'a [ServerError],
}

/// Answers a request from its compiled plan, or `None` when the plan declines (the executor
/// then answers). Marked `x-alphery-plan: compiled` where round trips are reported.
async fn compiled_read(
    state: &AppState,
    headers: &HeaderMap,
    rid: &RequestId,
    p: &Principal,
    compiled: &CompiledSchema,
    plan: &Plan,
    variables: &Variables,
) -> Option<HttpResponse> {
    let scope = ReadScope::new(&state.db, &p.tenant_id);
    let body = plan.run(state, p, &compiled.access, scope.as_deref(), variables).await;
    if let Some(scope) = scope {
        scope.finish().await;
    }
    let body = body?;
    state.metrics().http_requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let content_type = if accepts_graphql_response(headers) { GRAPHQL_RESPONSE } else { JSON };
    let mut resp = bytes_response(StatusCode::OK, content_type, rid, body);
    if state.config.sql_stats_header {
        resp.headers_mut().insert("x-alphery-plan", HeaderValue::from_static("compiled"));
    }
    Some(resp)
}

/// Whether a (labelled) answer failed before execution: no `data` at all, and only errors
/// that refused the request (parse, validation, variables, the query and rate limits:
/// `errors::refused_request`), which graphql-response+json answers with 400. A resolver's
/// error happened during execution even when it nulls the whole `data`.
fn before_execution(r: &Response) -> bool {
    !r.errors.is_empty()
        && matches!(r.data, async_graphql::Value::Null)
        && r.errors.iter().all(errors::refused_request)
}

fn accepts_graphql_response(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains(GRAPHQL_RESPONSE))
}

/// A plain JSON answer (routes other than GraphQL).
pub fn json_body(status: StatusCode, rid: &RequestId, body: &impl serde::Serialize) -> HttpResponse {
    json_response(status, JSON, rid, body)
}

fn json_response(
    status: StatusCode,
    content_type: &'static str,
    rid: &RequestId,
    body: &impl serde::Serialize,
) -> HttpResponse {
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "response serialization failed");
            let code = ErrorCode::Internal;
            format!(r#"{{"errors":[{{"message":"internal error","extensions":{{"code":"{code}"}}}}]}}"#)
                .into_bytes()
        }
    };
    bytes_response(status, content_type, rid, bytes)
}

fn bytes_response(
    status: StatusCode,
    content_type: &'static str,
    rid: &RequestId,
    bytes: Vec<u8>,
) -> HttpResponse {
    let mut resp = (status, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&rid.0) {
        h.insert("x-request-id", v);
    }
    resp
}

/// A request refused before any of its operations ran: its log line (no operation, no
/// tenant), and its error body.
fn refuse(
    state: &AppState,
    headers: &HeaderMap,
    rid: &RequestId,
    started: Instant,
    status: StatusCode,
    e: &ApiError,
) -> HttpResponse {
    let refused = Answered { name: None, kind: None, tenant: None, code: e.code().as_str(), compiled: false };
    observe::answered(state, rid, started, refused);
    error_response(headers, rid, status, e)
}

/// A request-level failure (nothing was executed) as a GraphQL error body, with
/// `Retry-After` when a rate limit refused it.
pub fn error_response(
    headers: &HeaderMap,
    rid: &RequestId,
    status: StatusCode,
    e: &ApiError,
) -> HttpResponse {
    let mut server_error = e.to_server_error();
    // Coded already (an `ApiError`), so whether the caller is anonymous does not matter; an
    // internal one is logged and carries the request id, as the executor's do.
    errors::label(&mut server_error, false, rid, &Operation::none());
    let ct = if accepts_graphql_response(headers) { GRAPHQL_RESPONSE } else { JSON };
    // Nothing ran: no `data` entry, as for every request error.
    let mut resp = json_response(status, ct, rid, &RequestErrors { errors: &[server_error] });
    if let Some(seconds) = e.retry_after() {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    resp
}
