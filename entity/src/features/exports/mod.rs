//! Exports of an entity's records as CSV or JSON Lines. An export is what a list shows the
//! caller, in full: the filter with the caller's row rule ANDed in, only the fields the
//! caller's role reads (`Permissions::reads_field`, the role's view), gated by the `export`
//! action. It is read in keyset pages (`PAGE` records, one statement each) and each page is
//! handed to a `Sink` (a response body, a file) before the next is read, so memory stays
//! constant whatever the size. Once the last row is out, the export is audited: one
//! `record.export` entry with who, the entity, the filter, the format, the columns and the row
//! count. An export is streamed to its caller (`GET /export/<entity>`) or written to a file
//! by a worker (`jobs`: `exportRecords`). The tenant's owner exports the whole tenant as one
//! zip archive the same way (`tenant`: `startTenantExport`).

pub mod format;
pub mod jobs;
pub mod tenant;
pub mod zip;

use std::sync::Arc;

use serde_json::{Value, json};

pub use format::{Column, Format};

use crate::runtime::audit::{self, Actor};
use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::runtime::policy::{Action, Attributes, Permissions, Subject};
use crate::runtime::sql::{Direction, SortKey};
use crate::runtime::store::{ListArgs, Store};
use crate::{Db, Error, FieldError, Result};

/// Records read per statement.
pub const PAGE: u64 = 500;

/// What an export is asked: the entity (`nameSingular`), the format, a filter in the entity's
/// filter language (the JSON of its GraphQL filter input) and the columns by GraphQL name (all
/// readable ones when `None`).
#[derive(Debug, Clone)]
pub struct Ask {
    pub entity: String,
    pub format: Format,
    pub filter: Option<Value>,
    pub fields: Option<Vec<String>>,
}

/// Who asks: the tenant, the user (row rules may name `$currentUser`), the role's permissions
/// and who the audit entry names.
pub struct Asker<'a> {
    pub tenant_id: &'a str,
    pub user_id: &'a str,
    /// The user's attributes (`$user.<key>` in their row rules).
    pub attributes: &'a Attributes,
    pub permissions: &'a Permissions,
    pub actor: Actor,
}

/// An export, checked and ready to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub tenant_id: String,
    /// The entity as the role sees it (only the fields it reads).
    pub entity: Arc<EntityDef>,
    pub format: Format,
    pub columns: Vec<Column>,
    /// The filter as asked (for the audit entry).
    pub filter_json: Option<Value>,
    /// The filter with the row rule ANDed in, in list order (`createdAt`, then id).
    pub list: ListArgs,
    pub actor: Actor,
}

impl Plan {
    /// Checks `ask` for `who` against the tenant's definitions `meta` (as the API sees them):
    /// an entity the role cannot read is NOT_FOUND (as in its schema), one it reads but may not
    /// export FORBIDDEN; a column it does not read is unknown.
    pub fn build(meta: &TenantMeta, who: Asker<'_>, ask: Ask) -> Result<Plan> {
        let permissions = who.permissions;
        let full = meta
            .entity_by_name(&ask.entity)
            .filter(|e| permissions.can(e, Action::Read))
            .ok_or_else(|| Error::NotFound(format!("entity `{}`", ask.entity)))?;
        if !permissions.can(full, Action::Export) {
            return Err(Error::Forbidden(format!("your role may not export {}", full.label_plural)));
        }
        let mut view = (**full).clone();
        view.fields.retain(|f| permissions.reads_field(meta, full, f));
        let readable: Vec<Column> = Column::SYSTEM
            .into_iter()
            .chain(view.fields.iter().map(|f| Column::Field(Box::new(f.clone()))))
            .collect();
        let columns = match &ask.fields {
            None => readable,
            Some(names) => {
                let mut out = Vec::with_capacity(names.len());
                let mut bad = Vec::new();
                for name in names {
                    match readable.iter().find(|c| c.name() == name) {
                        Some(c) => out.push(c.clone()),
                        None => bad.push(FieldError::new("fields", format!("no field `{name}` to export"))),
                    }
                }
                if !bad.is_empty() {
                    return Err(Error::Validation(bad));
                }
                out
            }
        };
        let filter = ask.filter.as_ref().map(|v| Filter::parse(&view, v)).transpose()?;
        let order = vec![SortKey { target: Target::CreatedAt, direction: Direction::Asc }];
        let list = ListArgs { filter, order, first: Some(PAGE), ..ListArgs::default() }
            .restrict(permissions.row_filter(full, Subject::new(who.user_id, who.attributes)).as_ref());
        Ok(Plan {
            tenant_id: who.tenant_id.to_owned(),
            entity: Arc::new(view),
            format: ask.format,
            columns,
            filter_json: ask.filter,
            list,
            actor: who.actor,
        })
    }

    /// The file name offered for it (`deals.csv`).
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.entity.name_plural, self.format.extension())
    }
}

/// Where an export's bytes go: a response body, a file.
pub trait Sink {
    /// Writes one page's bytes; `rows` is how many rows are out with it. `false` when the
    /// reader is gone (the export stops).
    fn write(&mut self, chunk: Vec<u8>, rows: u64) -> impl std::future::Future<Output = Result<bool>> + Send;
}

/// Runs `plan` into `sink` page by page, then audits it; the row count.
pub async fn run(db: &Db, plan: &Plan, sink: &mut impl Sink) -> Result<u64> {
    let rows = write(db, plan, sink).await?;
    audit_export(db, plan, rows).await?;
    Ok(rows)
}

/// Writes `plan` into `sink` page by page, unaudited (the tenant's archive audits itself as a
/// whole); the row count.
pub async fn write(db: &Db, plan: &Plan, sink: &mut impl Sink) -> Result<u64> {
    let store = Store::new(db, &plan.tenant_id);
    if !sink.write(plan.format.header(&plan.columns), 0).await? {
        return Err(gone());
    }
    let mut rows = 0u64;
    let mut after = None;
    loop {
        let args = ListArgs { after, ..plan.list.clone() };
        let page = store.list(&plan.entity, &args, PAGE).await?;
        let mut chunk = Vec::new();
        for r in &page.records {
            plan.format.row(&plan.columns, r, &mut chunk)?;
        }
        rows += page.records.len() as u64;
        if !sink.write(chunk, rows).await? {
            return Err(gone());
        }
        if !page.has_next {
            break;
        }
        after = page.end_cursor();
    }
    Ok(rows)
}

fn gone() -> Error {
    Error::BadRequest("the export's reader went away".into())
}

/// The export's audit entry, in a transaction of its own.
async fn audit_export(db: &Db, plan: &Plan, rows: u64) -> Result<()> {
    let columns: Vec<&str> = plan.columns.iter().map(Column::name).collect();
    let changes = json!({
        "format": plan.format.as_str(),
        "filter": plan.filter_json,
        "fields": columns,
        "rows": rows,
    });
    let entry = audit::Entry {
        action: "record.export",
        object_type: &plan.entity.name_singular,
        object_id: None,
        changes,
    };
    let txn = db.begin_tenant_write(&plan.tenant_id).await?;
    audit::append(&txn, db.dialect, &plan.tenant_id, &plan.actor, &entry).await?;
    txn.commit().await?;
    Ok(())
}
