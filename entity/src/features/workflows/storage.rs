//! Storing workflows: the `workflows` model read into a [`Workflow`] (its definition and
//! secrets parsed) and written back; the reads of every tenant's workflows that the job relay
//! (which entities are watched), the sweeper (time-based triggers) and inbound webhooks (whose
//! workflow a request names) make on the system connection.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::NotSet;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::{Trigger, Workflow};
use crate::features::rows;
use crate::models::{tenant, workflow};
use crate::{Error, Result};

impl TryFrom<workflow::Model> for Workflow {
    type Error = Error;

    fn try_from(m: workflow::Model) -> Result<Workflow> {
        Ok(Workflow {
            id: m.id,
            tenant_id: m.tenant_id,
            name: m.name,
            description: m.description,
            active: m.active,
            entity_id: m.entity_id,
            definition: serde_json::from_value(m.definition)?,
            secrets: serde_json::from_value(m.secrets)?,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// The tenant's workflows (optionally only the active ones of one entity that no module
/// switched off: those a change fires), oldest first.
pub async fn list(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    active_for_entity: Option<&str>,
) -> Result<Vec<Workflow>> {
    let mut q = workflow::Entity::find().filter(workflow::Column::TenantId.eq(tenant_id));
    if let Some(e) = active_for_entity {
        q = q.filter(live()).filter(workflow::Column::EntityId.eq(e));
    }
    let rows =
        q.order_by_asc(workflow::Column::CreatedAt).order_by_asc(workflow::Column::Id).all(conn).await?;
    rows.into_iter().map(Workflow::try_from).collect()
}

pub async fn get(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<Option<Workflow>> {
    rows::find::<workflow::Entity, _>(conn, tenant_id, id).await
}

/// Whether workflow `id` is switched off with its modules (`features::modules`): false for an
/// unknown one.
pub async fn is_switched_off(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<bool> {
    let off: Option<bool> = workflow::Entity::find()
        .select_only()
        .column(workflow::Column::SwitchedOff)
        .filter(workflow::Column::TenantId.eq(tenant_id))
        .filter(workflow::Column::Id.eq(id))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(off.unwrap_or(false))
}

/// The tenant of workflow `id`, whichever it is: for a request that names a workflow before
/// its tenant is known (an inbound webhook). Read on the system connection.
pub async fn tenant_of(conn: &impl ConnectionTrait, id: &str) -> Result<Option<String>> {
    Ok(workflow::Entity::find()
        .select_only()
        .column(workflow::Column::TenantId)
        .filter(workflow::Column::Id.eq(id))
        .into_tuple()
        .one(conn)
        .await?)
}

/// Inserts or replaces a workflow.
pub async fn save(conn: &impl ConnectionTrait, w: &Workflow, insert: bool) -> Result<()> {
    let row = workflow::ActiveModel {
        id: Set(w.id.clone()),
        tenant_id: Set(w.tenant_id.clone()),
        name: Set(w.name.clone()),
        description: Set(w.description.clone()),
        active: Set(w.active),
        entity_id: Set(w.entity_id.clone()),
        definition: Set(serde_json::to_value(&w.definition)?),
        secrets: Set(serde_json::to_value(&w.secrets)?),
        created_at: Set(w.created_at),
        updated_at: Set(w.updated_at),
        // The sweeper's alone.
        scanned_through: NotSet,
        // The modules' alone (`features::modules`).
        switched_off: NotSet,
    };
    rows::save(conn, row, insert, &w.tenant_id, &w.id).await
}

pub async fn delete(conn: &impl ConnectionTrait, tenant_id: &str, id: &str) -> Result<bool> {
    rows::delete::<workflow::Entity>(conn, tenant_id, id).await
}

/// Active, and not switched off with its modules: a workflow that may fire.
fn live() -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(workflow::Column::Active.eq(true))
        .add(workflow::Column::SwitchedOff.eq(false))
}

/// The (tenant, entity) pairs that a live workflow watches, of every tenant: the changes the
/// job relay turns into jobs. Read on the system connection.
pub async fn watched(conn: &impl ConnectionTrait) -> Result<Vec<(String, String)>> {
    Ok(workflow::Entity::find()
        .select_only()
        .columns([workflow::Column::TenantId, workflow::Column::EntityId])
        .distinct()
        .filter(live())
        .into_tuple()
        .all(conn)
        .await?)
}

/// An active workflow with a time-based trigger, as the scanner needs it.
#[derive(Debug, Clone)]
pub struct TimeTriggered {
    pub workflow: Workflow,
    /// How far it has been scanned (`None`: not yet).
    pub scanned_through: Option<DateTime<Utc>>,
    /// The tenant's IANA time zone (schedules without their own zone use it).
    pub tenant_time_zone: String,
}

/// A workflow row with its tenant's time zone.
#[derive(FromQueryResult)]
struct WithTimeZone {
    #[sea_orm(nested)]
    workflow: workflow::Model,
    tenant_time_zone: String,
}

/// Live workflows (`live`) with a time-based trigger (schedule or relative date), of every tenant, in
/// one query. Read on the system connection.
pub async fn time_triggered(conn: &impl ConnectionTrait) -> Result<Vec<TimeTriggered>> {
    let zone = Query::select()
        .column((tenant::Entity, tenant::Column::TimeZone))
        .from(tenant::Entity)
        .and_where(
            Expr::col((tenant::Entity, tenant::Column::Id))
                .equals((workflow::Entity, workflow::Column::TenantId)),
        )
        .to_owned();
    let rows = workflow::Entity::find()
        .column_as(Expr::from(zone), "tenant_time_zone")
        .filter(live())
        .order_by_asc(workflow::Column::TenantId)
        .order_by_asc(workflow::Column::Id)
        .into_model::<WithTimeZone>()
        .all(conn)
        .await?;
    let mut out = Vec::new();
    for r in rows {
        let scanned_through = r.workflow.scanned_through;
        let workflow = Workflow::try_from(r.workflow)?;
        if matches!(workflow.definition.trigger, Trigger::RelativeDate { .. } | Trigger::Schedule { .. }) {
            out.push(TimeTriggered { workflow, scanned_through, tenant_time_zone: r.tenant_time_zone });
        }
    }
    Ok(out)
}

/// Records that a workflow's dates are scanned up to `through`.
pub async fn set_scanned_through(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    workflow_id: &str,
    through: DateTime<Utc>,
) -> Result<()> {
    workflow::Entity::update_many()
        .col_expr(workflow::Column::ScannedThrough, Expr::value(through))
        .filter(rows::named::<workflow::Entity>(tenant_id, workflow_id))
        .exec(conn)
        .await?;
    Ok(())
}
