//! `startImport`: checks the caller may create records of the entity (and update them, to
//! upsert), stores the uploaded file under the data folder, reads its header and counts its
//! rows, maps its columns to the fields the caller may write, and records the import with the
//! event that queues its job — in one transaction. Nothing of the file is written to records
//! here: the worker does that, batch by batch.

use std::io::Write;

use async_graphql::dynamic::ResolverContext;
use entity::FieldError;
use entity::features::imports::{self, Import, NewImport, file, mapping};

use crate::error::ApiError;
use crate::schema::args::{self, arg_json};
use crate::schema::{ctx, upload};
use crate::services::Txn;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, message)])
}

/// Runs `startImport` for the caller.
pub async fn start(c: &ResolverContext<'_>) -> Result<Import, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let access = ctx::access(c)?;
    let name = args::string(c, "entity")?;
    let a = access
        .meta
        .entity_by_name(&name)
        .and_then(|e| access.entity(&e.id))
        .ok_or_else(|| ApiError::NotFound(format!("entity `{name}`")))?;
    if !a.create {
        return Err(ApiError::Forbidden(format!("your role may not create {}", a.full.label_plural)));
    }
    let upsert_by = match args::opt_string(c, "upsertBy")? {
        None => None,
        Some(_) if !a.update => {
            return Err(ApiError::Forbidden(format!(
                "`upsertBy` updates records: your role may not update {}",
                a.full.label_plural
            )));
        }
        Some(key) => {
            let f = mapping::field_named(&a.view.fields, &key)
                .filter(|f| f.unique && f.is_stored() && !f.is_computed())
                .ok_or_else(|| {
                    invalid("upsertBy", format!("`{key}` is no unique field of {}", a.full.label_singular))
                })?;
            Some(f.key.to_string())
        }
    };
    let requested: Option<Vec<mapping::Requested>> = arg_json(c, "mapping")?
        .filter(|v| !v.is_null())
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("mapping: {e}")))?;
    let run_workflows = match c.args.get("runWorkflows") {
        Some(v) if !v.is_null() => v.boolean()?,
        _ => true,
    };
    let upload = upload::argument(c, "file")?;
    let file_name: String = upload.filename.chars().take(255).collect();
    let id = uuid::Uuid::new_v4().to_string();
    let path = jobs::handlers::imports::path(&state.config.data_dir, &p.tenant_id, &id);
    let stored = path.clone();
    let scan = tokio::task::spawn_blocking(move || -> Result<file::Scan, String> {
        let dir = stored.parent().ok_or("no folder for imports")?;
        std::fs::create_dir_all(dir).map_err(|e| format!("the imports folder: {e}"))?;
        let mut out = std::fs::File::create(&stored).map_err(|e| format!("storing the file: {e}"))?;
        let mut content = upload.content;
        std::io::copy(&mut content, &mut out).map_err(|e| format!("storing the file: {e}"))?;
        out.flush().map_err(|e| format!("storing the file: {e}"))?;
        file::scan(&stored)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("storing an import's file: {e}")))?;
    let checked = scan.map_err(|m| invalid("file", m)).and_then(|scan| {
        let columns = mapping::resolve(&scan.headers, requested.as_deref(), &a.writable)
            .map_err(ApiError::Validation)?;
        if let Some(key) = &upsert_by
            && !columns.iter().any(|col| &col.field == key)
        {
            return Err(invalid("upsertBy", format!("no column of the file fills `{key}`")));
        }
        Ok((scan, columns))
    });
    let (scan, columns) = match checked {
        Ok(ok) => ok,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
    };
    let mut actor = ctx::actor(c)?;
    actor.workflows_off = !run_workflows;
    let new = NewImport {
        id,
        entity_id: a.full.id.clone(),
        file_name,
        mapping: columns,
        dry_run: args::flag(c, "dryRun")?,
        run_workflows,
        upsert_by,
        actor,
        permissions: p.permissions.to_json(),
        scan,
    };
    let started = state
        .in_tenant(&p.tenant_id, Txn::Write, async |txn| imports::start(txn, &p.tenant_id, new).await)
        .await;
    if started.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    started
}
