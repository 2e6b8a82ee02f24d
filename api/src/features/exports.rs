//! Exports as jobs: `exportRecords(entity, format, filter, fields)` checks the export as the
//! streamed one is checked (`Plan::build`: the `export` action, readable columns, the filter)
//! and queues it; a worker writes the file (`entity::features::exports::jobs`). `exportJob(id)`
//! shows how far it got, `exportChanged(id)` each change of status or progress (rows written),
//! and once done its `downloadUrl` (`GET /exports/<id>`, `http::export::download`) serves the
//! file. A job is seen by the user who asked for it and by administrators of its tenant only;
//! the tenant's archive (`startTenantExport`, `features::tenant_export`) by its owner only.

use ::jobs::BusEvent;
use async_graphql::Value;
use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputValue, Object, SubscriptionField, SubscriptionFieldFuture,
    Type, TypeRef,
};
use entity::features::exports::jobs::{self, ExportJob, Requester};
use entity::features::exports::tenant as tenant_archive;
use entity::features::exports::{Ask, Asker, Format, Plan};
use entity::features::gdpr::tenant as gdpr_tenant;
use entity::runtime::naming::{fields as f, types as t};

use crate::auth::principal::Principal;
use crate::error::{ApiError, gql};
use crate::schema::feature::{Declared, Slot};
use crate::schema::values::{s, sync_field, ts};
use crate::schema::{args, ctx, news};
use crate::services::{Services, Txn};

/// The path a finished export's file is downloaded from.
pub fn download_path(id: &str) -> String {
    format!("/exports/{id}")
}

/// Whether `p` may see export job `job`: the user who asked for it, or an administrator; the
/// tenant's archive (`startTenantExport`) its owner only.
pub fn may_see(p: &Principal, job: &ExportJob) -> bool {
    if tenant_archive::is_archive(job) {
        return p.role == gdpr_tenant::OWNER;
    }
    job.user_id == p.user_id || p.permissions.admin
}

/// Export job `id` of `p`'s tenant, if `p` may see it.
pub async fn visible_job(state: &Services, p: &Principal, id: &str) -> Result<Option<ExportJob>, ApiError> {
    let job =
        state.in_tenant(&p.tenant_id, Txn::Read, async |txn| jobs::get(txn, &p.tenant_id, id).await).await?;
    Ok(job.filter(|j| may_see(p, j)))
}

fn types() -> Vec<Type> {
    let string = || TypeRef::named_nn(TypeRef::STRING);
    vec![
        Enum::new(t::EXPORT_FORMAT)
            .description(
                "The file format of an export: CSV (RFC 4180) or JSON Lines; ZIP is the tenant's archive \
                 (`startTenantExport`).",
            )
            .items(["CSV", "JSONL", "ZIP"])
            .into(),
        Object::new(t::EXPORT_JOB)
            .description("An export written to a file by a worker (`exportRecords`, `startTenantExport`).")
            .field(sync_field::<ExportJob>("id", TypeRef::named_nn(TypeRef::ID), |j| s(&j.id)))
            .field(
                sync_field::<ExportJob>("entity", string(), |j| s(&j.entity))
                    .description("nameSingular (empty for the tenant's archive)."),
            )
            .field(sync_field::<ExportJob>("format", TypeRef::named_nn(t::EXPORT_FORMAT), |j| {
                Some(Value::Enum(async_graphql::Name::new(j.format.to_uppercase())))
            }))
            .field(
                sync_field::<ExportJob>("status", string(), |j| s(&j.status))
                    .description("queued, running, done or failed."),
            )
            .field(
                sync_field::<ExportJob>("rowsWritten", TypeRef::named_nn(TypeRef::INT), |j| {
                    Some(Value::from(j.rows_written))
                })
                .description("Rows (records) in the file so far (all of them once done)."),
            )
            .field(
                sync_field::<ExportJob>("sizeBytes", TypeRef::named(TypeRef::INT), |j| {
                    j.size_bytes.map(Value::from)
                })
                .description("Once done: the file's size in bytes."),
            )
            .field(sync_field::<ExportJob>("error", TypeRef::named(TypeRef::STRING), |j| {
                j.error.as_deref().and_then(s)
            }))
            .field(
                sync_field::<ExportJob>("downloadUrl", TypeRef::named(TypeRef::STRING), |j| {
                    (j.status == jobs::DONE).then(|| Value::from(download_path(&j.id)))
                })
                .description("Once done: where to GET the file (with the same credentials as /graphql)."),
            )
            .field(sync_field::<ExportJob>("createdAt", TypeRef::named_nn(t::DATE_TIME), |j| {
                ts(&j.created_at)
            }))
            .field(sync_field::<ExportJob>("finishedAt", TypeRef::named(t::DATE_TIME), |j| {
                j.finished_at.as_ref().and_then(ts)
            }))
            .into(),
    ]
}

fn export_records() -> Field {
    Field::new(f::EXPORT_RECORDS, TypeRef::named_nn(t::EXPORT_JOB), |c| {
        FieldFuture::new(async move {
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            // An enum argument: its JSON copy is its name.
            let format =
                args::arg_json(&c, "format")?.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            let format = Format::parse(&format).map_err(gql)?;
            let fields = match args::arg_json(&c, "fields")? {
                Some(v) => Some(
                    serde_json::from_value::<Vec<String>>(v)
                        .map_err(|e| ApiError::BadRequest(format!("fields: {e}")))?,
                ),
                None => None,
            };
            let ask = Ask {
                entity: args::string(&c, "entity")?,
                format,
                filter: args::arg_json(&c, "filter")?,
                fields,
            };
            let actor = ctx::actor(&c)?;
            // Checked now, so a refused export fails here rather than in the worker.
            let who = Asker {
                tenant_id: &p.tenant_id,
                user_id: &p.user_id,
                attributes: &p.attributes,
                permissions: &p.permissions,
                actor: actor.clone(),
            };
            Plan::build(&ctx::access(&c)?.meta, who, ask.clone()).map_err(gql)?;
            let requester = Requester { user_id: &p.user_id, role_id: &p.role_id, actor: &actor };
            let job = state
                .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                    jobs::queue(txn, &p.tenant_id, &ask, requester).await
                })
                .await?;
            Ok(Some(FieldValue::owned_any(job)))
        })
    })
    .argument(InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING)).description("nameSingular."))
    .argument(InputValue::new("format", TypeRef::named_nn(t::EXPORT_FORMAT)))
    .argument(
        InputValue::new("filter", TypeRef::named(t::JSON))
            .description("The entity's filter, as its list takes it (`{\"stage\": {\"eq\": \"won\"}}`)."),
    )
    .argument(
        InputValue::new("fields", TypeRef::named_nn_list(TypeRef::STRING))
            .description("Columns by GraphQL name (default: every column you may read)."),
    )
    .description(
        "Exports a filtered list to a file in the background (your role's `export` action, the fields you \
         may read); follow it with `exportJob` or `exportChanged`, then download it from `downloadUrl`.",
    )
}

fn export_job() -> Field {
    Field::new(f::EXPORT_JOB, TypeRef::named(t::EXPORT_JOB), |c| {
        FieldFuture::new(async move {
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let job = visible_job(state, p, &args::id(&c)?).await?;
            Ok(job.map(FieldValue::owned_any))
        })
    })
    .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)))
    .description("An export job you asked for (administrators: any of the tenant's); null otherwise.")
}

fn export_changed() -> SubscriptionField {
    SubscriptionField::new(f::EXPORT_CHANGED, TypeRef::named_nn(t::EXPORT_JOB), |c| {
        SubscriptionFieldFuture::new(async move {
            let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
            let only = args::opt_string(&c, "id")?;
            if let Some(id) = &only
                && visible_job(state, p, id).await?.is_none()
            {
                return Err(ApiError::NotFound("export job".into()).to_graphql());
            }
            news::stream(
                &c,
                move |e| match e {
                    BusEvent::Export(x) if only.as_ref().is_none_or(|id| *id == x.export_id) => {
                        Some(x.clone())
                    }
                    _ => None,
                },
                // Another user's job is dropped here (`visible_job`), unless the caller administers.
                async |state, p, x| {
                    let job = visible_job(&state, &p, &x.export_id).await?;
                    // As the change left it, even if a later one has committed since.
                    let shown = job.map(|j| ExportJob {
                        status: x.status.clone(),
                        rows_written: x.rows_written,
                        ..j
                    });
                    Ok(shown.map(FieldValue::owned_any))
                },
            )
        })
    })
    .argument(
        InputValue::new("id", TypeRef::named(TypeRef::ID))
            .description("One export job; without it, every one you may see (yours; administrators: all)."),
    )
    .description("Each change of an export job's status and progress (rows written).")
}

/// `exportRecords`, `exportJob` and `exportChanged`, for every role (the `export` action is
/// checked per entity).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| vec![export_job()])],
    mutations: &[(Slot::Member, |_| vec![export_records()])],
    subscriptions: |_| vec![export_changed()],
    types: |_| types(),
    ..Declared::EMPTY
};
