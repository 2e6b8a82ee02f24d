//! Checking a ROLLUP field's definition when it is added (`FieldInput` with `type: ROLLUP` and
//! `rollup: {entity, relation, function, field, filter}`): every problem is reported under
//! its input path (`rollup.relation`, `rollup.filter.amount.gt`, …), and what it is stored as
//! (the result type, its scale) is decided here.

use serde::Deserialize;
use serde_json::Value;

use super::{Function, Rollup};
use crate::Error;
use crate::FieldError;
use crate::runtime::definitions::input::{FieldInput, UpdateFieldInput};
use crate::runtime::filter::{Filter, Target};
use crate::runtime::meta::{FieldType, TenantMeta, Validation};

/// A checked rollup definition and how its values are stored.
pub(crate) struct Defined {
    pub rollup: Rollup,
    pub ty: FieldType,
    pub validation: Validation,
}

/// `FieldInput.rollup` as given: the child entity by name, its fields by key or GraphQL name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollupInput {
    entity: String,
    relation: String,
    function: String,
    field: Option<String>,
    filter: Option<Value>,
}

/// Refuses what constrains or supplies input: a rollup field's values are the engine's to write.
fn input_options(
    errors: &mut Vec<FieldError>,
    p: &dyn Fn(&str) -> String,
    required: Option<bool>,
    unique: Option<bool>,
    default: Option<&Value>,
    validation: Option<&Value>,
) {
    for (given, name) in [
        (required == Some(true), "required"),
        (unique == Some(true), "unique"),
        (default.is_some_and(|v| !v.is_null()), "default"),
        (validation.is_some_and(|v| !v.is_null()), "validation"),
    ] {
        if given {
            errors.push(FieldError::new(p(name), format!("ROLLUP fields are computed: they take no {name}")));
        }
    }
}

/// `updateField` of a ROLLUP field: its label, labels, `indexed` and definition (`rollup`,
/// checked by `definition`) may change, nothing else.
pub(crate) fn check_update(errors: &mut Vec<FieldError>, input: &UpdateFieldInput) {
    let same = |s: &str| s.to_owned();
    input_options(
        errors,
        &same,
        input.required,
        input.unique,
        input.default.as_ref(),
        input.validation.as_ref(),
    );
}

/// Checks a ROLLUP field's input against `meta` (`parent_id`: the entity it is added to);
/// `p` turns a member's name into its input path. `None` when it is refused.
pub(crate) fn check(
    errors: &mut Vec<FieldError>,
    p: &dyn Fn(&str) -> String,
    input: &FieldInput,
    meta: &TenantMeta,
    parent_id: &str,
) -> Option<Defined> {
    input_options(errors, p, input.required, input.unique, input.default.as_ref(), input.validation.as_ref());
    definition(errors, p, input.rollup.as_ref(), meta, parent_id)
}

/// Checks a rollup definition as given (`FieldInput.rollup`, or `UpdateFieldInput.rollup` of
/// an existing ROLLUP field) against `meta`. `None` when it is refused.
pub(crate) fn definition(
    errors: &mut Vec<FieldError>,
    p: &dyn Fn(&str) -> String,
    raw: Option<&Value>,
    meta: &TenantMeta,
    parent_id: &str,
) -> Option<Defined> {
    let before = errors.len();
    let Some(raw) = raw.filter(|v| !v.is_null()) else {
        errors.push(FieldError::new(
            p("rollup"),
            "ROLLUP fields need rollup {entity, relation, function, field, filter}",
        ));
        return None;
    };
    let spec: RollupInput = match serde_json::from_value(raw.clone()) {
        Ok(s) => s,
        Err(e) => {
            errors.push(FieldError::new(
                p("rollup"),
                format!("must be {{entity, relation, function, field, filter}}: {e}"),
            ));
            return None;
        }
    };
    let Some(child) = meta.entity_by_name(&spec.entity) else {
        errors.push(FieldError::new(p("rollup.entity"), format!("no entity named `{}`", spec.entity)));
        return None;
    };
    let of_child = |k: &str| child.field_by_key(k).or_else(|| child.field_by_graphql(k));
    let parent_name = meta.entity_by_id(parent_id).map_or("this entity", |e| e.name_singular.as_str());
    let relation = of_child(&spec.relation)
        .filter(|f| f.ty == FieldType::Relation && f.related_entity_id.as_deref() == Some(parent_id));
    if relation.is_none() {
        let m = format!("must be a RELATION field of `{}` pointing at `{parent_name}`", child.name_singular);
        errors.push(FieldError::new(p("rollup.relation"), m));
    }
    let function = Function::ALL.into_iter().find(|f| f.as_str() == spec.function);
    if function.is_none() {
        errors.push(FieldError::new(p("rollup.function"), "must be COUNT, SUM, MIN, MAX or AVG"));
    }
    let measure = match (&spec.field, function) {
        (None, Some(f)) if f != Function::Count => {
            errors.push(FieldError::new(p("rollup.field"), format!("{} needs a field", f.as_str())));
            None
        }
        (None, _) => None,
        (Some(k), _) => match of_child(k) {
            None => {
                errors.push(FieldError::new(
                    p("rollup.field"),
                    format!("no field `{k}` on `{}`", child.name_singular),
                ));
                None
            }
            // A rollup over a rollup would have to be kept current transitively: the grandparent
            // recomputed after the parent, in the child's write, with the lock order the
            // maintenance relies on (parents read in id order before the write) extended over
            // every level. Refused instead; a formula's value is never stored at all.
            Some(m) if m.is_computed() => {
                errors.push(FieldError::new(
                    p("rollup.field"),
                    format!(
                        "cannot roll up `{}`: it is a computed ({}) field; a rollup reads stored fields only",
                        m.key,
                        m.type_name()
                    ),
                ));
                None
            }
            Some(m) => {
                let numeric = matches!(m.ty, FieldType::Number | FieldType::Currency);
                let dated = matches!(m.ty, FieldType::Date | FieldType::Datetime);
                let fits = match function {
                    Some(Function::Sum | Function::Avg) => numeric,
                    Some(Function::Min | Function::Max) => numeric || dated,
                    Some(Function::Count) | None => true,
                };
                if !fits {
                    let takes = if matches!(function, Some(Function::Min | Function::Max)) {
                        "a NUMBER, CURRENCY, DATE or DATETIME field"
                    } else {
                        "a NUMBER or CURRENCY field"
                    };
                    let name = function.map_or("", Function::as_str);
                    errors.push(FieldError::new(p("rollup.field"), format!("{name} takes {takes}")));
                }
                Some(m)
            }
        },
    };
    let filter = spec.filter.as_ref().filter(|v| !v.is_null());
    if let Some(v) = filter {
        match Filter::parse(child, v) {
            Ok(f) => {
                if f.targets().iter().any(|t| matches!(t, Target::Field(f) if f.is_computed())) {
                    errors.push(FieldError::new(
                        p("rollup.filter"),
                        "cannot test a computed (ROLLUP or FORMULA) field",
                    ));
                }
            }
            Err(Error::Validation(found)) => {
                errors.extend(
                    found.into_iter().map(|e| FieldError::new(p(&format!("rollup.{}", e.field)), e.message)),
                );
            }
            Err(e) => errors.push(FieldError::new(p("rollup.filter"), e.to_string())),
        }
    }
    let (Some(relation), Some(function)) = (relation, function) else { return None };
    if errors.len() > before {
        return None;
    }
    let ty = match (function, measure) {
        (Function::Count, _) | (_, None) => FieldType::Number,
        (_, Some(m)) => m.ty,
    };
    let validation = match ty {
        FieldType::Currency => {
            Validation { scale: measure.and_then(|m| m.validation.scale), ..Validation::default() }
        }
        _ => Validation::default(),
    };
    let rollup = Rollup {
        entity_id: child.id.clone(),
        relation: relation.key.to_string(),
        function,
        field: measure.map(|m| m.key.to_string()),
        filter: filter.cloned(),
    };
    Some(Defined { rollup, ty, validation })
}
