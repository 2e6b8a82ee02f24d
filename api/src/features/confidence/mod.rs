//! The Deal Confidence Meter: `confidence(entity, id)` (a pipeline record's score, its factors
//! and history, for a caller who reads the record), `confidenceWeights` (every role) and
//! `setConfidenceWeights` (administrators), `recordConfidenceSignal` (an integration reports a
//! proposal view; the score is recomputed in the same transaction) and
//! `confidenceCalibration(bands)` (win rate per band of the score records had before they
//! closed, over the closed records the caller reads); once the tenant turned the meter on, also
//! `confidence` on the pipeline record's own type (its current score, a page's in one read).
//! The pipeline is the tenant's `crmRoles.pipeline`, whatever its name. Scores are computed by
//! the worker (`jobs::handlers::confidence`, `jobs::sweeper::confidence`) and stored by
//! `entity::features::confidence`.

mod types;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, ResolverContext, TypeRef};
use entity::FieldError;
use entity::features::confidence::reader::Hidden;
use entity::features::confidence::{self, Pipeline, Weight, calibration, gather};
use entity::runtime::audit;
use entity::runtime::naming::confidence::{RECORD_FIELD, fields as f, types as t};
use entity::runtime::naming::types as platform;
use entity::runtime::record::Record;
use entity::runtime::time;

use crate::error::ApiError;
use crate::schema::access::{EntityAccess, SchemaAccess};
use crate::schema::args::{self, arg_json};
use crate::schema::ctx;
use crate::schema::feature::{Declared, RecordField, Slot, admin_only};
use crate::schema::loader::{load_error, loaded_error};
use crate::schema::resolvers::{readable, store};
use crate::schema::values::parent;
use crate::services::Txn;
use types::Shown;

/// Bands `confidenceCalibration` splits 0..100 into by default.
const BANDS: i64 = 5;

/// The tenant's pipeline, when `name` names it; a validation error on `entity` otherwise.
fn pipeline(c: &ResolverContext<'_>, name: &str) -> Result<Pipeline, ApiError> {
    let meta = &ctx::access(c)?.meta;
    Pipeline::of(meta).filter(|p| p.entity.name_singular == name).ok_or_else(|| {
        let msg = format!("`{name}` is not the pipeline entity (crmRoles.pipeline: `{}`)", meta.crm.pipeline);
        ApiError::Validation(vec![FieldError::new("entity", msg)])
    })
}

/// What of the pipeline's fields the meter's words speak of the caller may not read
/// (`reader::Hidden`), from their view of the pipeline entity.
fn hidden(c: &ResolverContext<'_>, a: &EntityAccess) -> Result<Hidden, ApiError> {
    Ok(Hidden::of(&a.full, &a.view, &ctx::access(c)?.meta.crm.stage_field))
}

async fn current(c: &ResolverContext<'_>) -> Result<Option<Shown>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let (name, id) = (args::string(c, "entity")?, args::string(c, "id")?);
    pipeline(c, &name)?;
    let (a, _) = readable(c, &name, &id).await?;
    let hidden = hidden(c, a)?;
    let score = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| confidence::latest(txn, &p.tenant_id, &id).await)
        .await?;
    Ok(score.map(|score| Shown::new(name, score, hidden)))
}

async fn set_weights(c: &ResolverContext<'_>) -> Result<Vec<Weight>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let given: Vec<Weight> = serde_json::from_value(arg_json(c, "weights")?.unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(format!("weights: {e}")))?;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    let weights = confidence::set_weights(&txn, state.db.dialect, &p.tenant_id, &given).await?;
    let entry = audit::Entry {
        action: "confidence_weights.set",
        object_type: "tenant",
        object_id: Some(&p.tenant_id),
        changes: serde_json::to_value(&given).map_err(|e| ApiError::Internal(e.to_string()))?,
    };
    audit::append(&txn, state.db.dialect, &p.tenant_id, &ctx::actor(c)?, &entry).await?;
    txn.commit().await?;
    Ok(weights)
}

async fn record_signal(c: &ResolverContext<'_>) -> Result<Option<Shown>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let (name, id) = (args::string(c, "entity")?, args::string(c, "id")?);
    let pipeline = pipeline(c, &name)?;
    let (access, _) = readable(c, &name, &id).await?;
    if !access.update {
        return Err(ApiError::Forbidden(format!(
            "reporting signals needs the update permission on `{name}`"
        )));
    }
    let at = match args::opt_string(c, "at")? {
        None => None,
        Some(s) => Some(
            time::parse(&s)
                .ok_or_else(|| ApiError::Validation(vec![FieldError::new("at", "an RFC 3339 date-time")]))?,
        ),
    };
    let meta = &ctx::access(c)?.meta;
    let gathered = gather::gather(&state.db, meta, &pipeline, &id, time::now()).await?;
    let txn = state.db.begin_tenant_write(&p.tenant_id).await?;
    // The clock is read once the record's turn is ours: a view reported at the same moment by
    // another caller is then either already committed (and counted, its time before ours) or
    // waits and counts this one. Read before, a later turn could score as of an instant before
    // the earlier turn's view and leave it out.
    confidence::take_turn(&txn, &p.tenant_id, &id).await?;
    let now = time::now();
    confidence::record_view(&txn, &p.tenant_id, &pipeline.entity.id, &id, at.unwrap_or(now)).await?;
    let score = confidence::refresh_in(&txn, &p.tenant_id, &pipeline, gathered, &id, now).await?;
    txn.commit().await?;
    let hidden = hidden(c, access)?;
    Ok(score.map(|score| Shown::new(name, score, hidden)))
}

async fn calibrate(c: &ResolverContext<'_>) -> Result<Vec<calibration::Band>, ApiError> {
    let (state, p) = (ctx::state(c)?, ctx::principal(c)?);
    let n = args::opt_int(c, "bands")?.unwrap_or(BANDS);
    if !(1..=100).contains(&n) {
        return Err(ApiError::Validation(vec![FieldError::new("bands", "1 to 100")]));
    }
    let meta = &ctx::access(c)?.meta;
    let pipeline =
        Pipeline::of(meta).ok_or_else(|| ApiError::NotFound(format!("entity `{}`", meta.crm.pipeline)))?;
    // The caller must read the pipeline entity; only the records it reads are counted.
    let access = ctx::access(c)?;
    let a = access
        .entities
        .iter()
        .find(|a| a.full.id == pipeline.entity.id)
        .ok_or_else(|| ApiError::NotFound(format!("entity `{}`", pipeline.entity.name_singular)))?;
    let entity_id = pipeline.entity.id.clone();
    let mut closed = state
        .in_tenant(&p.tenant_id, Txn::Read, async |txn| {
            calibration::closed(txn, &p.tenant_id, &entity_id).await
        })
        .await?;
    if let Some(rule) = ctx::row_filter(c, &a.full)? {
        let ids: Vec<String> = closed.iter().map(|x| x.record_id.clone()).collect();
        let seen: Vec<String> =
            store(c)?.get_many(&ids).await?.into_iter().filter(|r| rule.matches(r)).map(|r| r.id).collect();
        closed.retain(|x| seen.contains(&x.record_id));
    }
    Ok(calibration::bands(&closed, u32::try_from(n).unwrap_or(1)))
}

fn entity_args(field: Field) -> Field {
    field
        .argument(
            InputValue::new("entity", TypeRef::named_nn(TypeRef::STRING))
                .description("The pipeline entity's `nameSingular` (`crmRoles.pipeline`)."),
        )
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID)).description("The pipeline record."))
}

fn queries() -> Vec<Field> {
    vec![
        entity_args(Field::new(f::CONFIDENCE, TypeRef::named(t::CONFIDENCE), |c| {
            FieldFuture::new(async move { Ok(current(&c).await?.map(FieldValue::owned_any)) })
        }))
        .description(
            "A pipeline record's confidence score 0..100 with the factors explaining every point and its history; \
             computed by the server when the record or an activity about it changes, when a proposal view is reported, \
             and nightly. Null until the first score. The caller must read the record.",
        ),
        Field::new(f::CONFIDENCE_WEIGHTS, TypeRef::named_nn_list_nn(t::CONFIDENCE_WEIGHT), |c| {
            FieldFuture::new(async move {
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let weights = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| confidence::weights::load(txn, &p.tenant_id).await)
                    .await?;
                Ok(Some(FieldValue::list(weights.into_iter().map(FieldValue::owned_any))))
            })
        })
        .description("The tenant's confidence weights: the seed's (base 50; no email or activity for 5 days −10; a meeting scheduled +15; the proposal opened 3 times +20 …) with what an administrator set over them."),
        Field::new(f::CONFIDENCE_CALIBRATION, TypeRef::named_nn_list_nn(t::CONFIDENCE_BAND), |c| {
            FieldFuture::new(async move {
                let bands = calibrate(&c).await?;
                Ok(Some(FieldValue::list(bands.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(InputValue::new("bands", TypeRef::named(TypeRef::INT)).description("How many equal bands 0..100 is split into (default 5, 1 to 100)."))
        .description("Per band of score, the tenant's historical win rate: each closed pipeline record (that the caller reads) counts in the band of its last score before it closed."),
    ]
}

fn admin_mutations() -> Vec<Field> {
    vec![
        Field::new(f::SET_CONFIDENCE_WEIGHTS, TypeRef::named_nn_list_nn(t::CONFIDENCE_WEIGHT), |c| {
            FieldFuture::new(async move {
                ctx::require_admin(&c)?;
                let weights = set_weights(&c).await?;
                Ok(Some(FieldValue::list(weights.into_iter().map(FieldValue::owned_any))))
            })
        })
        .argument(
            InputValue::new("weights", TypeRef::named_nn_list_nn(t::CONFIDENCE_WEIGHT_INPUT))
                .description("The weights to set; signals not listed keep theirs."),
        )
        .description("Sets confidence weights (administrators) and turns the meter on (an empty list: the seed weights); returns all of the tenant's weights. Scores follow at their next computation."),
    ]
}

fn member_mutations() -> Vec<Field> {
    vec![
        entity_args(Field::new(f::RECORD_CONFIDENCE_SIGNAL, TypeRef::named(t::CONFIDENCE), |c| {
            FieldFuture::new(async move { Ok(record_signal(&c).await?.map(FieldValue::owned_any)) })
        }))
        .argument(InputValue::new("signal", TypeRef::named_nn(t::CONFIDENCE_EVENT)).description("What happened."))
        .argument(InputValue::new("at", TypeRef::named(platform::DATE_TIME)).description("When it happened (default: now)."))
        .description(
            "Reports an inbound event about a pipeline record — the buyer opened its proposal (from a document-tracking \
             integration, with an API key whose role may update the pipeline entity) — and returns the score recomputed with it.",
        ),
    ]
}

/// `confidence` on the pipeline entity's type, when the tenant turned the meter on (the pipeline
/// is then `scored`; turning it on bumps the metadata version, so the field appears on the next
/// request). The scores of a page of records are read in one statement (`Loaders::confidence`).
/// Reading it takes what reading the record takes, as for the root `confidence(entity, id)`:
/// the record is already the caller's to read (row rules applied); the score is the server's,
/// not one of the definition's fields, but its words leave out the stage and amount when the
/// caller's field rules hide them (`reader::Hidden`).
fn record_fields(access: &SchemaAccess, a: &EntityAccess) -> Vec<RecordField> {
    if !(a.full.scored && a.full.name_singular == access.meta.crm.pipeline) {
        return Vec::new();
    }
    let index = a.index;
    let field = Field::new(RECORD_FIELD, TypeRef::named(t::CONFIDENCE_SCORE), move |c| {
        FieldFuture::new(async move {
            let id = parent::<Record>(&c)?.id.clone();
            let hidden = hidden(&c, ctx::entity(&c, index)?)?;
            let score =
                ctx::loaders(&c)?.confidence.try_load(id).await.map_err(load_error)?.map_err(loaded_error)?;
            Ok(score.map(|s| FieldValue::owned_any(s.as_read(hidden))))
        })
    })
    .description(
        "The record's confidence score 0..100 (read-only, computed by the server) with the factors explaining \
         every point; null until its first score. Its history: the root `confidence(entity, id)`.",
    );
    vec![RecordField { name: RECORD_FIELD, field }]
}

/// The meter, for every role (setting weights: administrators).
pub static FEATURE: Declared = Declared {
    queries: &[(Slot::Member, |_| queries())],
    mutations: &[(Slot::Admin, |_| admin_mutations()), (Slot::Member, |_| member_mutations())],
    types: |a| {
        let mut all = types::types();
        all.extend(admin_only(a, types::weight_input));
        all
    },
    record_fields,
    ..Declared::EMPTY
};
