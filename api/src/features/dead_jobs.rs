//! GraphQL for the dead-letter view (administrators): `deadJobs` lists emails, webhook
//! deliveries and workflow runs that ran out of attempts or failed for good; `retryDeadJob`
//! gives one of them one more attempt (audited); `deadJobAdded` pushes each as it dies.

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputValue, Object, SubscriptionField, SubscriptionFieldFuture,
    Type, TypeRef,
};
use async_graphql::{Name, Value};
use entity::features::dead_jobs::{self, DeadJob, Kind};
use entity::runtime::audit;
use entity::runtime::naming::{fields as f, types as t};
use jobs::BusEvent;

use crate::error::ApiError;
use crate::schema::args;
use crate::schema::feature::{Declared, Slot, admin_only, admin_types};
use crate::schema::values::{s, sync_field, ts};
use crate::schema::{ctx, news};
use crate::services::Txn;

pub fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    vec![
        Enum::new(t::DEAD_JOB_KIND)
            .items([Kind::Email, Kind::WebhookDelivery, Kind::WorkflowRun].map(Kind::as_str))
            .into(),
        Object::new(t::DEAD_JOB)
            .field(sync_field::<DeadJob>("id", TypeRef::named_nn(TypeRef::ID), |j| s(&j.id)))
            .field(sync_field::<DeadJob>("kind", TypeRef::named_nn(t::DEAD_JOB_KIND), |j| {
                Some(Value::Enum(Name::new(j.kind.as_str())))
            }))
            .field(sync_field::<DeadJob>("status", string(), |j| s(&j.status)))
            .field(sync_field::<DeadJob>("attempts", TypeRef::named_nn(TypeRef::INT), |j| {
                Some(Value::from(j.attempts))
            }))
            .field(sync_field::<DeadJob>("lastError", TypeRef::named(TypeRef::STRING), |j| {
                j.last_error.as_deref().and_then(s)
            }))
            .field(sync_field::<DeadJob>("summary", string(), |j| s(&j.summary)))
            .field(sync_field::<DeadJob>("createdAt", TypeRef::named_nn(t::DATE_TIME), |j| ts(&j.created_at)))
            .into(),
    ]
}

pub fn queries() -> Vec<Field> {
    vec![
        Field::new(f::DEAD_JOBS, TypeRef::named_nn_list_nn(t::DEAD_JOB), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let first = args::log_page_size(&c, state.config.max_page_size)?;
                let list = state.in_tenant(&p.tenant_id, Txn::Read, async |txn| dead_jobs::list(txn, &p.tenant_id, first).await).await?;
                Ok(Some(FieldValue::list(list.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .description("Emails, webhook deliveries and workflow runs that ran out of attempts or failed for good, newest first."),
    ]
}

pub fn mutations() -> Vec<Field> {
    vec![
        Field::new(f::RETRY_DEAD_JOB, TypeRef::named_nn(t::DEAD_JOB_KIND), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let id = args::id(&c)?;
                let d = state.db.dialect;
                let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
                let kind = dead_jobs::retry(&txn, &p.tenant_id, &id)
                    .await
                    .map_err(ApiError::from)?
                    .ok_or_else(|| ApiError::NotFound("dead job".into()))?;
                let entry = audit::Entry {
                    action: "job.retry",
                    object_type: "job",
                    object_id: Some(&id),
                    changes: serde_json::json!({"kind": kind.as_str()}),
                };
                audit::append(&txn, d, &p.tenant_id, &ctx::actor(&c)?, &entry)
                    .await
                    .map_err(ApiError::from)?;
                txn.commit().await.map_err(ApiError::from)?;
                Ok(Some(Value::Enum(Name::new(kind.as_str()))))
            })
        })
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
        .description("Gives a dead job one more attempt (through the queue); returns its kind."),
    ]
}

/// `deadJobAdded`: emails, deliveries and workflow runs of the tenant as they die (run out of
/// attempts, or a run fails for good), as `deadJobs` lists them.
pub fn subscription() -> SubscriptionField {
    SubscriptionField::new(f::DEAD_JOB_ADDED, TypeRef::named_nn(t::DEAD_JOB), |c| {
        SubscriptionFieldFuture::new(async move {
            ctx::require_admin(&c)?;
            news::stream(
                &c,
                |e| match e {
                    BusEvent::Email(m) if m.status == "dead" => Some(m.email_id.clone()),
                    BusEvent::WebhookDelivery(d) if d.status == "dead" => Some(d.delivery_id.clone()),
                    BusEvent::WorkflowRun(r) if matches!(r.run.status.as_str(), "dead" | "failed") => {
                        Some(r.run.id.clone())
                    }
                    _ => None,
                },
                async |state, p, id| {
                    let job = state
                        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
                            dead_jobs::get(txn, &p.tenant_id, &id).await
                        })
                        .await?;
                    Ok(job.map(FieldValue::owned_any))
                },
            )
        })
    })
    .description(
        "Emails, webhook deliveries and workflow runs as they run out of attempts or fail for good \
         (administrators).",
    )
}

/// The dead-letter view and its retries (administrators).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Admin, |_| queries())],
    mutations: &[(Slot::Admin, |_| mutations())],
    subscriptions: |a| admin_only(a, || vec![subscription()]),
    types: |a| admin_types(a, types),
    ..Declared::EMPTY
};
