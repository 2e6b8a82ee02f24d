//! The stored and audited forms of a definition: the JSON columns `options` and `validation`
//! are written in, and the summaries an audit entry keeps of an entity or field change.

use std::sync::Arc;

use serde_json::Value;

use super::input::EntityInput;
use crate::Result;
use crate::runtime::formula;
use crate::runtime::meta::{EntityDef, FieldDef, TenantMeta, Validation};

/// What an audit entry keeps of an `EntityInput`.
pub(super) fn input_summary(input: &EntityInput) -> Value {
    serde_json::json!({
        "nameSingular": input.name_singular, "namePlural": input.name_plural,
        "labelSingular": input.label_singular, "labelPlural": input.label_plural,
        "recordNumberPrefix": input.record_number_prefix, "labels": input.labels,
        "fields": input.fields.iter().flatten().map(|f| serde_json::json!({"key": f.key, "type": f.ty})).collect::<Vec<_>>(),
    })
}

/// What an audit entry keeps of a field definition.
pub(super) fn field_summary(f: &FieldDef) -> Value {
    serde_json::json!({
        "label": f.label, "required": f.required, "unique": f.unique, "indexed": f.indexed,
        "personal": f.personal, "searchable": f.searchable, "mentions": f.mentions, "options": f.options, "default": f.default, "validation": f.validation, "labels": f.labels,
        "lifecycle": f.lifecycle,
        "optionLabels": f.option_labels,
        "formula": f.formula.as_ref().map(|x| &x.expression), "rollup": f.rollup.as_deref(),
    })
}

/// The proposed entity list with one entity swapped for its changed version.
pub(super) fn replace(meta: &TenantMeta, changed: EntityDef) -> Vec<Arc<EntityDef>> {
    meta.entities
        .iter()
        .map(|e| if e.id == changed.id { Arc::new(changed.clone()) } else { e.clone() })
        .collect()
}

pub(super) fn options_json(f: &FieldDef) -> Option<Value> {
    (!f.options.is_empty()).then(|| Value::from(f.options.clone()))
}

pub(super) fn validation_json(v: &Validation) -> Result<Option<Value>> {
    let json = serde_json::to_value(v)?;
    Ok(json.as_object().is_some_and(|o| !o.is_empty()).then_some(json))
}

pub(super) fn lifecycle_json(f: &FieldDef) -> Result<Option<Value>> {
    Ok(f.lifecycle.as_ref().map(serde_json::to_value).transpose()?)
}

/// Option translations restricted to `options` (`None` when nothing is left).
pub(super) fn kept_option_labels(labels: Option<Value>, options: &[String]) -> Option<Value> {
    let mut m = match labels {
        Some(Value::Object(m)) => m,
        _ => return None,
    };
    m.retain(|k, _| options.contains(k));
    (!m.is_empty()).then_some(Value::Object(m))
}

/// A FORMULA field's stored `{expression, resultType}`.
pub(super) fn formula_json(f: &FieldDef) -> Result<Option<Value>> {
    let Some(x) = &f.formula else { return Ok(None) };
    let source = formula::Source { expression: x.expression.clone(), result_type: f.ty.as_str().to_owned() };
    Ok(Some(serde_json::to_value(source)?))
}
