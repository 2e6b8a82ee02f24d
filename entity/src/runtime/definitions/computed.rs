//! `updateField` of a computed field's definition: a FORMULA's expression (and result type),
//! a ROLLUP's function, measured field and filter. Both are checked like a new field's; a
//! formula change is also checked against every formula that reads it (one that would no
//! longer check refuses it, named). A rollup's new values are not computed here: the
//! definition change's own transaction recomputes every rollup field before it commits
//! (`Definitions::bump` → `rollup_fields::backfill`), so no reader ever sees the new
//! definition with the old values — a job afterwards would leave them readable meanwhile.

use serde_json::Value;

use super::input::UpdateFieldInput;
use super::stored::replace;
use super::validate::{formula_errors, formula_source};
use crate::FieldError;
use crate::runtime::meta::{EntityDef, FieldDef, TenantMeta};
use crate::runtime::rollup_fields::define;

/// Applies `input.formula` / `input.rollup` to `f` (the field as updated so far; `old` as it
/// is stored), reporting problems under `formula…` / `rollup…`.
pub(super) fn edit(
    errors: &mut Vec<FieldError>,
    meta: &TenantMeta,
    e: &EntityDef,
    old: &FieldDef,
    f: &mut FieldDef,
    input: &UpdateFieldInput,
) {
    let given = |v: &Option<Value>| v.as_ref().filter(|v| !v.is_null()).cloned();
    if let Some(v) = given(&input.formula) {
        if old.formula.is_none() {
            errors.push(FieldError::new("formula", "only FORMULA fields take a formula"));
        } else if let Some((ty, formula)) = formula_source(errors, &str::to_owned, Some(&v)) {
            f.ty = ty;
            f.formula = Some(formula);
            dependents(errors, meta, e, f);
        }
    }
    if let Some(v) = given(&input.rollup) {
        let Some(current) = &old.rollup else {
            errors.push(FieldError::new("rollup", "only ROLLUP fields take rollup"));
            return;
        };
        let Some(defined) = define::definition(errors, &str::to_owned, Some(&v), meta, &e.id) else { return };
        if defined.rollup.entity_id != current.entity_id {
            errors.push(FieldError::new("rollup.entity", "the child entity of a rollup does not change"));
        } else if defined.ty != old.ty {
            // Stored values, index slots and aggregate cells are kept per type: a new type is
            // a new field.
            errors.push(FieldError::new(
                "rollup",
                format!(
                    "the new definition's values are {}, the field's are {}: add a new field instead",
                    defined.ty.as_str(),
                    old.ty.as_str()
                ),
            ));
        } else {
            f.validation = defined.validation;
            f.rollup = Some(std::sync::Arc::new(defined.rollup));
        }
    }
}

/// The changed formula checks, and so does every formula reading it (of any entity).
fn dependents(errors: &mut Vec<FieldError>, meta: &TenantMeta, e: &EntityDef, f: &FieldDef) {
    let mut changed = e.clone();
    if let Some(slot) = changed.fields.iter_mut().find(|x| x.id == f.id) {
        *slot = f.clone();
    }
    let mut found = Vec::new();
    formula_errors(&mut found, &meta.entities, &replace(meta, changed), |entity_id, key| {
        let name = meta.entity_by_id(entity_id).map_or(entity_id, |x| x.name_singular.as_str());
        Some(if entity_id == e.id && key == f.key.as_str() { String::new() } else { format!("{name}.{key}") })
    });
    for x in found {
        errors.push(if x.field.is_empty() {
            FieldError::new("formula.expression", x.message)
        } else {
            FieldError::new(
                "formula",
                format!("the formula `{}` would no longer check: {}", x.field, x.message),
            )
        });
    }
}
