//! The GraphQL names of the Deal Confidence Meter: a pipeline record's score (`confidence`),
//! the tenant's weights (`confidenceWeights`, `setConfidenceWeights`), inbound signals
//! (`recordConfidenceSignal`) and calibration (`confidenceCalibration`). They join the
//! platform's taken names (`platform_type_names`, `platform_root_fields`), so no entity takes one.
//! The score on the pipeline record's own type (`RECORD_FIELD`) is a field of that type, not
//! a root field: a tenant's own field of that name keeps it (the schema builder leaves the
//! meter's out), and the score stays at the root `confidence(entity, id)`.

/// Type names.
pub mod types {
    pub const CONFIDENCE: &str = "Confidence";
    pub const CONFIDENCE_FACTOR: &str = "ConfidenceFactor";
    pub const CONFIDENCE_SCORE: &str = "ConfidenceScore";
    pub const CONFIDENCE_SIGNAL: &str = "ConfidenceSignal";
    pub const CONFIDENCE_EVENT: &str = "ConfidenceEvent";
    pub const CONFIDENCE_WEIGHT: &str = "ConfidenceWeight";
    pub const CONFIDENCE_WEIGHT_INPUT: &str = "ConfidenceWeightInput";
    pub const CONFIDENCE_BAND: &str = "ConfidenceBand";
}

/// Root field names.
pub mod fields {
    pub const CONFIDENCE: &str = "confidence";
    pub const CONFIDENCE_WEIGHTS: &str = "confidenceWeights";
    pub const SET_CONFIDENCE_WEIGHTS: &str = "setConfidenceWeights";
    pub const RECORD_CONFIDENCE_SIGNAL: &str = "recordConfidenceSignal";
    pub const CONFIDENCE_CALIBRATION: &str = "confidenceCalibration";
}

/// The read-only field of a pipeline record's type holding its current score (`deal.confidence`),
/// once the tenant turned the meter on.
pub const RECORD_FIELD: &str = "confidence";

/// Every type name above.
pub const TYPE_NAMES: &[&str] = &[
    types::CONFIDENCE,
    types::CONFIDENCE_FACTOR,
    types::CONFIDENCE_SCORE,
    types::CONFIDENCE_SIGNAL,
    types::CONFIDENCE_EVENT,
    types::CONFIDENCE_WEIGHT,
    types::CONFIDENCE_WEIGHT_INPUT,
    types::CONFIDENCE_BAND,
];

/// Every root field name above.
pub const ROOT_FIELDS: &[&str] = &[
    fields::CONFIDENCE,
    fields::CONFIDENCE_WEIGHTS,
    fields::SET_CONFIDENCE_WEIGHTS,
    fields::RECORD_CONFIDENCE_SIGNAL,
    fields::CONFIDENCE_CALIBRATION,
];
