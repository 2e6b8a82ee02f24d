//! `startTenantExport` (the tenant's owner only): queues the tenant's archive, an export job
//! the worker writes as one zip file (`entity::features::exports::tenant`). The request is
//! audited (`tenant.export_started`) in the transaction that queues it; the job is then followed
//! like any export job — `exportJob(id)`, `exportChanged(id)` — and its `downloadUrl`
//! (`GET /exports/<id>`) serves the archive to the owner alone, each download audited
//! (`tenant.export_downloaded`, `http::export`).

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, TypeRef};
use entity::features::exports::jobs::{self, Requester};
use entity::runtime::audit;
use entity::runtime::naming::tenant_export::START_TENANT_EXPORT;
use entity::runtime::naming::types as t;
use serde_json::json;

use super::gdpr::require_owner;
use crate::schema::ctx;
use crate::schema::feature::{Declared, Slot};
use crate::services::Txn;

fn start_tenant_export() -> Field {
    Field::new(START_TENANT_EXPORT, TypeRef::named_nn(t::EXPORT_JOB), |c| {
        FieldFuture::new(async move {
            require_owner(&c)?;
            let (state, p, actor) = (ctx::state(&c)?, ctx::principal(&c)?, ctx::actor(&c)?);
            let d = state.db.dialect;
            let job = state
                .in_tenant(&p.tenant_id, Txn::Write, async |txn| {
                    let who = Requester { user_id: &p.user_id, role_id: &p.role_id, actor: &actor };
                    let job = jobs::queue_archive(txn, &p.tenant_id, who).await?;
                    let entry = audit::Entry {
                        action: "tenant.export_started",
                        object_type: "export_job",
                        object_id: Some(&job.id),
                        changes: json!({"format": job.format}),
                    };
                    audit::append(txn, d, &p.tenant_id, &actor, &entry).await?;
                    Ok::<_, entity::Error>(job)
                })
                .await?;
            Ok(Some(FieldValue::owned_any(job)))
        })
    })
    .description(
        "Exports the whole tenant (owner) in the background as one zip archive: definitions.json (entities, \
         fields, roles, users without secrets, workflows, dashboards, templates), records/<entity>.jsonl, \
         audit.jsonl, files.jsonl and the files. Follow it with `exportJob` or `exportChanged`, then download \
         it from `downloadUrl` (owner only). Audited, as is each download.",
    )
}

/// The tenant's archive: the owner's mutation (an administrators' slot, checked for the owner).
pub static FEATURE: Declared =
    Declared { mutations: &[(Slot::Admin, |_| vec![start_tenant_export()])], ..Declared::EMPTY };
