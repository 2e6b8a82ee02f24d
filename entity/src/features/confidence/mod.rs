//! The Deal Confidence Meter in the data layer: a score 0..100 per record of the tenant's
//! pipeline (`crmRoles.pipeline`, whatever its name), computed (`score`) from its signals
//! (`gather`: its activities, stage, amount; the proposal views recorded here) under the
//! tenant's weights (`weights`), stored with the factors explaining every point. Each change
//! of score is a new version (`confidence_scores`); the newest (`latest`) is the record's
//! read-only score, the rest its history, which calibration reads (`calibration`). Scores are
//! written to the feature's own table, never to the record, so scoring fires no workflow,
//! webhook or change event (and cannot loop).

pub mod backfill;
pub mod batch;
pub mod calibration;
pub mod gather;
pub mod reader;
pub mod score;
pub mod stage_history;
pub mod touches;
pub mod weights;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::Db;
use crate::models::{confidence_score as row, confidence_signal};
use crate::runtime::meta::{EntityDef, FieldType, TenantMeta};
use crate::runtime::record::ChangeEvent;
use crate::runtime::time;
use crate::{Error, Result};
pub use gather::{Gathered, Pipeline};
pub use score::{Factor, Inputs};
pub use weights::{Signal, Weight};

/// The inbound event of a proposal viewed (`confidence_signals.signal`).
pub const PROPOSAL_VIEWED: &str = "proposal_viewed";

/// How old the newest score of an open record may get before the nightly pass scores it again.
pub const NIGHTLY: Duration = Duration::hours(24);

/// Open records the nightly pass scores per tenant and pass (the rest wait for the next pass).
const NIGHTLY_BATCH: u64 = 500;

/// One stored score of a record.
#[derive(Debug, Clone)]
pub struct Score {
    pub entity_id: String,
    pub record_id: String,
    pub version: i64,
    pub score: i32,
    pub factors: Vec<Factor>,
    pub stage: Option<String>,
    pub stage_since: DateTime<Utc>,
    pub outcome: Option<String>,
    pub computed_at: DateTime<Utc>,
}

impl TryFrom<row::Model> for Score {
    type Error = Error;

    fn try_from(m: row::Model) -> Result<Score> {
        Ok(Score {
            entity_id: m.entity_id,
            record_id: m.record_id,
            version: m.version,
            score: m.score,
            factors: serde_json::from_value(m.factors)?,
            stage: m.stage,
            stage_since: m.stage_since,
            outcome: m.outcome,
            computed_at: m.computed_at,
        })
    }
}

/// The record's current score.
pub async fn latest(conn: &impl ConnectionTrait, tenant_id: &str, record_id: &str) -> Result<Option<Score>> {
    row::Entity::find()
        .filter(row::Column::TenantId.eq(tenant_id))
        .filter(row::Column::RecordId.eq(record_id))
        .filter(row::Column::Latest.eq(true))
        .one(conn)
        .await?
        .map(Score::try_from)
        .transpose()
}

/// The record's scores, newest first (at most `first`).
pub async fn history(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    record_id: &str,
    first: u64,
) -> Result<Vec<Score>> {
    row::Entity::find()
        .filter(row::Column::TenantId.eq(tenant_id))
        .filter(row::Column::RecordId.eq(record_id))
        .order_by_desc(row::Column::Version)
        .limit(first)
        .all(conn)
        .await?
        .into_iter()
        .map(Score::try_from)
        .collect()
}

/// Takes the record's scores out of the nightly pass (it is gone): none stays `latest`.
pub async fn retire(conn: &impl ConnectionTrait, tenant_id: &str, record_id: &str) -> Result<()> {
    row::Entity::update_many()
        .col_expr(row::Column::Latest, Expr::value(false))
        .filter(row::Column::TenantId.eq(tenant_id))
        .filter(row::Column::RecordId.eq(record_id))
        .filter(row::Column::Latest.eq(true))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records that record `record_id`'s proposal was viewed at `at`.
pub async fn record_view(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    entity_id: &str,
    record_id: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let signal = confidence_signal::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        tenant_id: Set(tenant_id.to_owned()),
        entity_id: Set(entity_id.to_owned()),
        record_id: Set(record_id.to_owned()),
        signal: Set(PROPOSAL_VIEWED.to_owned()),
        at: Set(at),
        created_at: Set(time::now()),
    };
    confidence_signal::Entity::insert(signal).exec_without_returning(conn).await?;
    Ok(())
}

/// How often the record's proposal was viewed up to `now`.
async fn proposal_views(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    record_id: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let n = confidence_signal::Entity::find()
        .filter(confidence_signal::Column::TenantId.eq(tenant_id))
        .filter(confidence_signal::Column::RecordId.eq(record_id))
        .filter(confidence_signal::Column::Signal.eq(PROPOSAL_VIEWED))
        .filter(confidence_signal::Column::At.lte(now))
        .count(conn)
        .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Whether two scores say the same (the details' numbers may differ: days go by).
fn same(prev: &Score, score: i32, factors: &[Factor], stage: Option<&str>, outcome: Option<&str>) -> bool {
    let effects = |f: &[Factor]| f.iter().map(|x| (x.signal, x.effect)).collect::<Vec<_>>();
    prev.score == score
        && effects(&prev.factors) == effects(factors)
        && prev.stage.as_deref() == stage
        && prev.outcome.as_deref() == outcome
}

/// Waits until no other transaction is scoring record `record_id`, and keeps the turn until
/// the caller's transaction ends. Two refreshes of one record at once (a worker's and a
/// reported proposal view's) would both read version N and both write N + 1: the second would
/// fail on the versions' unique key. SQLite's writers already take turns (`BEGIN IMMEDIATE`).
/// Taking it again in the same transaction is free (the lock is the transaction's).
pub async fn take_turn(conn: &impl ConnectionTrait, tenant_id: &str, record_id: &str) -> Result<()> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut lock = crate::sql_buf::SqlBuf::new(crate::Dialect::Postgres);
    lock.push("SELECT pg_advisory_xact_lock(hashtextextended(")
        .bind(format!("confidence:{tenant_id}:{record_id}"))
        .push(", 0))");
    conn.execute_raw(lock.into_statement()).await?;
    Ok(())
}

/// Scores the gathered record at `now` in the caller's transaction: a new version when the
/// score, its factors' effects, the stage or the outcome changed, else the current version
/// brought up to date (details and time). `None` for a record that is gone (its scores are
/// retired).
pub async fn refresh_in(
    conn: &impl ConnectionTrait,
    tenant_id: &str,
    pipeline: &Pipeline,
    gathered: Option<Gathered>,
    record_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Score>> {
    let Some(g) = gathered else {
        retire(conn, tenant_id, record_id).await?;
        return Ok(None);
    };
    take_turn(conn, tenant_id, record_id).await?;
    let prev = latest(conn, tenant_id, record_id).await?;
    let stage_since = match &prev {
        Some(p) if p.stage == g.stage => p.stage_since,
        // The stage changed since the last score: as of the record's last write.
        Some(_) => g.record.updated_at,
        None => g.record.created_at,
    };
    let stage_history = match g.stage.as_deref() {
        Some(stage) => stage_history::read(conn, tenant_id, &pipeline.entity.id, stage).await?,
        None => stage_history::StageHistory::default(),
    };
    let inputs = Inputs {
        created_at: g.record.created_at,
        last_touch: g.last_touch,
        last_touch_by: g.last_touch_by,
        meetings_ahead: g.meetings_ahead,
        proposal_views: proposal_views(conn, tenant_id, record_id, now).await?,
        stage: g.stage.clone(),
        stage_since,
        stage_history,
        amount: g.amount,
        won_average: g.won_average,
    };
    let (score, factors) = score::score(&pipeline.weights, &inputs, now);
    let outcome = pipeline.outcome(g.stage.as_deref());
    let factors_json = serde_json::to_value(&factors)?;
    let version = match &prev {
        Some(p) if same(p, score, &factors, g.stage.as_deref(), outcome) => {
            row::Entity::update_many()
                .col_expr(row::Column::Factors, Expr::value(factors_json))
                .col_expr(row::Column::ComputedAt, Expr::value(now))
                .filter(row::Column::TenantId.eq(tenant_id))
                .filter(row::Column::RecordId.eq(record_id))
                .filter(row::Column::Version.eq(p.version))
                .exec(conn)
                .await?;
            p.version
        }
        _ => {
            retire(conn, tenant_id, record_id).await?;
            let version = prev.as_ref().map_or(1, |p| p.version + 1);
            let new = row::ActiveModel {
                id: Set(uuid::Uuid::new_v4().to_string()),
                tenant_id: Set(tenant_id.to_owned()),
                entity_id: Set(pipeline.entity.id.clone()),
                record_id: Set(record_id.to_owned()),
                version: Set(version),
                score: Set(score),
                factors: Set(factors_json),
                stage: Set(g.stage.clone()),
                stage_since: Set(stage_since),
                outcome: Set(outcome.map(str::to_owned)),
                latest: Set(true),
                computed_at: Set(now),
            };
            row::Entity::insert(new).exec_without_returning(conn).await?;
            version
        }
    };
    Ok(Some(Score {
        entity_id: pipeline.entity.id.clone(),
        record_id: record_id.to_owned(),
        version,
        score,
        factors,
        stage: g.stage,
        stage_since,
        outcome: outcome.map(str::to_owned),
        computed_at: now,
    }))
}

/// Scores record `record_id` of the tenant's pipeline at `now` (reads through the store, then
/// one write transaction). `None` when the tenant has no pipeline or the record is gone (or
/// is no pipeline record): then its scores are retired.
pub async fn refresh(
    db: &Db,
    meta: &TenantMeta,
    record_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Score>> {
    let Some(pipeline) = Pipeline::of(meta) else {
        // No pipeline any more (the roles changed): the record's scores leave the nightly pass.
        let txn = db.begin_tenant_write(&meta.tenant_id).await?;
        retire(&txn, &meta.tenant_id, record_id).await?;
        txn.commit().await?;
        return Ok(None);
    };
    let gathered = gather::gather(db, meta, &pipeline, record_id, now).await?;
    let txn = db.begin_tenant_write(&meta.tenant_id).await?;
    let score = refresh_in(&txn, &meta.tenant_id, &pipeline, gathered, record_id, now).await?;
    txn.commit().await?;
    Ok(score)
}

/// The open records (tenant, record) whose newest score is older than `NIGHTLY` at `now`, of
/// every tenant or only `tenant` (read on `conn`, the system connection: across tenants).
pub async fn due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    tenant: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let mut q = row::Entity::find()
        .filter(row::Column::Latest.eq(true))
        .filter(row::Column::Outcome.is_null())
        .filter(row::Column::ComputedAt.lte(now - NIGHTLY));
    if let Some(t) = tenant {
        q = q.filter(row::Column::TenantId.eq(t));
    }
    let rows = q.order_by_asc(row::Column::ComputedAt).limit(NIGHTLY_BATCH).all(conn).await?;
    Ok(rows.into_iter().map(|r| (r.tenant_id, r.record_id)).collect())
}

/// The tenant's pipeline entity when the meter scores it (none unless the tenant turned the
/// meter on: only then is its pipeline marked).
pub fn scored_pipeline(meta: &TenantMeta) -> Option<&Arc<EntityDef>> {
    meta.entity_by_name(&meta.crm.pipeline).filter(|p| p.scored)
}

/// Sets the tenant's weights (`weights::save`: checked, laid over the current ones, the meter
/// turned on) and queues the scoring of its open records under them (`backfill`: the first
/// time, records that were never scored), in the caller's transaction; returns all weights.
pub async fn set_weights(
    conn: &impl ConnectionTrait,
    d: crate::Dialect,
    tenant_id: &str,
    given: &[Weight],
) -> Result<Vec<Weight>> {
    let weights = weights::save(conn, d, tenant_id, given).await?;
    backfill::queue(conn, d, tenant_id, None).await?;
    Ok(weights)
}

/// The pipeline records whose score record change `event` of the tenant `meta` describes may
/// move (none unless the tenant turned the meter on): the record itself when it is a pipeline record, and the pipeline records an activity
/// links to (before and after the change) when it is an activity.
pub fn targets(meta: &TenantMeta, event: &ChangeEvent) -> Vec<String> {
    let Some(pipeline) = scored_pipeline(meta) else {
        return Vec::new();
    };
    if event.entity_id == pipeline.id {
        return vec![event.record.id.clone()];
    }
    let Some(activity) = meta.crm.activity.as_deref().and_then(|n| meta.entity_by_name(n)) else {
        return Vec::new();
    };
    if event.entity_id != activity.id {
        return Vec::new();
    }
    let links = activity
        .fields
        .iter()
        .filter(|f| f.ty == FieldType::Relation && f.related_entity_id.as_deref() == Some(&pipeline.id));
    let mut out = Vec::new();
    for link in links {
        for data in [Some(&*event.record.data), event.previous.as_ref()].into_iter().flatten() {
            if let Some(id) = data.get(link.key.as_str()).and_then(serde_json::Value::as_str)
                && !out.iter().any(|o| o == id)
            {
                out.push(id.to_owned());
            }
        }
    }
    out
}
