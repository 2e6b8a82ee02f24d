//! What a record's score is computed from, read through the record store: the record (its
//! stage and amount), the activities about it — the records of the CRM's activity entity
//! linked to it by a RELATION (a call, an email, a meeting: one whose SELECT says `Meeting`,
//! scheduled when its first date is now or later) — and the average amount of the tenant's
//! won records (an aggregate: `AVG` in SQL). The parts kept in the feature's tables (proposal
//! views, the stage's start) are read in the writing transaction (`super::refresh_in`). An
//! email sent about the record is a touch as an activity is (`super::touches`).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::touches::Touch;
use super::weights::{self, Weight};
use crate::Db;
use crate::Result;
use crate::runtime::aggregate;
use crate::runtime::figures::{Figure, Figures};
use crate::runtime::filter::{Filter, Op, Target};
use crate::runtime::meta::{EntityDef, FieldDef, FieldType, TenantMeta};
use crate::runtime::record::Record;
use crate::runtime::store::{ListArgs, Store};
use crate::runtime::time;

/// Activities read per record (the newest count most).
const READ_AT_MOST: u64 = 500;

/// The SELECT value that makes an activity a meeting.
const MEETING: &str = "meeting";

/// The tenant's pipeline as the meter reads it: the entity, its stage SELECT, its amount, and
/// the weights it is scored under (held with the definitions).
pub struct Pipeline {
    pub entity: Arc<EntityDef>,
    pub weights: Vec<Weight>,
    pub stage: Option<FieldDef>,
    pub amount: Option<FieldDef>,
    pub won: Option<String>,
    pub lost: Option<String>,
}

impl Pipeline {
    /// The pipeline of the tenant's CRM roles, when the entity exists.
    pub fn of(meta: &TenantMeta) -> Option<Pipeline> {
        let roles = &meta.crm;
        let entity = meta.entity_by_name(&roles.pipeline)?.clone();
        let stage = entity.field_by_key(&roles.stage_field).filter(|f| f.ty == FieldType::Select).cloned();
        let amount = entity.fields.iter().find(|f| f.ty == FieldType::Currency).cloned();
        Some(Pipeline {
            entity,
            // Held with the definitions; a tenant that never set any (the meter off) has the seed's.
            weights: meta.confidence.as_deref().cloned().unwrap_or_else(weights::seed),
            stage,
            amount,
            won: roles.won_value.clone(),
            lost: roles.lost_value.clone(),
        })
    }

    /// The record's stage.
    pub fn stage_of(&self, r: &Record) -> Option<String> {
        let key = self.stage.as_ref()?.key.as_str();
        r.data.get(key).and_then(Value::as_str).map(str::to_owned)
    }

    /// `won` or `lost` for a record in the won or lost stage.
    pub fn outcome(&self, stage: Option<&str>) -> Option<&'static str> {
        match stage {
            Some(s) if self.won.as_deref() == Some(s) => Some("won"),
            Some(s) if self.lost.as_deref() == Some(s) => Some("lost"),
            _ => None,
        }
    }

    fn amount_of(&self, r: &Record) -> Option<f64> {
        let v = r.data.get(self.amount.as_ref()?.key.as_str())?;
        v.as_f64().or_else(|| v.as_str()?.parse().ok())
    }
}

/// What the store says about a record.
pub struct Gathered {
    pub record: Record,
    pub stage: Option<String>,
    pub last_touch: Option<DateTime<Utc>>,
    pub last_touch_by: Touch,
    pub meetings_ahead: usize,
    pub amount: Option<f64>,
    pub won_average: Option<f64>,
}

/// Whether activity `a` is a meeting from `now` on (`select`: the SELECT fields, `date`: the
/// first date field, `None` when the entity has none — then every meeting counts).
fn meeting_ahead(a: &Record, select: &[&FieldDef], date: Option<&FieldDef>, now: DateTime<Utc>) -> bool {
    let is_meeting = select.iter().any(|f| {
        a.data.get(f.key.as_str()).and_then(Value::as_str).is_some_and(|v| v.eq_ignore_ascii_case(MEETING))
    });
    let ahead = match date {
        None => true,
        Some(f) => match a.data.get(f.key.as_str()).and_then(Value::as_str) {
            None => false,
            Some(s) => match time::parse(s) {
                Some(at) => at >= now,
                None => NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok_and(|d| d >= now.date_naive()),
            },
        },
    };
    is_meeting && ahead
}

/// The live records of `entity` whose `field` holds `value` (at most `READ_AT_MOST`).
async fn linked(store: &Store<'_>, entity: &EntityDef, field: &FieldDef, value: &str) -> Result<Vec<Record>> {
    let filter = Filter::Cond(Target::Field(Box::new(field.clone())), Op::Eq(Value::from(value)));
    let args = ListArgs { filter: Some(filter), first: Some(READ_AT_MOST), ..ListArgs::default() };
    Ok(store.list(entity, &args, READ_AT_MOST).await?.records)
}

/// The average amount of the tenant's live won records (`None`: none won, or no stage, won
/// value or amount), one aggregate statement under the store's tenant scope (`AVG` in SQL over
/// every won record, however many).
async fn won_average(db: &Db, meta: &TenantMeta, pipeline: &Pipeline) -> Result<Option<f64>> {
    let (Some(stage), Some(won), Some(amount)) = (&pipeline.stage, &pipeline.won, &pipeline.amount) else {
        return Ok(None);
    };
    let filter = Filter::Cond(Target::Field(Box::new(stage.clone())), Op::Eq(Value::from(won.as_str())));
    let mut figures = Figures::default();
    figures.ask(Figure::Avg, &amount.graphql_name);
    let rows = aggregate::aggregate(
        db,
        &meta.tenant_id,
        &pipeline.entity,
        Some(&filter),
        &[],
        (None, None),
        &figures,
    )
    .await?;
    let avg = rows.first().and_then(|r| r.avg.get(&amount.graphql_name));
    // CURRENCY averages come back as exact decimal text, NUMBER ones as numbers.
    Ok(avg.and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok())))
}

/// Reads record `record_id` of the pipeline and its activities (`None`: no such live record).
pub async fn gather(
    db: &Db,
    meta: &TenantMeta,
    pipeline: &Pipeline,
    record_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Gathered>> {
    let store = Store::new(db, &meta.tenant_id);
    let Some(record) = store.get(&pipeline.entity, record_id, None).await? else { return Ok(None) };
    let (mut last_touch, mut meetings_ahead) = (None, 0);
    if let Some(activity) = meta.crm.activity.as_deref().and_then(|n| meta.entity_by_name(n)) {
        let select: Vec<&FieldDef> = activity.fields.iter().filter(|f| f.ty == FieldType::Select).collect();
        let date = activity.fields.iter().find(|f| matches!(f.ty, FieldType::Date | FieldType::Datetime));
        let links = activity.fields.iter().filter(|f| {
            f.ty == FieldType::Relation && f.related_entity_id.as_deref() == Some(&pipeline.entity.id)
        });
        for link in links {
            for a in linked(&store, activity, link, record_id).await? {
                last_touch = last_touch.max(Some(a.created_at));
                meetings_ahead += usize::from(meeting_ahead(&a, &select, date, now));
            }
        }
    }
    let (last_touch, last_touch_by) =
        super::touches::newest(db, &meta.tenant_id, record_id, last_touch, now).await?;
    let won_average = won_average(db, meta, pipeline).await?;
    Ok(Some(Gathered {
        stage: pipeline.stage_of(&record),
        amount: pipeline.amount_of(&record),
        record,
        last_touch,
        last_touch_by,
        meetings_ahead,
        won_average,
    }))
}
