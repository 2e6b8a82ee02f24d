//! The tenant's archive (`startTenantExport`, its owner only): an export job (`jobs`, format
//! `zip`) that writes the whole tenant, as the API shows it to the owner now, into one zip file
//! (`zip::ZipWriter`) any unzip tool opens:
//! - `definitions.json`: the tenant, its entities and fields, roles, users (no password,
//!   invitation or second-factor secret), workflows (without their secrets), dashboards and the
//!   templates applied;
//! - `records/<nameSingular>.jsonl`: each entity's records as the owner's list shows them (the
//!   JSON Lines export of `super::write`, read in keyset pages);
//! - `audit.jsonl`: the audit trail, oldest first, in keyset pages, with personal values opened
//!   where their subject's key still exists — an erased subject's stay `{"erased": true}`;
//! - `files.jsonl` and `files/<id>/<name>`: the attachments' metadata, then their bytes,
//!   streamed from the file store (`Blobs`).
//!
//! Every part is read a page at a time and written before the next is read, so memory stays
//! bounded whatever the tenant's size. The job reports the records written after each page.

use std::path::Path;
use std::pin::Pin;

use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use super::zip::{self, ZipWriter};
use super::{Ask, Asker, Format, PAGE, Plan, Sink, write};
use crate::features::gdpr::tenant::{described, of_tenant};
use crate::features::users::roles;
use crate::models::export_job::Model as ExportJob;
use crate::models::{audit_log, dashboard, file, tenant_template, workflow};
use crate::runtime::audit::{Actor, AuditRow};
use crate::runtime::meta::TenantMeta;
use crate::runtime::policy::Permissions;
use crate::runtime::{personal, time};
use crate::{Db, Error, Result};

/// The `format` of an archive job.
pub const FORMAT: &str = "zip";

/// The archive's media type.
pub const CONTENT_TYPE: &str = "application/zip";

/// A stored file's content, a chunk at a time.
pub type Chunks = Pin<Box<dyn Stream<Item = std::io::Result<Vec<u8>>> + Send>>;

/// Where the attachments' bytes are read from (the API's file store, by SHA-256).
pub trait Blobs: Send + Sync {
    /// The content under `sha256` (`None`: the store holds none).
    fn open<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, std::io::Result<Option<Chunks>>>;
}

/// Told the records written so far, after each page.
pub trait Progress: Send {
    fn rows(&mut self, rows: u64) -> impl std::future::Future<Output = Result<()>> + Send;
}

/// What an archive holds: the counts its job and audit entry report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub entities: u64,
    pub records: u64,
    pub audit_entries: u64,
    pub files: u64,
}

/// Writes the archive of `job` to `path` (see the module doc); its counts and size in bytes.
pub async fn write_archive(
    db: &Db,
    blobs: &dyn Blobs,
    path: &Path,
    job: &ExportJob,
    progress: &mut impl Progress,
) -> Result<(Counts, u64)> {
    let tenant_id = job.tenant_id.as_str();
    let meta = TenantMeta::load_for(db, tenant_id).await?.switched_on();
    let mut zip = ZipWriter::create(path).await?;
    zip.start("definitions.json").await?;
    zip.write(&serde_json::to_vec_pretty(&definitions(db, &meta, tenant_id).await?)?).await?;

    let txn = db.begin_tenant_read(tenant_id).await?;
    let role = roles::find(&txn, tenant_id, &job.role_id).await?;
    let attributes = crate::features::users::attributes::of_user(&txn, tenant_id, &job.user_id).await?;
    txn.commit().await?;
    let permissions = Permissions::from_stored(&role.permissions);
    let actor: Actor = serde_json::from_value(job.actor.clone())?;
    let mut counts = Counts::default();
    for e in &meta.entities {
        let ask = Ask { entity: e.name_singular.clone(), format: Format::Jsonl, filter: None, fields: None };
        let who = Asker {
            tenant_id,
            user_id: &job.user_id,
            attributes: &attributes,
            permissions: &permissions,
            actor: actor.clone(),
        };
        let plan = Plan::build(&meta, who, ask)?;
        zip.start(&format!("records/{}.jsonl", zip::segment(&e.name_singular))).await?;
        let mut sink = Entry { zip: &mut zip, before: counts.records, progress: &mut *progress };
        counts.records += write(db, &plan, &mut sink).await?;
        counts.entities += 1;
    }
    counts.audit_entries = audit(db, tenant_id, &mut zip).await?;
    counts.files = files(db, blobs, tenant_id, &mut zip).await?;
    let size = zip.finish().await?;
    Ok((counts, size))
}

/// An archive entry as an export's sink: its bytes go into the entry, its progress to the job.
struct Entry<'a, P> {
    zip: &'a mut ZipWriter,
    /// Records written before this entry.
    before: u64,
    progress: &'a mut P,
}

impl<P: Progress> Sink for Entry<'_, P> {
    async fn write(&mut self, chunk: Vec<u8>, rows: u64) -> Result<bool> {
        self.zip.write(&chunk).await?;
        if rows > 0 {
            self.progress.rows(self.before + rows).await?;
        }
        Ok(true)
    }
}

/// `definitions.json`: what defines the tenant (`gdpr::tenant::described`, then its
/// workflows, dashboards and templates), read in one transaction — bounded by the tenant's
/// definitions and seats, not by its data.
async fn definitions(db: &Db, meta: &TenantMeta, tenant_id: &str) -> Result<Value> {
    let txn = db.begin_tenant_read(tenant_id).await?;
    let mut doc = described(&txn, meta, tenant_id).await?;
    let (w, d, t) =
        (workflow::Column::TenantId, dashboard::Column::TenantId, tenant_template::Column::TenantId);
    let workflows = of_tenant::<workflow::Entity>(&txn, w, workflow::Column::CreatedAt, tenant_id).await?;
    let dashboards = of_tenant::<dashboard::Entity>(&txn, d, dashboard::Column::Position, tenant_id).await?;
    let templates =
        of_tenant::<tenant_template::Entity>(&txn, t, tenant_template::Column::Slug, tenant_id).await?;
    txn.commit().await?;
    let entity_name = |id: &str| meta.entity_by_id(id).map(|e| e.name_singular.clone());
    doc.insert("format".into(), json!("alphery.tenant-archive.v1"));
    // A workflow's secrets (webhook signing keys and the like) stay out.
    let workflows: Vec<Value> = workflows
        .iter()
        .map(|w| {
            json!({"id": w.id, "name": w.name, "description": w.description, "active": w.active,
                   "entity": entity_name(&w.entity_id), "definition": w.definition, "switchedOff": w.switched_off})
        })
        .collect();
    let dashboards: Vec<Value> = dashboards
        .iter()
        .map(|d| {
            json!({"id": d.id, "key": d.key, "name": d.name, "roles": d.roles, "widgets": d.widgets,
                   "template": d.template, "position": d.position, "switchedOff": d.switched_off})
        })
        .collect();
    let templates: Vec<Value> = templates
        .iter()
        .map(|t| json!({"slug": t.slug, "version": t.version, "appliedAt": time::format(&t.applied_at)}))
        .collect();
    doc.insert("workflows".into(), Value::Array(workflows));
    doc.insert("dashboards".into(), Value::Array(dashboards));
    doc.insert("templates".into(), Value::Array(templates));
    Ok(Value::Object(doc))
}

/// `audit.jsonl`: the trail oldest first, `PAGE` entries per statement, each page's personal
/// values opened (`personal::reveal`) before it is written; the entries written.
async fn audit(db: &Db, tenant_id: &str, zip: &mut ZipWriter) -> Result<u64> {
    zip.start("audit.jsonl").await?;
    let sealer = db.sealer()?;
    let (mut after, mut written) = (None::<i64>, 0u64);
    loop {
        let txn = db.begin_tenant_read(tenant_id).await?;
        let mut page = audit_log::Entity::find().filter(audit_log::Column::TenantId.eq(tenant_id));
        if let Some(seq) = after {
            page = page.filter(audit_log::Column::Seq.gt(seq));
        }
        let rows = page.order_by_asc(audit_log::Column::Seq).limit(PAGE).all(&txn).await?;
        let mut rows: Vec<AuditRow> = rows.into_iter().map(AuditRow::from).collect();
        personal::reveal(&txn, sealer, tenant_id, rows.iter_mut().map(AuditRow::sealed).collect()).await?;
        txn.commit().await?;
        let mut chunk = Vec::new();
        for r in &rows {
            serde_json::to_writer(&mut chunk, r)?;
            chunk.push(b'\n');
        }
        zip.write(&chunk).await?;
        written += rows.len() as u64;
        match rows.last() {
            Some(last) if rows.len() as u64 == PAGE => after = Some(last.seq),
            _ => return Ok(written),
        }
    }
}

/// The tenant's files (not deleted), `PAGE` at a time by id, each page in a read of its own.
struct FilePages<'a> {
    db: &'a Db,
    tenant_id: &'a str,
    /// The last id read; `None` before the first page.
    after: Option<String>,
    done: bool,
}

impl<'a> FilePages<'a> {
    fn new(db: &'a Db, tenant_id: &'a str) -> FilePages<'a> {
        FilePages { db, tenant_id, after: None, done: false }
    }

    /// The next page (`None` once the last was read).
    async fn read_next(&mut self) -> Result<Option<Vec<file::Model>>> {
        if self.done {
            return Ok(None);
        }
        let txn = self.db.begin_tenant_read(self.tenant_id).await?;
        let mut page = file::Entity::find()
            .filter(file::Column::TenantId.eq(self.tenant_id))
            .filter(file::Column::DeletedAt.is_null());
        if let Some(id) = &self.after {
            page = page.filter(file::Column::Id.gt(id.as_str()));
        }
        let rows = page.order_by_asc(file::Column::Id).limit(PAGE).all(&txn).await?;
        txn.commit().await?;
        self.done = rows.len() as u64 != PAGE;
        self.after = rows.last().map(|f| f.id.clone());
        Ok(Some(rows))
    }
}

/// Where file `f`'s bytes stand in the archive.
fn file_entry(f: &file::Model) -> String {
    format!("files/{}/{}", f.id, zip::segment(&f.name))
}

/// `files.jsonl` (each file's metadata, where it is attached and its path in the archive),
/// then each file's bytes under that path; the files whose bytes were written. Both passes
/// page by id, so a file uploaded meanwhile may have bytes and no line.
async fn files(db: &Db, blobs: &dyn Blobs, tenant_id: &str, zip: &mut ZipWriter) -> Result<u64> {
    zip.start("files.jsonl").await?;
    let mut pages = FilePages::new(db, tenant_id);
    while let Some(page) = pages.read_next().await? {
        let mut chunk = Vec::new();
        for f in &page {
            let line = json!({"id": f.id, "name": f.name, "mimeType": f.content_type, "size": f.size,
                              "sha256": f.sha256, "entityId": f.entity_id, "recordId": f.record_id,
                              "fieldKey": f.field_key, "uploadedBy": f.uploaded_by,
                              "createdAt": time::format(&f.created_at), "path": file_entry(f)});
            serde_json::to_writer(&mut chunk, &line)?;
            chunk.push(b'\n');
        }
        zip.write(&chunk).await?;
    }
    let mut written = 0u64;
    let mut pages = FilePages::new(db, tenant_id);
    while let Some(page) = pages.read_next().await? {
        for f in &page {
            let Some(mut content) = blobs.open(&f.sha256).await.map_err(io)? else {
                // Metadata without bytes (a store emptied by hand): the archive goes on
                // without that entry rather than fail as a whole.
                tracing::warn!(file = %f.id, sha256 = %f.sha256, "tenant archive: no bytes for a file");
                continue;
            };
            zip.start(&file_entry(f)).await?;
            while let Some(chunk) = content.next().await {
                zip.write(&chunk.map_err(io)?).await?;
            }
            written += 1;
        }
    }
    Ok(written)
}

fn io(e: std::io::Error) -> Error {
    Error::Internal(format!("file store: {e}"))
}

/// Whether `job` is a tenant archive (rather than a list export).
pub fn is_archive(job: &ExportJob) -> bool {
    job.format == FORMAT
}
