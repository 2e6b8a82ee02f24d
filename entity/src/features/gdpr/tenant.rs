//! The owner's requests about the whole tenant: its export (definitions, every record, users
//! without secrets, roles) and its deletion.
//!
//! Deletion is scheduled (`schedule`: due after the grace period), cancellable until then
//! (`cancel`), and executed by the worker's time scan once due (`execute_due`). While it is
//! scheduled the tenant is read-only: the API refuses every mutation but the cancellation and
//! the exports (`api::schema::extension`), reading the due date with the caller's credential.
//! Executing it deletes every row of the tenant in one transaction on the system connection:
//! the audit trail first (its guard lets a tenant's entries go only while the tenant row is
//! marked `purging`, which only this transaction sets), then the tenant row, whose foreign keys
//! cascade to the tables that reference it, then every other table with a `tenant_id` column,
//! found in the database's catalog (so a table a later feature adds is not forgotten).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Set, Statement,
};
use serde_json::{Map, Value, json};

use crate::features::users::OWNER_ROLE;
use crate::models::{audit_log, role, tenant, user};
use crate::runtime::audit::{self, Actor};
use crate::runtime::meta::{EntityDef, TenantMeta};
use crate::runtime::store::Store;
use crate::runtime::{naming, signals, time};
use crate::{Db, Dialect, Error, Result};

/// The export's format tag.
pub const FORMAT: &str = "alphery.tenant.v1";

/// The mutations a tenant scheduled for deletion still answers (its read-only state, which the
/// API's request hooks enforce): the cancellation, the exports, logout, and the deletion itself
/// (which answers CONFLICT with the date it is scheduled for).
pub const ALLOWED_WHILE_DELETING: &[&str] = &[
    naming::fields::CANCEL_TENANT_DELETION,
    naming::fields::DELETE_TENANT,
    naming::fields::EXPORT_TENANT,
    naming::fields::EXPORT_PERSONAL_DATA,
    naming::tenant_export::START_TENANT_EXPORT,
    naming::fields::LOGOUT,
];

/// The role that may export and delete the tenant.
pub const OWNER: &str = OWNER_ROLE;

/// The whole tenant as one JSON document, read in one transaction that audits the export.
pub async fn export(db: &Db, tenant_id: &str, actor: &Actor) -> Result<Value> {
    let txn = db.begin_tenant_write(tenant_id).await?;
    let meta = TenantMeta::load(&txn, tenant_id).await?;
    let mut doc = described(&txn, &meta, tenant_id).await?;
    let store = Store::new(db, tenant_id);
    let mut records = Map::new();
    let mut count = 0;
    for e in &meta.entities {
        let rows = store.all_of(&txn, e).await?;
        count += rows.len();
        let list = rows
            .into_iter()
            .map(|record| super::SubjectRecord { entity: e.clone(), record, linked: false }.to_json())
            .collect();
        records.insert(e.name_singular.clone(), Value::Array(list));
    }
    let users = doc.get("users").and_then(Value::as_array).map_or(0, Vec::len);
    doc.insert("format".into(), json!(FORMAT));
    doc.insert("records".into(), Value::Object(records));
    let entry = audit::Entry {
        action: "tenant.export",
        object_type: "tenant",
        object_id: Some(tenant_id),
        changes: json!({"entities": meta.entities.len(), "records": count, "users": users}),
    };
    audit::append(&txn, db.dialect, tenant_id, actor, &entry).await?;
    txn.commit().await?;
    Ok(Value::Object(doc))
}

/// The rows of model `E` of the tenant (its `tenant` column holds `tenant_id`) in `order`.
pub(crate) async fn of_tenant<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    tenant: E::Column,
    order: E::Column,
    tenant_id: &str,
) -> Result<Vec<E::Model>> {
    Ok(E::find().filter(tenant.eq(tenant_id)).order_by_asc(order).all(conn).await?)
}

/// What describes the tenant in its exports (this document and the archive,
/// `exports::tenant`), read in `conn`: when it was exported, the tenant, its entities as `meta`
/// defines them, its roles and its users — without any password hash, invitation hash or
/// second factor: an export holds no secret.
pub(crate) async fn described(
    conn: &impl ConnectionTrait,
    meta: &TenantMeta,
    tenant_id: &str,
) -> Result<Map<String, Value>> {
    let t = current(conn, tenant_id).await?;
    let roles =
        of_tenant::<role::Entity>(conn, role::Column::TenantId, role::Column::CreatedAt, tenant_id).await?;
    let users =
        of_tenant::<user::Entity>(conn, user::Column::TenantId, user::Column::CreatedAt, tenant_id).await?;
    let doc = json!({
        "exportedAt": time::format(&time::now()),
        "tenant": {"id": t.id, "name": t.name, "slug": t.slug, "timeZone": t.time_zone,
                   "defaultLanguage": t.default_language, "createdAt": time::format(&t.created_at)},
        "entities": meta.entities.iter().map(|e| definition(meta, e)).collect::<Vec<_>>(),
        "roles": roles.iter().map(|r| json!({"id": r.id, "name": r.name, "description": r.description,
                                             "permissions": r.permissions, "system": r.is_system})).collect::<Vec<_>>(),
        "users": users.iter().map(|u| json!({"id": u.id, "email": u.email, "name": u.name, "roleId": u.role_id,
                                             "active": u.is_active, "locale": u.locale, "timeZone": u.time_zone,
                                             "createdAt": time::format(&u.created_at)})).collect::<Vec<_>>(),
    });
    match doc {
        Value::Object(map) => Ok(map),
        _ => Err(Error::Internal("the tenant's description is not an object".into())),
    }
}

/// An entity's definition as the export shows it.
fn definition(meta: &TenantMeta, e: &EntityDef) -> Value {
    let fields: Vec<Value> = e
        .fields
        .iter()
        .map(|f| {
            let related = f.related_entity_id.as_deref().and_then(|id| meta.entity_by_id(id));
            json!({"key": f.key.as_str(), "label": f.label, "type": f.type_name(), "required": f.required,
                   "unique": f.unique, "indexed": f.indexed, "personal": f.personal, "options": f.options,
                   "relatedEntity": related.map(|r| r.name_singular.clone()),
                   "relationKind": f.relation_kind.map(|k| k.as_str()), "default": f.default,
                   "validation": f.validation, "labels": f.labels})
        })
        .collect();
    json!({"nameSingular": e.name_singular, "namePlural": e.name_plural, "labelSingular": e.label_singular,
           "labelPlural": e.label_plural, "icon": e.icon, "recordNumberPrefix": e.record_number_prefix,
           "labels": e.labels, "switchedOff": e.switched_off, "fields": fields})
}

/// A tenant's scheduled deletion, if any.
#[derive(Debug, Clone, Default)]
pub struct Deletion {
    pub requested_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub requested_by: Option<String>,
}

impl From<&tenant::Model> for Deletion {
    fn from(t: &tenant::Model) -> Deletion {
        Deletion {
            requested_at: t.deletion_requested_at,
            due_at: t.deletion_due_at,
            requested_by: t.deletion_requested_by.clone(),
        }
    }
}

async fn current(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<tenant::Model> {
    tenant::Entity::find_by_id(tenant_id.to_owned())
        .one(conn)
        .await?
        .ok_or_else(|| Error::NotFound("tenant".into()))
}

/// The tenant's deletion as scheduled (nothing scheduled: every member `None`).
pub async fn status(conn: &impl ConnectionTrait, tenant_id: &str) -> Result<Deletion> {
    Ok(Deletion::from(&current(conn, tenant_id).await?))
}

/// Schedules the tenant's deletion `grace` from now, in `txn`; CONFLICT when it is scheduled
/// already. Cached credentials are dropped, so the read-only state applies at once.
pub async fn schedule(
    txn: &DatabaseTransaction,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
    grace: Duration,
) -> Result<Deletion> {
    let t = current(txn, tenant_id).await?;
    if let Some(due) = t.deletion_due_at {
        return Err(Error::Conflict(format!(
            "the tenant's deletion is already scheduled for {}",
            time::format(&due)
        )));
    }
    let now = time::now();
    let mut row: tenant::ActiveModel = t.into();
    row.deletion_requested_at = Set(Some(now));
    row.deletion_due_at = Set(Some(now + grace));
    row.deletion_requested_by = Set(actor.user_id.clone());
    let t = row.update(txn).await?;
    let changes =
        json!({"dueAt": t.deletion_due_at.as_ref().map(time::format), "graceSeconds": grace.num_seconds()});
    let entry = audit::Entry {
        action: "tenant.deletion_scheduled",
        object_type: "tenant",
        object_id: Some(tenant_id),
        changes,
    };
    audit::append(txn, d, tenant_id, actor, &entry).await?;
    signals::access_changed(txn, d, tenant_id, None, None).await?;
    Ok(Deletion::from(&t))
}

/// Cancels the tenant's scheduled deletion in `txn`; CONFLICT when none is scheduled.
pub async fn cancel(
    txn: &DatabaseTransaction,
    d: Dialect,
    tenant_id: &str,
    actor: &Actor,
) -> Result<Deletion> {
    let t = current(txn, tenant_id).await?;
    let Some(due) = t.deletion_due_at else {
        return Err(Error::Conflict("no deletion of the tenant is scheduled".into()));
    };
    let mut row: tenant::ActiveModel = t.into();
    row.deletion_requested_at = Set(None);
    row.deletion_due_at = Set(None);
    row.deletion_requested_by = Set(None);
    let t = row.update(txn).await?;
    let changes = json!({"dueAt": time::format(&due)});
    let entry = audit::Entry {
        action: "tenant.deletion_cancelled",
        object_type: "tenant",
        object_id: Some(tenant_id),
        changes,
    };
    audit::append(txn, d, tenant_id, actor, &entry).await?;
    signals::access_changed(txn, d, tenant_id, None, None).await?;
    Ok(Deletion::from(&t))
}

/// Deletes every tenant whose deletion is due at `now` (only `only`, when given: the test
/// clock); returns how many. `system`: the connection of cross-tenant work.
pub async fn execute_due(system: &Db, now: DateTime<Utc>, only: Option<&str>) -> Result<u64> {
    let mut due = tenant::Entity::find().filter(tenant::Column::DeletionDueAt.lte(now));
    if let Some(t) = only {
        due = due.filter(tenant::Column::Id.eq(t));
    }
    let mut done = 0;
    for t in due.all(&system.conn).await? {
        purge(system, &t.id).await?;
        tracing::info!(tenant = %t.id, slug = %t.slug, "tenant deleted after its grace period");
        done += 1;
    }
    Ok(done)
}

/// Deletes every row of the tenant, in one transaction (see the module doc).
async fn purge(system: &Db, tenant_id: &str) -> Result<()> {
    let txn = system.begin_tenant_write(tenant_id).await?;
    let t = current(&txn, tenant_id).await?;
    if t.deletion_due_at.is_none() {
        // Cancelled since it was found due.
        return Ok(txn.commit().await?);
    }
    let mut row: tenant::ActiveModel = t.into();
    row.purging = Set(true);
    row.update(&txn).await?;
    audit_log::Entity::delete_many().filter(audit_log::Column::TenantId.eq(tenant_id)).exec(&txn).await?;
    tenant::Entity::delete_by_id(tenant_id.to_owned()).exec(&txn).await?;
    let backend = system.backend();
    // Hand-written: the tables come from the catalog, which no model describes.
    let catalog = match backend {
        DbBackend::Postgres => {
            "SELECT c.table_name AS name FROM information_schema.columns c \
             JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE'"
        }
        _ => {
            "SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'tenant_id'"
        }
    };
    let tables = txn.query_all_raw(Statement::from_string(backend, catalog)).await?;
    for table in tables {
        let name: String = table.try_get("", "name")?;
        let placeholder = if backend == DbBackend::Postgres { "$1" } else { "?" };
        let sql = format!("DELETE FROM \"{}\" WHERE tenant_id = {placeholder}", name.replace('"', "\"\""));
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, [tenant_id.into()])).await?;
    }
    Ok(txn.commit().await?)
}
