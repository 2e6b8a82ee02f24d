//! The meter's GraphQL types: `ConfidenceSignal` (what moves a score), `ConfidenceEvent` (what
//! an integration reports), `ConfidenceFactor`, `ConfidenceScore` (one version),
//! `Confidence` (a record's current score with its history), `ConfidenceWeight` and its input,
//! and `ConfidenceBand` (calibration).

use async_graphql::Value;
use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Type, TypeRef,
};
use entity::features::confidence::calibration::Band;
use entity::features::confidence::reader::Hidden;
use entity::features::confidence::{self, Factor, Score, Signal, Weight};
use entity::runtime::naming::confidence::types as t;
use entity::runtime::naming::types as platform;

use crate::error::ApiError;
use crate::schema::ctx;
use crate::schema::values::{parent, s, sync_field, ts};
use crate::services::Txn;

/// History entries shown when `history` is asked without `first`.
const HISTORY: u64 = 10;

/// A record's current score as a client sees it: the entity's name beside the stored score,
/// its words as the caller may read them (`reader::Hidden`, applied to its history too).
pub struct Shown {
    pub entity: String,
    pub score: Score,
    hidden: Hidden,
}

impl Shown {
    pub fn new(entity: String, score: Score, hidden: Hidden) -> Shown {
        Shown { entity, score: score.as_read(hidden), hidden }
    }
}

fn signal(x: Signal) -> Option<Value> {
    Some(Value::Enum(async_graphql::Name::new(x.as_str())))
}

fn int(n: impl TryInto<i32>) -> Option<Value> {
    Some(Value::from(n.try_into().unwrap_or(i32::MAX)))
}

fn list<T: Clone + Send + Sync + 'static>(items: &[T]) -> Option<FieldValue<'static>> {
    Some(FieldValue::list(items.iter().cloned().map(FieldValue::owned_any)))
}

fn value(v: Option<Value>) -> Option<FieldValue<'static>> {
    v.map(FieldValue::value)
}

/// Finds the score in a parent value (a `Score`, or the `Shown` around one).
type Get = for<'a, 'b> fn(&'a FieldValue<'b>) -> Option<&'a Score>;

/// The fields every version of a score has (on `ConfidenceScore` and `Confidence`): one
/// resolver shape for all of them, reading the score `get` finds in the parent.
fn score_fields(o: Object, get: Get) -> Object {
    let field = move |name: &str, ty: TypeRef, pick: fn(&Score) -> Option<FieldValue<'static>>| {
        Field::new(name, ty, move |c| {
            FieldFuture::new(async move {
                let score = get(c.parent_value).ok_or_else(|| ApiError::Internal("not a score".into()))?;
                Ok(pick(score))
            })
        })
    };
    o.field(field("score", TypeRef::named_nn(TypeRef::INT), |x| value(int(x.score))).description("0 to 100."))
        .field(
            field("factors", TypeRef::named_nn_list_nn(t::CONFIDENCE_FACTOR), |x| list(&x.factors))
                .description("Why: one factor per signal that counted; their effects add up to the score."),
        )
        .field(
            field("stage", TypeRef::named(TypeRef::STRING), |x| value(x.stage.as_deref().and_then(s)))
                .description("The record's stage when scored."),
        )
        .field(
            field("outcome", TypeRef::named(TypeRef::STRING), |x| value(x.outcome.as_deref().and_then(s)))
                .description("`won` or `lost` once the record closed; null while open."),
        )
        .field(
            field("computedAt", TypeRef::named_nn(platform::DATE_TIME), |x| value(ts(&x.computed_at)))
                .description("When the score was (last) computed."),
        )
        .field(
            field("version", TypeRef::named_nn(TypeRef::INT), |x| value(int(x.version)))
                .description("1 for the record's first score, one more for each change of it."),
        )
}

/// The meter's types (every role's schema has them).
pub fn types() -> Vec<Type> {
    let signals = Signal::WEIGHTED.into_iter().chain([Signal::Clamped]).fold(
        Enum::new(t::CONFIDENCE_SIGNAL).description("What moves a pipeline record's confidence score."),
        |e, x| e.item(EnumItem::new(x.as_str()).description(x.about())),
    );
    let events = Enum::new(t::CONFIDENCE_EVENT)
        .description("An inbound event about a pipeline record that feeds its confidence score.")
        .item(EnumItem::new("PROPOSAL_VIEWED").description("The record's proposal was opened by the buyer."));
    let factor = Object::new(t::CONFIDENCE_FACTOR)
        .description("One reason for points of a confidence score.")
        .field(
            sync_field::<Factor>("signal", TypeRef::named_nn(t::CONFIDENCE_SIGNAL), |f| signal(f.signal))
                .description("The signal that counted (CLAMPED: the 0..100 bound)."),
        )
        .field(
            sync_field::<Factor>("effect", TypeRef::named_nn(TypeRef::INT), |f| int(f.effect))
                .description("Points added (negative: taken)."),
        )
        .field(
            sync_field::<Factor>("detail", TypeRef::named_nn(TypeRef::STRING), |f| s(&f.detail))
                .description("What was seen, in words."),
        );
    let version = score_fields(
        Object::new(t::CONFIDENCE_SCORE)
            .description("One version of a record's confidence score (its history)."),
        |v| v.downcast_ref::<Score>(),
    );
    let current = score_fields(
        Object::new(t::CONFIDENCE)
            .description("A pipeline record's confidence score (read-only, computed by the server) with the factors explaining every point."),
        |v| v.downcast_ref::<Shown>().map(|x| &x.score),
    )
    .field(sync_field::<Shown>("entity", TypeRef::named_nn(TypeRef::STRING), |x| s(&x.entity)).description("The pipeline entity's `nameSingular`."))
    .field(sync_field::<Shown>("recordId", TypeRef::named_nn(TypeRef::ID), |x| s(&x.score.record_id)).description("The pipeline record."))
    .field(
        Field::new("history", TypeRef::named_nn_list_nn(t::CONFIDENCE_SCORE), |c| {
            FieldFuture::new(async move {
                let shown = parent::<Shown>(&c)?;
                let (state, p) = (ctx::state(&c)?, ctx::principal(&c)?);
                let first = c.args.get("first").map(|v| v.i64()).transpose()?.map_or(HISTORY, |n| n.clamp(1, 100) as u64);
                let record = shown.score.record_id.clone();
                let versions = state
                    .in_tenant(&p.tenant_id, Txn::Read, async |txn| confidence::history(txn, &p.tenant_id, &record, first).await)
                    .await?;
                let hidden = shown.hidden;
                Ok(Some(FieldValue::list(versions.into_iter().map(|v| FieldValue::owned_any(v.as_read(hidden))))))
            })
        })
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)).description("How many versions, newest first (default 10, at most 100)."))
        .description("The record's scores, newest first: one version per change of the score, its factors or its stage."),
    );
    let band = Object::new(t::CONFIDENCE_BAND)
        .description("A band of scores and how the records that closed from it ended.")
        .field(
            sync_field::<Band>("from", TypeRef::named_nn(TypeRef::INT), |b| int(b.from))
                .description("Lowest score of the band."),
        )
        .field(
            sync_field::<Band>("to", TypeRef::named_nn(TypeRef::INT), |b| int(b.to))
                .description("Highest score of the band."),
        )
        .field(
            sync_field::<Band>("records", TypeRef::named_nn(TypeRef::INT), |b| int(b.records()))
                .description("Closed records whose last score before closing fell in the band."),
        )
        .field(
            sync_field::<Band>("won", TypeRef::named_nn(TypeRef::INT), |b| int(b.won))
                .description("Of them, those won."),
        )
        .field(
            sync_field::<Band>("lost", TypeRef::named_nn(TypeRef::INT), |b| int(b.lost))
                .description("Of them, those lost."),
        )
        .field(
            sync_field::<Band>("winRate", TypeRef::named(TypeRef::FLOAT), |b| b.win_rate().map(Value::from))
                .description("Won over closed, 0 to 1 (null when none closed from the band)."),
        );
    let weight = Object::new(t::CONFIDENCE_WEIGHT)
        .description("How many points a signal is worth, and when it holds.")
        .field(
            sync_field::<Weight>("signal", TypeRef::named_nn(t::CONFIDENCE_SIGNAL), |w| signal(w.signal))
                .description("The signal weighted."),
        )
        .field(
            sync_field::<Weight>("effect", TypeRef::named_nn(TypeRef::INT), |w| int(w.effect))
                .description("Points added when the signal holds (negative: taken)."),
        )
        .field(
            sync_field::<Weight>("threshold", TypeRef::named_nn(TypeRef::FLOAT), |w| {
                Some(Value::from(w.threshold))
            })
            .description("When the signal holds: days, times or a ratio (see the signal)."),
        )
        .field(
            sync_field::<Weight>("about", TypeRef::named_nn(TypeRef::STRING), |w| s(w.signal.about()))
                .description("What the signal is and what its threshold means."),
        );
    vec![
        signals.into(),
        events.into(),
        factor.into(),
        version.into(),
        current.into(),
        weight.into(),
        band.into(),
    ]
}

/// `ConfidenceWeightInput` (administrators' `setConfidenceWeights`).
pub fn weight_input() -> Vec<Type> {
    let input = InputObject::new(t::CONFIDENCE_WEIGHT_INPUT)
        .description("A weight to set (the signals not given keep theirs).")
        .field(
            InputValue::new("signal", TypeRef::named_nn(t::CONFIDENCE_SIGNAL))
                .description("A weighted signal (not CLAMPED)."),
        )
        .field(
            InputValue::new("effect", TypeRef::named_nn(TypeRef::INT))
                .description("Points, −100 to 100 (BASE: 0 to 100)."),
        )
        .field(
            InputValue::new("threshold", TypeRef::named_nn(TypeRef::FLOAT))
                .description("0 or more: days, times or a ratio (see the signal)."),
        );
    vec![input.into()]
}
