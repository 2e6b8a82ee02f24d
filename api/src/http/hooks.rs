//! Inbound webhooks: `POST /hooks/workflows/{id}` starts a run of a workflow whose trigger is
//! `webhook`. No token: the caller proves itself with `X-Alphery-Signature: t=…,v1=…`, an
//! HMAC-SHA256 of `"{t}.{body}"` with the workflow's secret (timestamps older or newer than
//! five minutes are refused, so a captured request cannot be replayed later). The JSON body
//! names the record (`recordId`, or the trigger's unique `matchField`); an
//! `X-Alphery-Delivery-Id` header makes redelivery of the same event a no-op. Answers 202 with
//! the run's id. Deliveries per client address and workflow are rate-limited
//! (`RATE_LIMIT_WEBHOOK`), checked before anything is read: 429 with `Retry-After` beyond. A
//! workflow switched off with its module answers 403 (`FORBIDDEN`, reason `module_disabled`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response as HttpResponse;
use entity::features::workflows::{self as wf, Trigger};
use entity::runtime::audit::{self, Actor};
use entity::runtime::meta::TenantMeta;
use entity::runtime::outbox;
use entity::runtime::store::{ListArgs, Store};
use serde_json::{Value, json};

use super::graphql::{error_response, json_body};
use crate::error::ApiError;
use crate::http::state::AppState;
use crate::rate::Action;
use crate::schema::ctx::{ClientIp, RequestId};

pub async fn workflow(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> HttpResponse {
    let rid = RequestId::from_headers(&headers);
    let accepted = match state.limiter.attempt(Action::Webhook, ip, &[&id]).await {
        Ok(()) => {
            let (accepted, wrote) = outbox::tracked(accept(&state, &id, &headers, body)).await;
            // The run is queued and committed: the relay hands it to a worker now.
            if wrote {
                state.dispatcher.wake();
            }
            accepted
        }
        Err(e) => Err(e),
    };
    match accepted {
        Ok((run, duplicate)) => {
            json_body(StatusCode::ACCEPTED, &rid, &json!({"runId": run, "duplicate": duplicate}))
        }
        Err(e) => {
            state.metrics().error(e.code());
            error_response(&headers, &rid, e.http_status(), &e)
        }
    }
}

/// Verifies and queues; returns the run id and whether it was a redelivery.
async fn accept(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(String, bool), ApiError> {
    let body = body.map_err(|r| ApiError::BadRequest(format!("the body cannot be read: {r}")))?;
    // The workflow's tenant is not known yet: look it up on the system connection.
    let tenant_id = wf::tenant_of(&state.system_db.conn, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("workflow".into()))?;
    let d = state.db.dialect;
    let txn = state.db.begin_tenant_read(&tenant_id).await?;
    let w = wf::get(&txn, &tenant_id, id).await?;
    txn.commit().await?;
    let w = w.filter(|w| w.active).ok_or_else(|| ApiError::NotFound("active workflow".into()))?;
    let Trigger::Webhook { match_field, secret: Some(secret), .. } = &w.definition.trigger else {
        return Err(ApiError::NotFound("workflow with a webhook trigger".into()));
    };
    let signature = headers
        .get("x-alphery-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthenticated("X-Alphery-Signature is missing".into()))?;
    jobs::handlers::webhooks::verify_inbound(secret, signature, &body, chrono::Utc::now().timestamp())
        .map_err(|e| ApiError::Unauthenticated(e.into()))?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    if !payload.is_object() {
        return Err(ApiError::BadRequest("the body must be a JSON object".into()));
    }
    // The body is kept with the run: refused alike on both backends, as a GraphQL argument is
    // (`schema::inputs`), where PostgreSQL could not store it.
    if entity::runtime::value::has_nul(&payload) {
        return Err(ApiError::BadRequest(format!("the body {}", entity::runtime::value::NO_NUL)));
    }
    // A workflow switched off with its modules (or with its entity) takes no deliveries.
    let txn = state.db.begin_tenant_read(&tenant_id).await?;
    crate::features::modules::refuse_off_workflow(&txn, &w).await?;
    txn.commit().await?;
    let meta = TenantMeta::load_for(&state.db, &tenant_id).await?.switched_on();
    let entity = meta.entity_by_id(&w.entity_id).ok_or_else(|| ApiError::NotFound("entity".into()))?;
    let store = Store::new(&state.db, &tenant_id);
    let record_id = match (match_field, payload.get("recordId").and_then(Value::as_str)) {
        (_, Some(rid)) => store.get(entity, rid, None).await?.map(|r| r.id),
        (Some(field), None) => {
            let f = entity
                .field_by_graphql(field)
                .or_else(|| entity.field_by_key(field))
                .ok_or_else(|| ApiError::Internal(format!("match field {field} is gone")))?;
            let value =
                payload.get(&f.graphql_name).or_else(|| payload.get(f.key.as_str())).cloned().ok_or_else(
                    || {
                        ApiError::BadRequest(format!(
                            "the body names no record: give `recordId` or `{}`",
                            f.graphql_name
                        ))
                    },
                )?;
            let filter = entity::runtime::filter::Filter::parse(
                entity,
                &json!({ f.graphql_name.clone(): {"eq": value} }),
            )?;
            let args = ListArgs { filter: Some(filter), first: Some(1), ..ListArgs::default() };
            store.list(entity, &args, 1).await?.records.into_iter().next().map(|r| r.id)
        }
        (None, None) => return Err(ApiError::BadRequest("the body names no record: give `recordId`".into())),
    }
    .ok_or_else(|| ApiError::NotFound(entity.label_singular.clone()))?;
    let delivery =
        headers.get("x-alphery-delivery-id").and_then(|v| v.to_str().ok()).filter(|s| !s.is_empty());
    let key = match delivery {
        Some(d) if d.len() <= 64 => format!("hook:{d}"),
        Some(_) => {
            return Err(ApiError::BadRequest("X-Alphery-Delivery-Id is longer than 64 characters".into()));
        }
        None => format!("hook:{}", uuid::Uuid::new_v4()),
    };
    let txn = state.db.begin_tenant_write(&tenant_id).await?;
    let queued = wf::queue_run(&txn, d, &w, &key, &record_id, Some(&payload)).await?;
    let Some((run, event)) = queued else {
        let existing = wf::run_by_key(&txn, &tenant_id, &w.id, &key).await?;
        txn.commit().await?;
        return Ok((existing.unwrap_or_default(), true));
    };
    let entry = audit::Entry {
        action: "workflow.webhook",
        object_type: "workflow",
        object_id: Some(&w.id),
        changes: event,
    };
    audit::append(&txn, d, &tenant_id, &Actor::system(), &entry).await?;
    txn.commit().await?;
    Ok((run, false))
}
